"""Idle WebSocket tunnels through one kubegate: how many it holds, at what RSS.

A minimal WebSocket backend (it completes the handshake and then ignores the connection)
runs on its own event loop in a thread of the harness; ``kubegate serve`` (the server CPU,
``--max-long-running-requests=0`` since every tunnel is a long-running request) proxies
``services/bench:80/proxy/ws`` to it (``--max-connections`` above N: the default 4096
counts tunnels too); the harness opens N TLS connections, sends each an
upgrade request as the admin, and keeps every one that got its 101. Client connections come
from 250 loopback source addresses (127.0.0.2-251) so no single source runs out of
ephemeral ports.

Descriptors: a tunnel costs the server two (client and backend connection) and the harness
two (its client end and the backend's end). Before starting the server the harness raises
its own RLIMIT_NOFILE, which the server inherits (and ``kubegate serve`` lifts its soft
limit to the hard one at start), to what N tunnels need plus headroom: the soft limit up to
the hard one always, the hard limit itself only with CAP_SYS_RESOURCE (root normally has it;
a container may drop it from its capability bounding set) and never past ``fs.nr_open``.
What it did, or why it could not, is printed and reported with the server's limit and the
tunnel count that limit allows: a hard limit of 20,000 that cannot be raised caps one server
at about 9,980 tunnels, whatever kubegate does.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from bench.proxy_kubegate import KubegateServer, kubegate_server

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_PATH = "/api/v1/namespaces/default/services/bench:80/proxy/ws"
OPENING = 200  # handshakes in flight at once
SOURCES = 250
SETTLE = 2.0  # seconds held idle before RSS is read
HEADROOM = 1024  # descriptors beyond two per tunnel (listeners, the store, logs, the pool)
CAP_SYS_RESOURCE = 24  # capability(7) bit number


@dataclass(frozen=True, slots=True)
class FdLimit:
    """This process's RLIMIT_NOFILE after ``raise_fd_limit``, and what was done to it."""

    wanted: int
    soft: int
    hard: int
    note: str


def raise_fd_limit(wanted: int) -> FdLimit:
    """Raise RLIMIT_NOFILE towards ``wanted``: the hard limit when permitted (capped at
    ``fs.nr_open``), then the soft limit up to the hard one. Processes started afterwards
    inherit both."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    note = f"not needed ({hard} >= {wanted})"
    if wanted > hard:
        ceiling = min(wanted, _nr_open())
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, ceiling))
        except (ValueError, OSError) as exc:
            note = f"not possible ({_why_not(exc)}); {hard} kept"
        else:
            note = f"raised from {hard} to {ceiling}"
            if ceiling < wanted:
                note += f" (fs.nr_open caps it below {wanted})"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(wanted, hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
        soft = min(wanted, hard)
    return FdLimit(wanted, soft, hard, note)


def _nr_open() -> int:
    try:
        return int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        return 1 << 20  # the kernel's default


def _why_not(exc: Exception) -> str:
    if os.geteuid() != 0:
        return "not running as root"
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:") and not (int(line.split()[1], 16) >> CAP_SYS_RESOURCE) & 1:
            return "root without CAP_SYS_RESOURCE"  # a container may drop it
    return str(exc)


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
    limit = raise_fd_limit(2 * count + HEADROOM)  # for this process and the server alike
    print(
        f"  websockets: need {limit.wanted} descriptors per process; raising the hard limit:"
        f" {limit.note};"
        f" open-file limit now {limit.soft} (hard {limit.hard})",
        flush=True,
    )
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
        idle_fds = len(os.listdir(f"/proc/{pid}/fd"))
        server_limit = _open_file_limit(pid)
        capacity = (server_limit - idle_fds) // 2  # two descriptors per tunnel
        if capacity < count:
            print(
                f"  websockets: the server's open-file limit {server_limit} ({idle_fds} in use"
                f" idle) allows about {capacity} tunnels, not {count}",
                flush=True,
            )
        loop = uvloop.new_event_loop()
        try:
            started = time.perf_counter()
            writers, errors = loop.run_until_complete(_open_tunnels(server, count))
            opened = time.perf_counter() - started
            loop.run_until_complete(asyncio.sleep(SETTLE))
            rss = server.daemon.rss_kib()
            fds = len(os.listdir(f"/proc/{pid}/fd"))
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
        "server_fds_idle": idle_fds,
        "fd_limit": limit.soft,
        "fd_hard_limit": limit.hard,
        "fd_limit_note": limit.note,
        "server_fd_limit": server_limit,
        "server_capacity": capacity,
    }


def _open_file_limit(pid: int) -> int:
    """The process's soft "Max open files" (each tunnel costs the server two)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return 0
