"""How a client connection ends and how its reading and writing are paced: the peer's EOF
and disconnect, write-buffer pressure, an upgrade detaching the socket, server shutdown and
aborts, and the close with lingering. Mixed into ``HTTPConnection`` (http/connection.py),
whose state it shares; the request machinery stays there.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kubegate.http.connection_states import (
    BODY,
    BUSY,
    CLOSED,
    DETACHED,
    IDLE,
    LINGER,
    T_ABORT,
    T_LINGER,
)
from kubegate.http.types import HTTPError

if TYPE_CHECKING:
    from kubegate.http.body import StreamBody
    from kubegate.http.head import RequestHead
    from kubegate.http.limits import Limits
    from kubegate.http.server import HTTPServer

# How long a shutdown waits for a TLS peer's close_notify before dropping the socket.
_SHUTDOWN_CLOSE_WAIT = 0.5


class ConnectionEnding:
    """The ending half of ``HTTPConnection``; these attributes are set by its ``__init__``."""

    transport: asyncio.Transport
    task: asyncio.Task[None] | None
    write_paused: bool
    cancel_on_disconnect: bool
    _server: HTTPServer
    _limits: Limits
    _loop: asyncio.AbstractEventLoop
    _state: int
    _tls: bool
    _head: RequestHead | None
    _body: StreamBody | None
    _buffer: bytearray
    _gone: asyncio.Future[None] | None
    _drain_waiter: asyncio.Future[None] | None
    _reading_paused: bool
    _peer_eof: bool
    _close_after: bool
    _dropped_input: bool

    if TYPE_CHECKING:  # provided by HTTPConnection and DeadlineTimer (never defined here:
        # this class precedes DeadlineTimer in HTTPConnection's bases)
        def _stop_receiving(self) -> None: ...
        def _set_deadline(self, kind: int, seconds: float) -> None: ...
        def _stop_timer(self) -> None: ...

    def eof_received(self) -> bool:
        # A client that shuts down its side is gone as far as a stream is concerned (as Go's
        # server sees it), but a request it finished sending still gets its response.
        self._peer_eof = True
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        if self.task is None:  # nothing in progress (or only an unread body being drained)
            return False
        if self._state == BODY and self._body is not None:
            self._body.fail(HTTPError(400, "incomplete request body"))
            self._stop_receiving()
        self._close_after = True
        return not self._tls  # keep the write side open (TLS cannot half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == DETACHED:
            return
        self._state = CLOSED
        self._stop_timer()
        if self._body is not None:
            self._body.fail(ConnectionResetError("client disconnected"))
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # drain() sees CLOSED and raises
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        if self.cancel_on_disconnect and self.task is not None and not self.task.done():
            # The application asked for it (a proxy exchange): nobody is left to answer, so
            # stop waiting on the backend now instead of at some timeout (security.md A38).
            self.task.cancel()
        if self.task is None:
            self._server.unregister(self)  # type: ignore[arg-type]  # always an HTTPConnection

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def closed(self) -> bool:
        return self._state >= LINGER

    async def drain(self) -> None:
        if self._state == CLOSED:
            raise ConnectionResetError("client disconnected")
        if not self.write_paused:
            return
        waiter = self._drain_waiter
        if waiter is None or waiter.done():
            waiter = self._drain_waiter = self._loop.create_future()
        timeout = self._limits.write_timeout
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            self._abort_transport()
            raise ConnectionAbortedError("client did not read within the write timeout") from None
        if self._state == CLOSED:
            raise ConnectionResetError("client disconnected")

    def gone(self) -> asyncio.Future[None]:
        if self._gone is None:
            self._gone = self._loop.create_future()
            if self._state == CLOSED or self._peer_eof:
                self._gone.set_result(None)
        return self._gone

    def detach(self) -> tuple[asyncio.Transport, bytes]:
        head = self._head
        if head is None or head.upgrade is None:
            raise RuntimeError("detach() is only for upgrade requests")
        if self._state >= LINGER:
            raise ConnectionResetError("client disconnected")
        self._state = DETACHED
        self._stop_timer()
        if not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()  # the new owner resumes after set_protocol()
        pending = bytes(self._buffer)
        self._buffer = bytearray()
        return self.transport, pending

    def begin_shutdown(self) -> None:
        """Server shutdown: close now if idle, else after the request in progress."""
        if self._state == IDLE:
            self._close()
            # A TLS close waits for the peer's close_notify; an idle client that never
            # sends it must not hold the whole shutdown for its grace period.
            self._set_deadline(T_ABORT, _SHUTDOWN_CLOSE_WAIT)
        elif self._state in (BODY, BUSY):
            self._close_after = True

    def abort(self) -> None:
        """Shutdown grace is over: stop the handler and drop the connection."""
        task = self.task
        if task is not None and not task.done():
            task.cancel()
        if self._state != DETACHED:
            self._abort_transport()

    # -- closing, reading and timers ------------------------------------------------------

    def _close(self, *, linger: bool = False) -> None:
        """Close after what was written. With input possibly still on its way (a body not
        read to its end, bytes dropped), first shut the write side and read and drop input
        for a moment: closing with unread input makes the kernel reset the connection, which
        can destroy the response before the client reads it (RFC 9112 §9.6)."""
        if self._state >= LINGER:
            return
        linger = linger or self._state == BODY or bool(self._buffer) or self._dropped_input
        self._state = LINGER
        self._buffer = bytearray()
        transport = self.transport
        if linger and transport.can_write_eof() and not self._peer_eof:
            self._resume_reading()
            transport.write_eof()
            self._set_deadline(T_LINGER, self._limits.linger_timeout)
        else:
            transport.close()

    def _abort_transport(self) -> None:
        if self._state not in (CLOSED, DETACHED):
            self._state = LINGER
            self.transport.abort()

    def _pause_reading(self) -> None:
        if not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self._state < DETACHED:
            self._reading_paused = False
            self.transport.resume_reading()
