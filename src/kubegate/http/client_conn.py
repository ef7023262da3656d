"""One backend connection: an asyncio Protocol that reads responses and guards the socket.

States: IDLE (in the pool, or new), WAITING (a request is out, its response head not yet
in), BODY (the response body arriving), DONE (the response complete, the request body maybe
still going out), SWITCHED (a 101 answered an upgrade: bytes are no longer HTTP), DETACHED
(the transport was handed over) and CLOSED.

Any byte or EOF from the backend while IDLE (or after a complete response) makes the
connection unusable: a backend has nothing to say between requests, and reusing it would
pair the next request with a stale answer. The pool hears of every close through
``UpstreamSlot.forget``.

Timeouts are one ``call_at`` handle per connection with a movable deadline
(http/deadline.py), never a task per timer: while the request body goes out,
``idle_timeout`` per write progress; once it is out, ``response_header_timeout`` until the
head; while the body arrives, ``idle_timeout`` between reads (suspended while the consumer
holds us paused).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kubegate.http.client import UpstreamError
from kubegate.http.client_reading import ResponseReading, resolve_waiter
from kubegate.http.client_response import UpstreamResponse
from kubegate.http.client_states import (
    BODY,
    CLOSED,
    DETACHED,
    DONE,
    IDLE,
    SWITCHED,
    T_BODY,
    T_HEAD,
    T_WRITE,
    WAITING,
)
from kubegate.http.deadline import DeadlineTimer

if TYPE_CHECKING:
    from kubegate.http.framing import ChunkedDecoder
    from kubegate.http.pool import UpstreamSlot


class UpstreamConnection(ResponseReading, DeadlineTimer, asyncio.Protocol):
    __slots__ = (
        "_buffer",
        "_continue_waiter",
        "_decoder",
        "_drain_waiter",
        "_got_continue",
        "_head_bytes",
        "_head_request",
        "_head_waiter",
        "_loop",
        "_lost",
        "_reading_paused",
        "_remaining",
        "_upgrade",
        "_write_paused",
        "error",
        "idle_since",
        "keep_alive",
        "pooled",
        "request_complete",
        "response",
        "response_started",
        "reused",
        "slot",
        "state",
        "transport",
    )

    def __init__(self, slot: UpstreamSlot, *, pooled: bool = True) -> None:
        self.slot = slot
        self.pooled = pooled  # False for upgrades: never returned to the pool
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.state = IDLE
        self.reused = False  # taken from the pool for the current request
        self.idle_since = 0.0
        self.error: BaseException | None = None
        self._lost: asyncio.Future[None] = self._loop.create_future()
        # the current exchange
        self.keep_alive = False
        self.request_complete = False
        self.response_started = False  # a byte of the response has arrived
        self.response: UpstreamResponse | None = None
        self._head_request = False
        self._upgrade = False
        self._head_waiter: asyncio.Future[UpstreamResponse] | None = None
        self._continue_waiter: asyncio.Future[bool] | None = None
        self._got_continue = False
        self._buffer = bytearray()  # an incomplete head, or bytes after a 101 head
        self._head_bytes = 0
        self._decoder: ChunkedDecoder | None = None
        self._remaining = 0  # Content-Length bytes still due; -1: until EOF
        # flow control
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # the one timer
        self._deadline = 0.0
        self._deadline_kind = T_HEAD
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == BODY:
            self._receive_body(data, 0)
        elif state == WAITING:
            self._receive_head(data)
        elif state == SWITCHED:
            self._buffer += data
        elif state != CLOSED:
            self._unsolicited()

    def eof_received(self) -> bool:
        if self.state == BODY and self._remaining < 0:
            self._complete(b"", 0)  # a close-delimited body ends here (RFC 9112 §6.3)
        elif self.state in (WAITING, BODY):
            self._fail(UpstreamError("reset", self._ended_message()))
        else:
            self.keep_alive = False
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        state = self.state
        if state == DETACHED:
            return
        self._stop_timer()
        if state == SWITCHED:
            # Closed right after its 101: still handed over (with what it sent meanwhile);
            # the new owner sees a closing transport.
            self.slot.forget(self)
            _resolve_none(self._lost)
            return
        if state == BODY and self._remaining < 0 and exc is None and self.error is None:
            self._complete(b"", 0)  # a close-delimited body ends with the connection
        elif state in (WAITING, BODY):
            self._fail(UpstreamError("reset", self._ended_message(exc)))
        self.state = CLOSED
        self.keep_alive = False
        self._wake_drain()
        resolve_waiter(self._continue_waiter, False)
        self.slot.forget(self)
        _resolve_none(self._lost)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain()

    # -- the request side (driven by the pool and client_send) ------------------------------

    def begin(
        self, *, head_request: bool = False, upgrade: bool = False
    ) -> asyncio.Future[UpstreamResponse]:
        """Start an exchange; the future resolves to the response once its head is in."""
        self.state = WAITING
        self.keep_alive = False
        self.request_complete = False
        self.response_started = False
        self.response = None
        self._head_request = head_request
        self._upgrade = upgrade
        self._got_continue = False
        self._head_bytes = 0
        self._decoder = None
        self._remaining = 0
        waiter: asyncio.Future[UpstreamResponse] = self._loop.create_future()
        self._head_waiter = waiter
        return waiter

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def writelines(self, data: list[bytes] | tuple[bytes, ...]) -> None:
        self.transport.writelines(data)

    @property
    def writable(self) -> bool:
        return self.state < SWITCHED and self.error is None and not self.transport.is_closing()

    async def drain(self) -> None:
        """Wait while the socket's write buffer is over the high-water mark; raises the
        connection's error if it failed meanwhile."""
        if self.error is not None:
            raise self.error
        if not self._write_paused:
            if self.state == WAITING:
                self._set_deadline(T_WRITE, self.slot.idle_timeout)
            return
        while self._write_paused and self.error is None and self.state < SWITCHED:
            if self.state == WAITING:
                self._set_deadline(T_WRITE, self.slot.idle_timeout)
            waiter = self._drain_waiter = self._loop.create_future()
            await waiter
        if self.error is not None:
            raise self.error
        if self.state >= SWITCHED or self.transport.is_closing():
            raise UpstreamError("reset", "connection closed while sending the request")

    def awaiting_source(self) -> None:
        """The request body's source is slow, not the backend: no deadline meanwhile."""
        if self.state == WAITING:
            self._deadline = 0.0

    async def wait_continue(self, patience: float) -> bool:
        """After a head with ``Expect: 100-continue``: True once the backend says 100, or
        after ``patience`` seconds (send anyway, RFC 9110 §10.1.1); False if a final
        response came first (then the body is not sent)."""
        if self._got_continue:
            return True
        if self.state != WAITING:
            return False
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._continue_waiter = waiter
        timer = self._loop.call_later(patience, resolve_waiter, waiter, True)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._continue_waiter = None

    def request_sent(self) -> None:
        """The whole request is out (or, after a final answer to 100-continue, never will
        be): wait for the head, or, if the response is already complete, end the exchange."""
        self.request_complete = True
        if self.state == WAITING:
            self._set_deadline(T_HEAD, self.slot.response_header_timeout)
        elif self.state == DONE:
            self.slot.release(self)

    def request_failed(self, error: BaseException) -> None:
        """The request body could not be sent whole: the exchange is over."""
        self._fail(error)

    def abort(self) -> None:
        """Drop the connection now (a body left unread, a request abandoned); whoever
        still waits on the exchange hears of it."""
        self.keep_alive = False
        state = self.state
        if state == WAITING or state == BODY:
            self._fail(UpstreamError("reset", "connection aborted"))
        elif state != DETACHED and state != CLOSED and self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close after what was written (the backend sees EOF)."""
        self.keep_alive = False
        if self.state != DETACHED and self.state != CLOSED and self.transport is not None:
            self.transport.close()

    @property
    def lost(self) -> asyncio.Future[None]:
        """Done once the connection is closed (or handed over)."""
        return self._lost

    def detach(self) -> tuple[asyncio.Transport, bytes]:
        """Hand over the transport of a switched (101) connection, reading paused."""
        if self.state != SWITCHED:
            raise RuntimeError("detach() is only for a connection switched by 101")
        self.state = DETACHED
        self._stop_timer()
        self.slot.forget(self)
        _resolve_none(self._lost)
        buffered = bytes(self._buffer)
        self._buffer = bytearray()
        return self.transport, buffered

    def body_drained(self) -> None:
        """The consumer took enough of the body: read again."""
        if self._reading_paused:
            self._reading_paused = False
            if self.state == BODY:
                self._set_deadline(T_BODY, self.slot.idle_timeout)
                self.transport.resume_reading()

    def reset_for_pool(self) -> None:
        """Back to IDLE in the pool: reading on, to notice a close or stray bytes at once."""
        self.state = IDLE
        self.response = None
        self._deadline = 0.0
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    def _fail(self, error: BaseException) -> None:
        """End the exchange with ``error``: everyone waiting hears it, the socket goes."""
        if self.error is None:
            self.error = error
        self.keep_alive = False
        waiter = self._head_waiter
        if waiter is not None:
            self._head_waiter = None
            if not waiter.done():
                waiter.set_exception(error)
        response = self.response
        if response is not None:
            response.fail(error)
        resolve_waiter(self._continue_waiter, False)
        self._wake_drain()
        self._deadline = 0.0
        if self.state != DETACHED and self.state != CLOSED:
            self.transport.abort()

    def _ended_message(self, exc: Exception | None = None) -> str:
        if self.state == BODY:
            what = "connection closed before the response body was complete"
        else:
            what = "connection closed before a response was received"
        return f"{what}: {exc}" if exc else what

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the timer ------------------------------------------------------------------------

    def _timing_over(self) -> bool:
        return self.state >= DETACHED

    def _deadline_passed(self, kind: int) -> None:
        if kind == T_HEAD:
            message = "timeout awaiting response headers"
        elif kind == T_BODY:
            message = "timeout awaiting response body"
        else:
            message = "timeout writing the request body"
        self._fail(UpstreamError("timeout", message))


def _resolve_none(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
