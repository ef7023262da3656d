"""Real forward proxies for tests: pproxy (PyPI) as a subprocess on 127.0.0.1 port 0, speaking
HTTP CONNECT, HTTP CONNECT over TLS, or SOCKS5, optionally with a username and password.

pproxy logs every connection it carries (``-v``: ``http 127.0.0.1:A -> HOST:PORT``) and every
refusal (``Unauthorized HTTP from ...``); tests read that log to prove the traffic went
through the proxy. Its command line installs uvloop and then asks for a loop the old way,
which current uvloop refuses, so it is started with uvloop hidden from it; ``--auth 0`` turns
off its habit of trusting an address for 30 days after one good login.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from serverkit import stop_process

_RUNNER = (
    "import asyncio, sys\n"
    "sys.modules['uvloop'] = None\n"
    "asyncio.set_event_loop(asyncio.new_event_loop())\n"
    "import pproxy.server\n"
    "pproxy.server.main(sys.argv[1:])\n"
)
_SERVING = re.compile(r"^Serving on \S+ 127\.0\.0\.1:(\d+) by")


@dataclass
class ForwardProxyProcess:
    proc: subprocess.Popen[str]
    scheme: str  # http, https or socks5 (as a kubeconfig proxy-url names it)
    port: int
    log: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def url(self, credentials: str | None = None) -> str:
        userinfo = f"{credentials}@" if credentials else ""
        return f"{self.scheme}://{userinfo}127.0.0.1:{self.port}"

    def carried(self, port: int) -> int:
        """Connections the proxy opened to 127.0.0.1:``port`` so far."""
        return sum(1 for line in list(self.log) if line.endswith(f"-> 127.0.0.1:{port}"))

    def refusals(self) -> list[str]:
        return [line for line in list(self.log) if line.startswith("Unauthorized")]

    def stop(self) -> None:
        stop_process(self.proc)
        if self.thread is not None:
            self.thread.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_forward_proxy(
    scheme: str,
    *,
    credentials: str | None = None,
    tls_cert_pem: Path | None = None,
    timeout: float = 20,
) -> ForwardProxyProcess:
    """Start pproxy serving ``scheme`` (http, https needs ``tls_cert_pem``, socks5)."""
    listen = {"http": "http", "https": "http+ssl", "socks5": "socks5"}[scheme]
    uri = f"{listen}://127.0.0.1:0" + (f"#{credentials}" if credentials else "")
    cmd = [sys.executable, "-u", "-c", _RUNNER, "-l", uri, "-v", "--auth", "0"]
    if tls_cert_pem is not None:
        cmd += ["--ssl", str(tls_cert_pem)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    log: list[str] = []
    deadline = time.monotonic() + timeout
    port = 0
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        log.append(line.rstrip("\n"))
        if m := _SERVING.match(line):
            port = int(m.group(1))
            break
    if not port:
        proc.kill()
        proc.wait(5)
        raise RuntimeError("pproxy did not start:\n" + "\n".join(log))

    def drain() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            log.append(line.rstrip("\n"))

    thread = threading.Thread(target=drain, daemon=True, name="pproxy-output")
    thread.start()
    return ForwardProxyProcess(proc, scheme, port, log, thread)
