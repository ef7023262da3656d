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
import os
import socket
import ssl
import stat
from collections.abc import Callable, Sequence

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
        # Told of every request this layer refuses before any handler runs (400, 408, 414,
        # 431, ...): (peer, status, message) -> extra CRLF-terminated header lines for the
        # answer (an Audit-Id). The application audits and counts them; it must not raise.
        self.on_reject: Callable[[tuple[str, int], int, str], bytes] | None = None

    async def start(
        self,
        host: str | Sequence[str] = "127.0.0.1",
        port: int = 0,
        *,
        reuse_port: bool = False,
    ) -> list[tuple[str, int]]:
        """Listen on ``host`` (a name, an address, or several) and ``port`` (0: a free one
        per host); returns the bound (host, port) pairs. ``reuse_port`` (SO_REUSEPORT) lets
        another process listen on the same port at the same time (a restart's handover)."""
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
                reuse_port=reuse_port or None,
                backlog=1024,
            )
            self._servers.append(server)
        return self.addresses

    async def start_unix(self, path: str) -> str:
        """Listen on a Unix socket at ``path``, created with mode 0600 (only this user may
        connect); a stale socket left there is replaced, any other file is an error."""
        if self._servers:
            raise RuntimeError("server already started")
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o077)  # no window in which the socket is open to others
        try:
            sock.bind(path)
        except BaseException:
            sock.close()
            raise
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        server = await asyncio.get_running_loop().create_unix_server(
            lambda: HTTPConnection(self), sock=sock, ssl=self.ssl_context, backlog=1024
        )
        self._servers.append(server)
        return path

    @property
    def sockets(self) -> list[socket.socket]:
        return [sock for server in self._servers for sock in server.sockets]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        names = [sock.getsockname() for sock in self.sockets]
        return [(name[0], name[1]) for name in names if isinstance(name, tuple)]  # not Unix

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
