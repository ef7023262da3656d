"""Backends on loopback in the test's event loop.

A :class:`Backend` records every request exactly as it arrived (method, raw request-target,
header fields in order and case, body digest) and counts connections; what it answers is a
handler coroutine, so one class serves as echo, redirector, event stream, hanging or
resetting server and sentinel. :class:`WebSocketBackend` is a WebSocket echo on the
``websockets`` server. Every backend answers ``/__ready`` itself (204, ``X-Ready: 1``, not
recorded): that is how a test learns that the proxy's watch-fed cache sees its objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.http11 import Request as WSRequest

from integration.proxy.client import Headers, header_values

LOOPBACK = "127.0.0.1"
READY_PATH = "/__ready"
BODY_KEEP = 1 << 20  # a backend keeps at most this much of a request body (it hashes all)


@dataclass
class Received:
    """One request as a backend received it."""

    method: str
    target: str  # the raw request-target
    headers: Headers  # names as sent (case kept), arrival order
    body: bytes  # the first BODY_KEEP bytes
    body_length: int
    body_sha256: str
    connection: int  # which connection of this backend (numbered from 1, never reused)

    def header(self, name: str) -> str | None:
        values = header_values(self.headers, name)
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        return header_values(self.headers, name)

    @property
    def names(self) -> set[str]:
        return {name.lower() for name, _ in self.headers}


class Exchange:
    """What a handler gets: the request, the raw streams, and helpers to answer."""

    def __init__(
        self,
        backend: Backend,
        request: Received,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.backend = backend
        self.request = request
        self.reader = reader
        self.writer = writer
        self.keep_alive = True

    async def respond(
        self,
        status: int = 200,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        reason: str = "X",
    ) -> None:
        head = [f"HTTP/1.1 {status} {reason}", *(f"{n}: {v}" for n, v in headers)]
        framed = {name.lower() for name, _ in headers} & {"content-length", "transfer-encoding"}
        if status not in (101, 204, 304) and not framed:
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def reset(self) -> None:
        """End the connection with a TCP RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.keep_alive = False


Handler = Callable[[Exchange], Awaitable[None]]


async def echo(exchange: Exchange) -> None:
    """Answer 200 with a JSON description of the request."""
    request = exchange.request
    doc = {
        "method": request.method,
        "target": request.target,
        "headers": request.headers,
        "body_length": request.body_length,
    }
    await exchange.respond(200, [("Content-Type", "application/json")], json.dumps(doc).encode())


class Backend:
    """A recording HTTP/1.1 server on loopback whose answers come from ``handler``."""

    def __init__(
        self,
        handler: Handler = echo,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self._bind_port = port
        self.ssl_context = ssl_context
        self.requests: list[Received] = []
        self.connections = 0  # accepted, ever (reset() clears)
        self.open = 0  # open right now
        self.closed: set[int] = set()  # numbers of the connections that have ended
        self._serial = 0  # connection numbers, never reused
        self.peer_closed = asyncio.Event()  # some connection saw the proxy close or reset it
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Condition()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> Backend:
        self._server = await asyncio.start_server(
            self._serve, self.host, self._bind_port, ssl=self.ssl_context, limit=1 << 20
        )
        return self

    def reset(self) -> None:
        self.requests.clear()
        self.connections = 0
        self.closed.clear()
        self.peer_closed.clear()

    def connection_ended(self, request: Received) -> bool:
        return request.connection in self.closed

    def targets(self) -> list[str]:
        return [r.target for r in self.requests]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        self.open += 1
        self._serial += 1
        number = self._serial
        await self._notify()
        try:
            while True:
                request = await self._read_request(reader, number)
                if request is None:
                    self.peer_closed.set()
                    break
                if request.target.startswith(READY_PATH):
                    exchange = Exchange(self, request, reader, writer)
                    await exchange.respond(204, [("X-Ready", "1")])
                    continue
                self.requests.append(request)
                await self._notify()
                exchange = Exchange(self, request, reader, writer)
                await self.handler(exchange)
                if not exchange.keep_alive or writer.transport.is_closing():
                    break
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            ssl.SSLError,
            asyncio.LimitOverrunError,
        ):
            self.peer_closed.set()
        except asyncio.CancelledError:
            pass  # close(): end quietly (the stream callback would log a cancelled task)
        finally:
            self.open -= 1
            self.closed.add(number)
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.transport.abort()
            self._tasks.discard(task)
            await self._notify()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader, number: int) -> Received | None:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return None
        lines = raw[:-4].decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ")
        headers: Headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
        digest = hashlib.sha256()
        kept = bytearray()
        length = 0

        def take(data: bytes) -> None:
            nonlocal length
            digest.update(data)
            length += len(data)
            if len(kept) < BODY_KEEP:
                kept.extend(data[: BODY_KEEP - len(kept)])

        te = ",".join(header_values(headers, "transfer-encoding")).lower()
        cl = header_values(headers, "content-length")
        if "chunked" in te:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                remaining = size
                while remaining:
                    data = await reader.read(min(remaining, 1 << 20))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", remaining)
                    take(data)
                    remaining -= len(data)
                await reader.readexactly(2)
        elif cl:
            remaining = int(cl[0])
            while remaining:
                data = await reader.read(min(remaining, 1 << 20))
                if not data:
                    raise asyncio.IncompleteReadError(b"", remaining)
                take(data)
                remaining -= len(data)
        return Received(method, target, headers, bytes(kept), length, digest.hexdigest(), number)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()


class WebSocketBackend:
    """A WebSocket echo server that records each handshake's request path (with query)."""

    def __init__(self, *, host: str = LOOPBACK, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.paths: list[str] = []
        self.handshake_headers: list[Headers] = []
        self.connections = 0
        self._server: Any = None

    async def start(self) -> WebSocketBackend:
        self._server = await ws_serve(
            self._echo, self.host, 0, ssl=self.ssl_context, process_request=self._process_request
        )
        return self

    @property
    def port(self) -> int:
        return int(next(iter(self._server.sockets)).getsockname()[1])

    def _process_request(self, connection: ServerConnection, request: WSRequest) -> Any:
        self.connections += 1
        if request.path.startswith(READY_PATH):
            response = connection.respond(200, "ready\n")
            response.headers["X-Ready"] = "1"
            return response
        self.paths.append(request.path)
        self.handshake_headers.append(list(request.headers.raw_items()))
        return None

    async def _echo(self, connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()


class Backends:
    """Starts backends for one test and closes them all at its end."""

    def __init__(self) -> None:
        self._started: list[Backend | WebSocketBackend] = []

    async def http(
        self,
        handler: Handler = echo,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Backend:
        backend = await Backend(handler, host=host, port=port, ssl_context=ssl_context).start()
        self._started.append(backend)
        return backend

    async def websocket(self, *, ssl_context: ssl.SSLContext | None = None) -> WebSocketBackend:
        backend = await WebSocketBackend(ssl_context=ssl_context).start()
        self._started.append(backend)
        return backend

    async def close(self) -> None:
        for backend in reversed(self._started):
            await backend.close()


def closed_port(host: str = LOOPBACK) -> int:
    """A port on ``host`` where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_tls(cert: Any) -> ssl.SSLContext:
    """A serving context for a trustme leaf certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context
