"""One client connection: an asyncio Protocol driving heads, bodies, handlers and timeouts.

States: IDLE (between requests, parsing the next head), BODY (receiving the current
request's body), BUSY (the request is fully received and its handler still runs), LINGER
(closing: the response is out, the write side shut, input read and dropped for a moment so
that a client still sending does not get a reset that destroys the response), DETACHED (an
upgrade took the socket) and CLOSED.

One request at a time: bytes after the current request stay unparsed in ``_buffer`` (reading
pauses past ``Limits.pipeline_buffer``) and are parsed only when its handler is done, so
pipelined requests are answered strictly in order and a refused request ends the connection
before the next one is looked at. One handler task per request is the only task; timeouts
are one ``call_at`` handle per connection with a movable deadline (http/deadline.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from kubegate.http.body import NO_BODY, ZERO_LENGTH_BODY, StreamBody
from kubegate.http.deadline import DeadlineTimer
from kubegate.http.framing import CONTINUE_RESPONSE, ChunkedDecoder, error_response
from kubegate.http.head import HeadParser, RequestHead
from kubegate.http.types import Body, HTTPError, Request
from kubegate.http.writer import ConnectionWriter

if TYPE_CHECKING:
    from kubegate.http.server import HTTPServer

log = logging.getLogger("kubegate.http")

_IDLE, _BODY, _BUSY, _LINGER, _DETACHED, _CLOSED = range(6)
_T_HEADER, _T_BODY, _T_KEEPALIVE, _T_LINGER, _T_ABORT = range(5)
# How long a shutdown waits for a TLS peer's close_notify before dropping the socket.
_SHUTDOWN_CLOSE_WAIT = 0.5


class HTTPConnection(DeadlineTimer, asyncio.Protocol):
    def __init__(self, server: HTTPServer) -> None:
        self._server = server
        self._limits = limits = server.limits
        self._loop = asyncio.get_running_loop()
        self.server_header = server.server_header_line
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._state = _IDLE
        self._heads = HeadParser(limits)
        self._buffer = bytearray()  # received, not yet parsed (pipelined or tunnelled bytes)
        self._buffering = True  # keep bytes after the current request (else drop them)
        self._peer: tuple[str, int] = ("", 0)
        self._tls = False
        self._peer_cert: dict | None = None  # type: ignore[type-arg]
        self._peer_cert_der: bytes | None = None
        # the current request
        self._head: RequestHead | None = None
        self._body: StreamBody | None = None
        self._decoder: ChunkedDecoder | None = None
        self._body_remaining = 0
        self._writer: ConnectionWriter | None = None
        self.task: asyncio.Task[None] | None = None
        self._close_after = False
        self._continue_sent = False
        self._drain_limit = 0  # body bytes after which draining an unread body gives up
        self._peer_eof = False
        self._dropped_input = False  # input after the last request was read and dropped
        # flow control
        self._reading_paused = False
        self.write_paused = False  # the transport's buffer is full (read by the writer)
        self._drain_waiter: asyncio.Future[None] | None = None
        self._gone: asyncio.Future[None] | None = None
        self.cancel_on_disconnect = False  # set per request by ResponseWriter.cancel_on_disconnect()
        # the one timer
        self._deadline = 0.0
        self._deadline_kind = _T_HEADER
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self._server.register(self):
            self._state = _CLOSED
            transport.close()  # over max_connections
            return
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self._peer = (peer[0], peer[1])
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self._tls = True
            self._peer_cert = ssl_object.getpeercert() or None
            self._peer_cert_der = ssl_object.getpeercert(binary_form=True)
        self._set_deadline(_T_HEADER, self._limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        state = self._state
        if state == _IDLE:  # (bytes kept in _buffer are all parsed when IDLE begins)
            self._receive_head(data)
        elif state == _BODY:
            self._receive_body(data, 0)
        elif state == _BUSY:
            self._stash(data, 0)
        # LINGER drops input; DETACHED and CLOSED never see any

    def eof_received(self) -> bool:
        # A client that shuts down its side is gone as far as a stream is concerned (as Go's
        # server sees it), but a request it finished sending still gets its response.
        self._peer_eof = True
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        if self.task is None:  # nothing in progress (or only an unread body being drained)
            return False
        if self._state == _BODY and self._body is not None:
            self._body.fail(HTTPError(400, "incomplete request body"))
            self._stop_receiving()
        self._close_after = True
        return not self._tls  # keep the write side open (TLS cannot half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == _DETACHED:
            return
        self._state = _CLOSED
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
            self._server.unregister(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- heads ----------------------------------------------------------------------------

    def _receive_head(self, data: bytes | bytearray) -> None:
        try:
            pos, head = self._heads.feed(data, 0)
        except HTTPError as exc:
            self._reject(exc.status, exc.message)
            return
        if head is None:
            if self._deadline_kind != _T_HEADER or not self._deadline:
                self._set_deadline(_T_HEADER, self._limits.header_timeout)  # slowloris bound
            return
        self._heads.reset()
        self._start_request(head)
        if pos < len(data):
            if self._state == _BODY:
                self._receive_body(data, pos)
            else:
                self._stash(data, pos)

    def _start_request(self, head: RequestHead) -> None:
        limits = self._limits
        self._head = head
        self._close_after = False
        self._continue_sent = False
        body: Body
        if head.chunked or head.content_length:
            self._body = stream = StreamBody(self, head.content_length, limits.body_buffer // 4)
            if head.chunked:
                self._decoder = ChunkedDecoder(
                    limits.max_chunk_ext,
                    limits.max_header_line,
                    limits.max_header_bytes,
                    limits.max_headers,
                )
            else:
                self._body_remaining = head.content_length  # type: ignore[assignment]
            self._state = _BODY
            self._set_deadline(_T_BODY, limits.body_idle_timeout)
            body = stream
        else:
            body = NO_BODY if head.content_length is None else ZERO_LENGTH_BODY
            self._state = _BUSY
            self._deadline = 0.0
        self._buffering = head.keep_alive or head.upgrade is not None
        request = Request(
            head.method,
            head.target,
            head.path,
            head.query,
            head.headers,
            body,
            self._peer,
            self._tls,
            self._peer_cert,
            self._peer_cert_der,
            head.version,
            upgrade=head.upgrade,
        )
        self._writer = writer = ConnectionWriter(self, head.method == "HEAD", head.version == "1.0")
        self.cancel_on_disconnect = False
        self.task = self._loop.create_task(self._run(request, writer), name="kubegate-http-request")

    def _reject(self, status: int, message: str) -> None:
        """Answer a request the layer refuses, and close (security.md §2.1: no reuse)."""
        log.debug("refused request from %s: %d %s", self._peer[0], status, message)
        on_reject = self._server.on_reject  # the application audits the refusal
        extra = on_reject(self._peer, status, message) if on_reject is not None else b""
        self.transport.write(error_response(status, message, extra))
        self._close(linger=True)  # the client may well have sent more

    # -- bodies ---------------------------------------------------------------------------

    def _receive_body(self, data: bytes | bytearray, pos: int) -> None:
        body = self._body
        assert body is not None
        if self._deadline_kind == _T_BODY and self._deadline:
            self._deadline = self._loop.time() + self._limits.body_idle_timeout
        decoder = self._decoder
        if decoder is None:
            take = min(self._body_remaining, len(data) - pos)
            if take == len(data) and type(data) is bytes:
                body.feed(data)
            else:
                body.feed(bytes(data[pos : pos + take]))
            pos += take
            self._body_remaining -= take
            finished = not self._body_remaining
        else:
            try:
                pieces, pos = decoder.feed(data, pos)
            except HTTPError as exc:
                body.fail(exc)
                self._stop_receiving()
                return
            for piece in pieces:
                body.feed(piece)
            finished = decoder.done
        if body.discarding:
            if body.received > self._drain_limit:
                self._close()  # more unread body than worth draining
                return
        elif body.buffered > self._limits.body_buffer and not body.paused:
            body.paused = True
            self._deadline = 0.0  # not the client's fault that nobody reads
            self._pause_reading()
        if not finished:
            return
        body.finish()
        self._decoder = None
        if self.task is None:  # the handler was done: this was a drain
            self._next_request(data, pos)
            return
        self._state = _BUSY
        self._deadline = 0.0
        if pos < len(data):
            self._stash(data, pos)

    def _stop_receiving(self) -> None:
        """The body can never complete: answer (the handler sees the error), then close."""
        self._close_after = True
        self._buffering = False
        self._state = _BUSY
        self._deadline = 0.0

    def body_wanted(self) -> None:
        head = self._head
        if (
            head is not None
            and head.expect_continue
            and not self._continue_sent
            and self._writer is not None
            and not self._writer.started
            and self._state == _BODY
        ):
            self._continue_sent = True
            self.transport.write(CONTINUE_RESPONSE)

    def body_drained(self) -> None:
        body = self._body
        if body is not None and body.paused:
            body.paused = False
            if self._state == _BODY:
                self._set_deadline(_T_BODY, self._limits.body_idle_timeout)
                self._resume_reading()

    def _stash(self, data: bytes | bytearray, pos: int) -> None:
        """Keep bytes that follow the current request for later (or drop them)."""
        if not self._buffering:
            self._dropped_input = True
            return
        self._buffer += data[pos:] if pos else data
        if len(self._buffer) > self._limits.pipeline_buffer:
            self._pause_reading()

    # -- request lifecycle ----------------------------------------------------------------

    async def _run(self, request: Request, writer: ConnectionWriter) -> None:
        try:
            await self._server.handler(request, writer)
            if self._state == _DETACHED:
                pass
            elif not writer.started:
                log.error("HTTP handler returned without a response")
                await self._fail(writer, 500, "Internal Server Error")
            elif not writer.finished:
                await writer.end()
        except HTTPError as exc:
            self._close_after = True
            if not writer.started:
                await self._fail(writer, exc.status, exc.message)
        except ConnectionError:
            self._close_after = True  # the client went away, or a write timed out
        except asyncio.CancelledError:
            self._abort_transport()
            raise
        except Exception:
            log.exception("unhandled exception in HTTP handler")
            if writer.started:
                self._close_after = True
            else:
                await self._fail(writer, 500, "Internal Server Error")
        finally:
            self.task = None
            self._request_done(writer)

    async def _fail(self, writer: ConnectionWriter, status: int, message: str) -> None:
        if self._state not in (_CLOSED, _DETACHED):
            headers = [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("X-Content-Type-Options", "nosniff"),
            ]
            try:
                await writer.send(status, headers, message.encode())
            except ConnectionError:
                pass

    def _request_done(self, writer: ConnectionWriter) -> None:
        state = self._state
        if state == _DETACHED or state == _CLOSED:
            self._server.unregister(self)  # connection_lost left that to the handler's end
            return
        if state == _LINGER:
            return
        head = self._head
        assert head is not None
        if (
            self._close_after
            or not head.keep_alive
            or head.upgrade is not None
            or writer.status == 101
            or self._server.closing.is_set()
        ):
            self._close()
            return
        if state == _BODY:
            body = self._body
            assert body is not None
            if self._decoder is None and self._body_remaining > self._limits.drain_body:
                self._close()
                return
            body.discard()  # drain what is left, then carry on with the next request
            self._drain_limit = body.received + self._limits.drain_body
            if body.paused:
                body.paused = False
                self._resume_reading()
            self._set_deadline(_T_BODY, self._limits.body_idle_timeout)
            return
        self._next_request(b"", 0)

    def _next_request(self, data: bytes | bytearray, pos: int) -> None:
        self._state = _IDLE
        self._head = self._body = self._writer = None
        if self._server.closing.is_set():
            self._close()
            return
        if pos < len(data):
            self._buffer += data[pos:]
        self._resume_reading()
        if self._buffer:
            pending = self._buffer
            self._buffer = bytearray()
            self._receive_head(pending)
        else:
            self._set_deadline(_T_KEEPALIVE, self._limits.keepalive_timeout)

    # -- used by the writer and the server ------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._state >= _LINGER

    def closes_after(self, status: int) -> bool:
        """Whether the response being started must announce ``Connection: close``."""
        head = self._head
        if head is None or self._close_after or not head.keep_alive:
            return True
        if head.upgrade is not None:
            return status != 101
        if self._server.closing.is_set():
            return True
        body = self._body
        if self._state == _BODY and body is not None and not body.consumed:
            # A body nobody has started to read and too big to drain, or one the client holds
            # back for a `100 Continue` it will not get: the connection ends with this
            # response (e.g. 413 decided from Content-Length).
            if (
                self._decoder is not None
                or self._body_remaining > self._limits.drain_body
                or head.expect_continue
            ):
                self._close_after = True
                return True
        return False

    def close_after_response(self) -> None:
        self._close_after = True

    async def drain(self) -> None:
        if self._state == _CLOSED:
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
        if self._state == _CLOSED:
            raise ConnectionResetError("client disconnected")

    def gone(self) -> asyncio.Future[None]:
        if self._gone is None:
            self._gone = self._loop.create_future()
            if self._state == _CLOSED or self._peer_eof:
                self._gone.set_result(None)
        return self._gone

    def detach(self) -> tuple[asyncio.Transport, bytes]:
        head = self._head
        if head is None or head.upgrade is None:
            raise RuntimeError("detach() is only for upgrade requests")
        if self._state >= _LINGER:
            raise ConnectionResetError("client disconnected")
        self._state = _DETACHED
        self._stop_timer()
        if not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()  # the new owner resumes after set_protocol()
        pending = bytes(self._buffer)
        self._buffer = bytearray()
        return self.transport, pending

    def begin_shutdown(self) -> None:
        """Server shutdown: close now if idle, else after the request in progress."""
        if self._state == _IDLE:
            self._close()
            # A TLS close waits for the peer's close_notify; an idle client that never
            # sends it must not hold the whole shutdown for its grace period.
            self._set_deadline(_T_ABORT, _SHUTDOWN_CLOSE_WAIT)
        elif self._state in (_BODY, _BUSY):
            self._close_after = True

    def abort(self) -> None:
        """Shutdown grace is over: stop the handler and drop the connection."""
        task = self.task
        if task is not None and not task.done():
            task.cancel()
        if self._state != _DETACHED:
            self._abort_transport()

    # -- closing, reading and timers ------------------------------------------------------

    def _close(self, *, linger: bool = False) -> None:
        """Close after what was written. With input possibly still on its way (a body not
        read to its end, bytes dropped), first shut the write side and read and drop input
        for a moment: closing with unread input makes the kernel reset the connection, which
        can destroy the response before the client reads it (RFC 9112 §9.6)."""
        if self._state >= _LINGER:
            return
        linger = linger or self._state == _BODY or bool(self._buffer) or self._dropped_input
        self._state = _LINGER
        self._buffer = bytearray()
        transport = self.transport
        if linger and transport.can_write_eof() and not self._peer_eof:
            self._resume_reading()
            transport.write_eof()
            self._set_deadline(_T_LINGER, self._limits.linger_timeout)
        else:
            transport.close()

    def _abort_transport(self) -> None:
        if self._state not in (_CLOSED, _DETACHED):
            self._state = _LINGER
            self.transport.abort()

    def _pause_reading(self) -> None:
        if not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self._state < _DETACHED:
            self._reading_paused = False
            self.transport.resume_reading()

    def _timing_over(self) -> bool:
        return self._state >= _DETACHED

    def _deadline_passed(self, kind: int) -> None:
        self._deadline = 0.0
        state = self._state
        if kind == _T_LINGER:
            self.transport.close()
        elif kind == _T_ABORT:
            self._abort_transport()
        elif kind == _T_HEADER and state == _IDLE:
            if self._heads.started:
                self._reject(408, "request header timeout")
            else:
                self._close()
        elif kind == _T_KEEPALIVE and state == _IDLE:
            self._close()
        elif kind == _T_BODY and state == _BODY:
            if self.task is None:
                self._close()  # draining an unread body that stopped coming
            else:
                assert self._body is not None
                self._body.fail(HTTPError(408, "request body timeout"))
                self._stop_receiving()
