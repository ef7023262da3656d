"""Idle WebSocket tunnels through one kubegate: how many it holds, at what RSS.

A minimal WebSocket backend (it completes the handshake and then ignores the connection)
runs on its own event loop in a thread of the harness; ``kubegate serve`` (the server CPU,
``--max-long-running-requests=0`` since every tunnel is a long-running request) proxies
``services/bench:80/proxy/ws`` to it (``--max-connections`` above N: the default 4096
counts tunnels too); the harness opens N TLS connections, sends each an
upgrade request as the admin, and keeps every one that got its 101. Client connections come
from 250 loopback source addresses (127.0.0.2-251) so no single source runs out of
ephemeral ports, and the file-descriptor limit is raised as far as the machine allows (the
harness holds two per tunnel, client and backend; so does the server, which inherits the
limit): a hard RLIMIT_NOFILE of 20,000 without CAP_SYS_RESOURCE caps one server at about
9,990 tunnels, whatever kubegate does, and the report shows that limit next to the count.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import resource
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.proxy_kubegate import KubegateServer, kubegate_server

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_PATH = "/api/v1/namespaces/default/services/bench:80/proxy/ws"
OPENING = 200  # handshakes in flight at once
SOURCES = 250
SETTLE = 2.0  # seconds held idle before RSS is read


def raise_fd_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE (soft and, as root, hard) to at least ``wanted``; the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, wanted)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class _Backend(asyncio.Protocol):
    """Answers ``GET /small`` (the harness's readiness probe) and completes handshakes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""
        self.upgraded = False

    def data_received(self, data: bytes) -> None:
        if self.upgraded:
            return  # an idle tunnel: frames (none are sent) would be ignored
        self.buffer += data
        head, sep, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            self.buffer = head
            return
        lines = head.decode("latin-1").split("\r\n")
        fields = {n.strip().lower(): v.strip() for n, _, v in (x.partition(":") for x in lines[1:])}
        key = fields.get("sec-websocket-key")
        if key and fields.get("upgrade", "").lower() == "websocket":
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
            )
            self.upgraded = True
            return
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")


class BackendThread:
    def __init__(self) -> None:
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="ws-backend", daemon=True)

    def __enter__(self) -> BackendThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the WebSocket backend did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        loop = self._loop = uvloop.new_event_loop()
        server = loop.run_until_complete(loop.create_server(_Backend, "127.0.0.1", 0, backlog=4096))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        server.close()
        loop.close()


async def _open_tunnels(
    server: KubegateServer, count: int
) -> tuple[list[asyncio.StreamWriter], list[str]]:
    host, port = server.url.removeprefix("https://").rsplit(":", 1)
    context = server.ssl_context()
    gate = asyncio.Semaphore(OPENING)
    writers: list[asyncio.StreamWriter] = []
    errors: list[str] = []

    async def open_one(i: int) -> None:
        async with gate:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        host, int(port), ssl=context, local_addr=(f"127.0.0.{2 + i % SOURCES}", 0)
                    ),
                    30,
                )
                key = base64.b64encode(secrets.token_bytes(16)).decode()
                writer.write(
                    f"GET {WS_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Authorization: Bearer {server.token}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n".encode()
                )
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            if head.split(b" ", 2)[1] != b"101":
                errors.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
                writer.transport.abort()
                return
            writers.append(writer)

    await asyncio.gather(*(open_one(i) for i in range(count)))
    return writers, errors


def hold_idle_websockets(
    workdir: Path, count: int, server_prefix: tuple[str, ...]
) -> dict[str, Any]:
    """Open ``count`` tunnels through a fresh server, hold them, read its RSS; the numbers."""
    limit = raise_fd_limit(4 * count + 4096)
    with (
        BackendThread() as backend,
        kubegate_server(
            workdir,
            backend.port,
            server_prefix,
            malloc_tuned=False,
            extra_args=(
                "--max-long-running-requests=0",
                f"--max-connections={count + 1000}",
                "--shutdown-grace=1",
            ),
        ) as server,
    ):
        pid = server.daemon.pid
        idle_rss = server.daemon.rss_kib()
        loop = uvloop.new_event_loop()
        try:
            started = time.perf_counter()
            writers, errors = loop.run_until_complete(_open_tunnels(server, count))
            opened = time.perf_counter() - started
            loop.run_until_complete(asyncio.sleep(SETTLE))
            rss = server.daemon.rss_kib()
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            server_limit = _open_file_limit(pid)
            for writer in writers:
                writer.transport.abort()
            loop.run_until_complete(asyncio.sleep(0.5))
        finally:
            loop.close()
    held = len(writers)
    print(f"  websockets: {held} held, server RSS {rss / 1024:.0f} MiB, {fds} fds", flush=True)
    return {
        "requested": count,
        "held": held,
        "errors": errors[:20],
        "error_count": len(errors),
        "open_seconds": opened,
        "idle_rss_kib": idle_rss,
        "rss_kib": rss,
        "per_tunnel_kib": (rss - idle_rss) / held if held else float("nan"),
        "server_fds": fds,
        "fd_limit": limit,
        "server_fd_limit": server_limit,
    }


def _open_file_limit(pid: int) -> int:
    """The process's soft "Max open files" (each tunnel costs the server two)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return 0
