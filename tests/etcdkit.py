"""A real etcd for tests: the ``etcd`` binary (Debian's etcd-server) on loopback ports.

``EtcdServer`` starts etcd in its own data directory on free 127.0.0.1 ports, waits until it
answers ``/health``, and can be stopped, frozen (SIGSTOP), thawed and restarted on the same
data directory and ports, which is what the outage tests need.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from serverkit import stop_process

ETCD = shutil.which("etcd")
MISSING = "the etcd binary is not installed (apt-get install etcd-server; `make test` does)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class EtcdTLS:
    """PEM files for an etcd that serves TLS and requires client certificates."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


class EtcdServer:
    """One single-member etcd cluster owned by the test session."""

    def __init__(self, data_dir: Path, tls: EtcdTLS | None = None) -> None:
        if ETCD is None:
            raise RuntimeError(MISSING)
        self.data_dir = data_dir
        self.tls = tls
        self.client_port = 0
        self.peer_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = data_dir.parent / f"{data_dir.name}.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def url(self, prefix: str = "", **options: str) -> str:
        """An ``etcd://`` store URL for this server (``etcds://`` when it serves TLS)."""
        query = "&".join(f"{name}={value}" for name, value in options.items())
        scheme = "etcds" if self.tls else "etcd"
        return f"{scheme}://{self.endpoint}{prefix}" + (f"?{query}" if query else "")

    def start(self, timeout: float = 20) -> None:
        """Start etcd (on new ports the first time, the same ports after) and wait for it."""
        for attempt in range(3):
            if not self.client_port or attempt:
                self.client_port, self.peer_port = free_port(), free_port()
            self._spawn()
            if self._wait_healthy(timeout):
                return
            self.stop()
        raise RuntimeError(f"etcd did not become healthy:\n{self._log.read_text()[-3000:]}")

    def restart(self, timeout: float = 20) -> None:
        """Start again on the same data directory and ports after ``stop``."""
        self._spawn()
        if not self._wait_healthy(timeout):
            raise RuntimeError(f"etcd did not come back:\n{self._log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGCONT)  # a frozen etcd cannot act on SIGTERM
            stop_process(self.proc)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (the hang case)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def _spawn(self) -> None:
        assert ETCD is not None
        scheme = "https" if self.tls else "http"
        client = f"{scheme}://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        cmd = [
            ETCD,
            "--name=kubegate-test",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=kubegate-test={peer}",
            "--logger=zap",
            "--log-level=warn",
        ]
        if self.tls:
            cmd += [
                f"--cert-file={self.tls.server_cert}",
                f"--key-file={self.tls.server_key}",
                f"--trusted-ca-file={self.tls.ca}",
                "--client-cert-auth",
            ]
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def _wait_healthy(self, timeout: float) -> bool:
        context = None
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.tls.ca))
            context.load_cert_chain(self.tls.client_cert, self.tls.client_key)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False  # exited: most likely a port taken in the meantime
            with contextlib.suppress(OSError):
                url = f"{'https' if self.tls else 'http'}://{self.endpoint}/health"
                with urllib.request.urlopen(url, timeout=1, context=context) as response:
                    if b'"health":"true"' in response.read():
                        return True
            time.sleep(0.05)
        return False
