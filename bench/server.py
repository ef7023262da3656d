"""A fresh ``kubegate serve`` process for one benchmark run, started and stopped by pid.

The server gets its own session (``start_new_session``) so a Ctrl-C in the terminal reaches
only the harness, which then stops the server with SIGTERM like any other ending: the
server's graceful shutdown is part of what a run exercises. Should the harness be killed
outright, the kernel sends the server SIGTERM (``PR_SET_PDEATHSIG``). The server's stdout
and stderr go to ``server.log`` in the data dir, shown when something goes wrong.

:func:`start_process` and :func:`stop_process` are that lifecycle for any process the
harness starts (``bench.proxy_procs.Daemon`` too); :func:`serve_argv` is how every suite
starts ``kubegate serve``.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench.machine import Pinning, proc_cpu_seconds, proc_status_kib

LISTENING = re.compile(r"listening on (https://\S+)")
KUBECONFIG = re.compile(r"Admin kubeconfig: (\S+)")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the harness dies without stopping it (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # best effort; the normal path stops the server explicitly


class ServerFailed(RuntimeError):
    """The server under test did not start, or died during the run."""


def start_process(
    argv: Sequence[str], log_path: Path, env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """``argv`` in its own session, stdout and stderr to ``log_path``, SIGTERM when we die."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM, wait up to ``timeout`` (a graceful shutdown), then SIGKILL; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def serve_argv(
    data_dir: Path,
    store: str,
    *flags: str,
    prefix: Sequence[str] = (),
    profile: Path | None = None,
) -> list[str]:
    """``kubegate serve`` on a port it picks (``--secure-port 0``; its log says which) with
    its data in ``data_dir``; after ``prefix`` (taskset), under cProfile when ``profile``."""
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    return [
        *prefix,
        sys.executable,
        *profiler,
        "-m",
        "kubegate.cli.main",
        "serve",
        "--secure-port",
        "0",
        "--data-dir",
        str(data_dir),
        "--store",
        store,
        *flags,
    ]


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """How to start the server: a store URL template and its data dir."""

    data_dir: Path
    store: str  # "sqlite" or "memory"
    profile: Path | None = None  # write the server's cProfile stats here on shutdown
    startup_timeout: float = 60.0
    stop_timeout: float = 30.0

    def store_url(self) -> str:
        return "memory:" if self.store == "memory" else f"sqlite:{self.data_dir / 'state.db'}"


class KubegateProcess:
    """``with KubegateProcess(spec, pinning) as server:`` — a running server, always stopped."""

    def __init__(self, spec: ServerSpec, pinning: Pinning) -> None:
        self.spec = spec
        self.pinning = pinning
        self.url = ""
        self.kubeconfig = ""
        self.log_path = spec.data_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ServerFailed("server not started")
        return self._proc.pid

    def __enter__(self) -> KubegateProcess:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self) -> None:
        self.spec.data_dir.mkdir(parents=True, exist_ok=True)
        command = serve_argv(
            self.spec.data_dir,
            self.spec.store_url(),
            prefix=self.pinning.server_prefix(),
            profile=self.spec.profile,
        )
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._proc = start_process(command, self.log_path, env)
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        """Poll the log for the two lines the server prints once it serves requests."""
        assert self._proc is not None
        deadline = time.monotonic() + self.spec.startup_timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            url, kubeconfig = LISTENING.search(text), KUBECONFIG.search(text)
            if url and kubeconfig:
                self.url, self.kubeconfig = url.group(1), kubeconfig.group(1)
                return
            if self._proc.poll() is not None:
                raise ServerFailed(f"server exited with {self._proc.returncode} (see server.log)")
            time.sleep(0.05)
        raise ServerFailed(
            f"server not listening after {self.spec.startup_timeout:.0f} s (see server.log)"
        )

    def stop(self) -> int | None:
        """SIGTERM, wait for the graceful shutdown, SIGKILL past the timeout; the exit code."""
        if self._proc is None:
            return None
        return stop_process(self._proc, self.spec.stop_timeout)

    def check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise ServerFailed("server is not running (see server.log)")

    def ssl_context(self) -> ssl.SSLContext:
        """Trust the run's CA and present the admin client certificate (system:masters)."""
        data = self.spec.data_dir
        context = ssl.create_default_context(cafile=str(data / "ca.crt"))
        context.load_cert_chain(str(data / "admin.crt"), str(data / "admin.key"))
        return context

    def rss_mib(self) -> float:
        return proc_status_kib(self.pid, "VmRSS") / 1024

    def hwm_mib(self) -> float:
        return proc_status_kib(self.pid, "VmHWM") / 1024

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)
