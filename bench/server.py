"""A fresh ``kubegate serve`` process for one benchmark run, started and stopped by pid.

The server gets its own session (``start_new_session``) so a Ctrl-C in the terminal reaches
only the harness, which then stops the server with SIGTERM like any other ending: the
server's graceful shutdown is part of what a run exercises. Should the harness be killed
outright, the kernel sends the server SIGTERM (``PR_SET_PDEATHSIG``). The server's stdout
and stderr go to ``server.log`` in the data dir, shown when something goes wrong.
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
        profiler = ["-m", "cProfile", "-o", str(self.spec.profile)] if self.spec.profile else []
        command = [
            *self.pinning.server_prefix(),
            sys.executable,
            *profiler,
            "-m",
            "kubegate.cli.main",
            "serve",
            "--secure-port",
            "0",
            "--data-dir",
            str(self.spec.data_dir),
            "--store",
            self.spec.store_url(),
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
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
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.spec.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return proc.returncode

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
