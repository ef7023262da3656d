"""The response side of an upstream connection: head, body framing, completion.

Mixed into ``UpstreamConnection`` (http/client_conn.py), whose state it shares: the head
is found and parsed (interim 1xx answers skipped, ``100`` letting a held-back body go),
the body framed by ``Content-Length``, chunked coding or the connection's end, fed to the
``UpstreamResponse`` with back-pressure, and the connection handed back to its pool once
both the request and the response are complete. The request side, flow control and the
timer stay in client_conn.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kubegate.http.client import UpstreamError
from kubegate.http.client_head import MAX_RESPONSE_HEAD, ResponseHead, parse_response_head
from kubegate.http.client_response import HIGH_WATER, UpstreamResponse
from kubegate.http.client_states import BODY, DONE, IDLE, SWITCHED, T_BODY
from kubegate.http.framing import ChunkedDecoder
from kubegate.http.limits import Limits
from kubegate.http.types import HTTPError

if TYPE_CHECKING:
    from kubegate.http.pool import UpstreamSlot

_HEAD_END = b"\r\n\r\n"
_CHUNK_LIMITS = Limits()  # trailer sizes and chunk-extension budget, as on the server side


class ResponseReading:
    """The reading half of ``UpstreamConnection``; these attributes are set by its
    ``__init__``."""

    if not TYPE_CHECKING:  # (hidden from mypy, which would then refuse the attributes below)
        __slots__ = ()  # UpstreamConnection keeps its __slots__: no instance __dict__

    slot: UpstreamSlot
    pooled: bool
    transport: asyncio.Transport
    state: int
    keep_alive: bool
    request_complete: bool
    response_started: bool
    response: UpstreamResponse | None
    _loop: asyncio.AbstractEventLoop
    _head_request: bool
    _upgrade: bool
    _head_waiter: asyncio.Future[UpstreamResponse] | None
    _continue_waiter: asyncio.Future[bool] | None
    _got_continue: bool
    _buffer: bytearray
    _head_bytes: int
    _decoder: ChunkedDecoder | None
    _remaining: int
    _reading_paused: bool
    _deadline: float

    if TYPE_CHECKING:  # provided by UpstreamConnection and DeadlineTimer

        def _fail(self, error: BaseException) -> None: ...
        def _set_deadline(self, kind: int, seconds: float) -> None: ...

    def _receive_head(self, data: bytes) -> None:
        self.response_started = True
        buffer = self._buffer
        source: bytes | bytearray = data
        if buffer:
            buffer += data
            source = buffer
        pos = 0
        while True:
            end = source.find(_HEAD_END, pos)
            if end < 0:
                if self._head_bytes + len(source) - pos > MAX_RESPONSE_HEAD:
                    self._fail(UpstreamError("protocol", "response head too large"))
                elif source is buffer:
                    del buffer[:pos]
                else:
                    self._buffer = bytearray(source[pos:])
                return
            stop = end + 4
            self._head_bytes += stop - pos
            if self._head_bytes > MAX_RESPONSE_HEAD:
                self._fail(UpstreamError("protocol", "response head too large"))
                return
            try:
                head = parse_response_head(source[pos:stop])
            except UpstreamError as exc:
                self._fail(exc)
                return
            pos = stop
            if head.status >= 200 or head.status == 101:
                break
            if head.status == 100:  # interim answers are skipped; 100 lets a body go
                self._got_continue = True
                resolve_waiter(self._continue_waiter, True)
        if source is buffer:
            self._buffer = bytearray()
        self._start_body(head, source, pos)

    def _start_body(self, head: ResponseHead, data: bytes | bytearray, pos: int) -> None:
        status = head.status
        no_body = self._head_request or status == 204 or status == 304
        if status == 101:
            if not self._upgrade:
                self._fail(UpstreamError("protocol", "unexpected 101 response"))
                return
            self.state = SWITCHED
            self.transport.pause_reading()
            self._buffer = bytearray(data[pos:])
            no_body = True
        elif no_body:
            self.state = BODY
        elif head.chunked:
            self.state = BODY
            self._decoder = ChunkedDecoder(
                _CHUNK_LIMITS.max_chunk_ext,
                _CHUNK_LIMITS.max_header_line,
                _CHUNK_LIMITS.max_header_bytes,
                _CHUNK_LIMITS.max_headers,
            )
        elif head.content_length is not None:
            self.state = BODY
            self._remaining = head.content_length
            no_body = not self._remaining
        else:
            self.state = BODY
            self._remaining = -1  # close-delimited: never reusable
        self.keep_alive = not head.close and self._remaining >= 0 and self.pooled
        response = self.response = UpstreamResponse(
            status,
            head.reason,
            head.headers,
            head.content_length,
            self,  # type: ignore[arg-type]
        )
        if self._continue_waiter is not None:
            resolve_waiter(self._continue_waiter, False)
        waiter = self._head_waiter
        self._head_waiter = None
        if status == 101:
            self._deadline = 0.0
            response.finish()
        elif no_body:
            self._complete(data, pos)
        elif 0 < self._remaining <= len(data) - pos and self._decoder is None:
            # The whole (Content-Length) body came with the head: no body deadline to set.
            end = pos + self._remaining
            self._remaining = 0
            response.feed(
                data
                if pos == 0 and end == len(data) and type(data) is bytes
                else bytes(data[pos:end])
            )
            self._complete(data, end)
        else:
            self._set_deadline(T_BODY, self.slot.idle_timeout)
            if pos < len(data):
                self._receive_body(data, pos)
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _receive_body(self, data: bytes | bytearray, pos: int) -> None:
        response = self.response
        assert response is not None
        decoder = self._decoder
        if decoder is not None:
            try:
                pieces, pos = decoder.feed(data, pos)
            except HTTPError as exc:
                self._fail(UpstreamError("protocol", f"invalid chunked response body: {exc}"))
                return
            for piece in pieces:
                if piece:
                    response.feed(piece)
            if decoder.done:
                self._complete(data, pos)
                return
        else:
            size = len(data) - pos
            remaining = self._remaining
            take = size if remaining < 0 or remaining >= size else remaining
            if take == len(data) and type(data) is bytes:
                response.feed(data)
            elif take:
                response.feed(bytes(data[pos : pos + take]))
            if remaining >= 0:
                self._remaining = remaining - take
                if remaining == take:
                    self._complete(data, pos + take)
                    return
        if self._deadline:
            self._deadline = self._loop.time() + self.slot.idle_timeout
        if response.buffered > HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            response.paused = True
            self._deadline = 0.0  # the consumer is slow, not the backend
            self.transport.pause_reading()

    def _complete(self, data: bytes | bytearray, pos: int) -> None:
        if pos < len(data):
            self.keep_alive = False  # bytes after the response: nothing to trust here
        self.state = DONE
        self._deadline = 0.0
        response = self.response
        assert response is not None
        self.response = None
        response.finish()
        if self.request_complete:
            self.slot.release(self)  # type: ignore[arg-type]  # an UpstreamConnection
        else:
            self.keep_alive = False  # answered before the request was out

    def _unsolicited(self) -> None:
        """Bytes while no response is due: the connection can never be trusted again."""
        self.keep_alive = False
        if self.state == IDLE:
            self.transport.abort()


def resolve_waiter(waiter: asyncio.Future[bool] | None, value: bool) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(value)
