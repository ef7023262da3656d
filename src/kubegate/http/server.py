"""The HTTP/1.1 server: listening sockets, the set of live connections, graceful shutdown.

Lifecycle::

    server = HTTPServer(handler, Limits(), ssl_context=None)
    addresses = await server.start("127.0.0.1", 0)   # [(host, port)]
    ...
    await server.shutdown(grace=10.0)

``shutdown`` sets ``server.closing`` (long-running handlers such as watches await it to end
their stream cleanly), stops accepting, closes idle connections at once, lets requests in
flight finish for up to ``grace`` seconds, then cancels their handlers and drops the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Sequence

from kubegate.http.connection import HTTPConnection
from kubegate.http.limits import Limits
from kubegate.http.types import Handler

_DEFAULT_LIMITS = Limits()


class HTTPServer:
    def __init__(
        self,
        handler: Handler,
        limits: Limits = _DEFAULT_LIMITS,
        ssl_context: ssl.SSLContext | None = None,
        server_header: str | None = None,
    ) -> None:
        if server_header is not None and ("\r" in server_header or "\n" in server_header):
            raise ValueError("CR or LF in server_header")
        self.handler = handler
        self.limits = limits
        self.ssl_context = ssl_context
        self.server_header_line = f"Server: {server_header}\r\n" if server_header else ""
        self.closing = asyncio.Event()
        self._servers: list[asyncio.Server] = []
        self._connections: set[HTTPConnection] = set()
        self._all_closed: asyncio.Future[None] | None = None

    async def start(
        self, host: str | Sequence[str] = "127.0.0.1", port: int = 0
    ) -> list[tuple[str, int]]:
        """Listen on ``host`` (a name, an address, or several) and ``port`` (0: a free one
        per host); returns the bound (host, port) pairs."""
        if self._servers:
            raise RuntimeError("server already started")
        loop = asyncio.get_running_loop()
        hosts = [host] if isinstance(host, str) else list(host)
        for name in hosts:
            server = await loop.create_server(
                lambda: HTTPConnection(self),
                name,
                port,
                ssl=self.ssl_context,
                ssl_handshake_timeout=self.limits.header_timeout if self.ssl_context else None,
                reuse_address=True,
                backlog=1024,
            )
            self._servers.append(server)
        return self.addresses

    @property
    def sockets(self) -> list[socket.socket]:
        return [sock for server in self._servers for sock in server.sockets]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(sock.getsockname()[0], sock.getsockname()[1]) for sock in self.sockets]

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def shutdown(self, grace: float = 10.0) -> None:
        self.closing.set()
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            conn.begin_shutdown()
        if self._connections:
            self._all_closed = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(grace):
                    await self._all_closed
            except TimeoutError:
                pass
        tasks = []
        for conn in list(self._connections):
            if conn.task is not None:
                tasks.append(conn.task)
            conn.abort()
        if tasks:
            # Cancelled handlers get a moment to unwind, so that no task outlives shutdown.
            await asyncio.wait(tasks, timeout=max(grace, 1.0))
        for server in self._servers:
            # Python 3.12+ waits here for every connection, detached tunnels included, and
            # those belong to the application now: give it a moment, not a hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await server.wait_closed()

    # -- called by connections ----------------------------------------------------------

    def register(self, conn: HTTPConnection) -> bool:
        if self.closing.is_set() or len(self._connections) >= self.limits.max_connections:
            return False
        self._connections.add(conn)
        return True

    def unregister(self, conn: HTTPConnection) -> None:
        self._connections.discard(conn)
        waiter = self._all_closed
        if not self._connections and waiter is not None and not waiter.done():
            waiter.set_result(None)
