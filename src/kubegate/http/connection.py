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
How a connection ends (EOF, disconnect, detach, shutdown, lingering close) and write pacing
live in http/connection_ending.py; the states in http/connection_states.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from kubegate.http.body import NO_BODY, ZERO_LENGTH_BODY, StreamBody
from kubegate.http.connection_ending import ConnectionEnding
from kubegate.http.connection_states import (
    BODY,
    BUSY,
    CLOSED,
    DETACHED,
    IDLE,
    LINGER,
    T_ABORT,
    T_BODY,
    T_HEADER,
    T_KEEPALIVE,
    T_LINGER,
)
from kubegate.http.deadline import DeadlineTimer
from kubegate.http.framing import CONTINUE_RESPONSE, ChunkedDecoder, error_response
from kubegate.http.head import HeadParser, RequestHead
from kubegate.http.types import Body, HTTPError, Request
from kubegate.http.writer import ConnectionWriter

if TYPE_CHECKING:
    from kubegate.http.server import HTTPServer

log = logging.getLogger("kubegate.http")


class HTTPConnection(ConnectionEnding, DeadlineTimer, asyncio.Protocol):
    def __init__(self, server: HTTPServer) -> None:
        self._server = server
        self._limits = limits = server.limits
        self._loop = asyncio.get_running_loop()
        self.server_header = server.server_header_line
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._state = IDLE
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
        self.cancel_on_disconnect = (
            False  # set per request by ResponseWriter.cancel_on_disconnect()
        )
        # the one timer
        self._deadline = 0.0
        self._deadline_kind = T_HEADER
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self._server.register(self):
            self._state = CLOSED
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
        self._set_deadline(T_HEADER, self._limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        state = self._state
        if state == IDLE:  # (bytes kept in _buffer are all parsed when IDLE begins)
            self._receive_head(data)
        elif state == BODY:
            self._receive_body(data, 0)
        elif state == BUSY:
            self._stash(data, 0)
        # LINGER drops input; DETACHED and CLOSED never see any

    # -- heads ----------------------------------------------------------------------------

    def _receive_head(self, data: bytes | bytearray) -> None:
        try:
            pos, head = self._heads.feed(data, 0)
        except HTTPError as exc:
            self._reject(exc.status, exc.message)
            return
        if head is None:
            if self._deadline_kind != T_HEADER or not self._deadline:
                self._set_deadline(T_HEADER, self._limits.header_timeout)  # slowloris bound
            return
        self._heads.reset()
        self._start_request(head)
        if pos < len(data):
            if self._state == BODY:
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
            self._state = BODY
            self._set_deadline(T_BODY, limits.body_idle_timeout)
            body = stream
        else:
            body = NO_BODY if head.content_length is None else ZERO_LENGTH_BODY
            self._state = BUSY
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
        if self._deadline_kind == T_BODY and self._deadline:
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
        self._state = BUSY
        self._deadline = 0.0
        if pos < len(data):
            self._stash(data, pos)

    def _stop_receiving(self) -> None:
        """The body can never complete: answer (the handler sees the error), then close."""
        self._close_after = True
        self._buffering = False
        self._state = BUSY
        self._deadline = 0.0

    def body_wanted(self) -> None:
        head = self._head
        if (
            head is not None
            and head.expect_continue
            and not self._continue_sent
            and self._writer is not None
            and not self._writer.started
            and self._state == BODY
        ):
            self._continue_sent = True
            self.transport.write(CONTINUE_RESPONSE)

    def body_drained(self) -> None:
        body = self._body
        if body is not None and body.paused:
            body.paused = False
            if self._state == BODY:
                self._set_deadline(T_BODY, self._limits.body_idle_timeout)
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
            if self._state == DETACHED:
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
        if self._state not in (CLOSED, DETACHED):
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
        if state == DETACHED or state == CLOSED:
            self._server.unregister(self)  # connection_lost left that to the handler's end
            return
        if state == LINGER:
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
        if state == BODY:
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
            self._set_deadline(T_BODY, self._limits.body_idle_timeout)
            return
        self._next_request(b"", 0)

    def _next_request(self, data: bytes | bytearray, pos: int) -> None:
        self._state = IDLE
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
            self._set_deadline(T_KEEPALIVE, self._limits.keepalive_timeout)

    # -- used by the writer and the server ------------------------------------------------

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
        if self._state == BODY and body is not None and not body.consumed:
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

    def _timing_over(self) -> bool:
        return self._state >= DETACHED

    def _deadline_passed(self, kind: int) -> None:
        self._deadline = 0.0
        state = self._state
        if kind == T_LINGER:
            self.transport.close()
        elif kind == T_ABORT:
            self._abort_transport()
        elif kind == T_HEADER and state == IDLE:
            if self._heads.started:
                self._reject(408, "request header timeout")
            else:
                self._close()
        elif kind == T_KEEPALIVE and state == IDLE:
            self._close()
        elif kind == T_BODY and state == BODY:
            if self.task is None:
                self._close()  # draining an unread body that stopped coming
            else:
                assert self._body is not None
                self._body.fail(HTTPError(408, "request body timeout"))
                self._stop_receiving()
