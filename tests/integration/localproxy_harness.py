"""Local proxies as subprocesses (``kubegate proxy`` or the pinned ``kubectl proxy``) on a free
port, found by parsing kubectl's ``Starting to serve on ADDRESS`` line, and one-shot requests
through them with the raw client of the proxy suite (bytes out exactly as given)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from integration.proxy.client import Connection, Response, request_bytes
from serverkit import kubectl_binary, stop_process

STARTING = re.compile(r"^Starting to serve on (\S+)$")
DEMO = "/api/v1/namespaces/kube-system/services"


@dataclass
class LocalProxyProcess:
    proc: subprocess.Popen[str]
    address: str  # host:port, or the Unix socket path
    token: str | None
    stdout: list[str]
    stderr: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    @property
    def host_header(self) -> str:
        """What curl sends for http://localhost:PORT/ (accepted by the default filter)."""
        return f"localhost:{self.port}"

    def stop(self) -> int:
        stop_process(self.proc)
        for thread in self.threads:
            thread.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode

    async def open(self) -> Connection:
        if self.address.startswith("/"):
            reader, writer = await asyncio.open_unix_connection(self.address)
            return Connection(reader, writer)
        return await Connection.open(self.host, self.port)

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        *,
        host: str | None = None,
    ) -> Response:
        """One request on a fresh connection; the whole response."""
        async with await self.open() as conn:
            await conn.send(
                request_bytes(method, target, host or self.host_header, headers or [], body)
            )
            async with asyncio.timeout(30):
                return await conn.read_response(method)


def _drain(stream, sink: list[str]) -> threading.Thread:  # type: ignore[no-untyped-def]
    def run() -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    thread = threading.Thread(target=run, daemon=True, name="proxy-output")
    thread.start()
    return thread


def _start(cmd: list[str], timeout: float) -> LocalProxyProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    stderr: list[str] = []
    err_thread = _drain(proc.stderr, stderr)
    stdout: list[str] = []
    token = None
    deadline = time.monotonic() + timeout
    address = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        stdout.append(line.rstrip("\n"))
        if m := re.match(r"^Proxy token: (\S+)$", line.strip()):
            token = m.group(1)
        if m := STARTING.match(line.strip()):
            address = m.group(1)
            break
    if not address:
        proc.kill()
        proc.wait(5)
        err_thread.join(5)
        raise RuntimeError(f"proxy did not start: {stdout}\n" + "\n".join(stderr))
    out_thread = _drain(proc.stdout, stdout)
    return LocalProxyProcess(proc, address, token, stdout, stderr, [err_thread, out_thread])


def start_kubegate_proxy(kubeconfig: str, *args: str, timeout: float = 30) -> LocalProxyProcess:
    """``kubegate proxy --kubeconfig K -p 0 ARGS`` (``-p`` left out when ARGS choose)."""
    port = (
        []
        if any(a in ("-p", "--port", "--local-port", "-u", "--unix-socket") for a in args)
        else ["-p", "0"]
    )
    cmd = [sys.executable, "-m", "kubegate.cli.main", "proxy", "--kubeconfig", kubeconfig]
    return _start([*cmd, *port, *args], timeout)


def start_kubectl_proxy(kubeconfig: str, *args: str, timeout: float = 30) -> LocalProxyProcess:
    """The pinned ``kubectl proxy --kubeconfig K -p 0 ARGS``."""
    port = [] if any(a in ("-p", "--port", "-u", "--unix-socket") for a in args) else ["-p", "0"]
    cmd = [kubectl_binary(), "proxy", "--kubeconfig", kubeconfig]
    return _start([*cmd, *port, *args], timeout)
