"""The response side of one request (the ``types.ResponseWriter`` protocol).

The layer owns framing: it writes Content-Length or chunked encoding (close-delimited for
HTTP/1.0), ``Connection: close`` when the connection will close, and nothing else the
application did not ask for. Framing headers passed by the application are ignored in favour
of ``length``. Header values are checked for CR and LF (response splitting).

A client that has gone away makes ``write()`` raise ``ConnectionResetError`` (so that a
stream stops), while ``send()`` quietly does nothing: a one-shot answer nobody will read is
not the handler's error.

``body_bytes`` counts the body bytes the application handed over (for metrics and the access
log), so that nobody needs to wrap the writer just to count.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from kubegate.http.framing import status_line
from kubegate.http.types import Headers

if TYPE_CHECKING:
    from kubegate.http.connection import HTTPConnection

_FRAMING = frozenset({"content-length", "transfer-encoding"})
_NO_BODY_STATUS = frozenset({204, 304})
_INLINE_BODY = 16 * 1024  # bodies up to this size go out in the same write as the head


class ConnectionWriter:
    __slots__ = (
        "_chunked",
        "_conn",
        "_head_request",
        "_http10",
        "_no_body",
        "_remaining",
        "body_bytes",
        "finished",
        "started",
        "status",
    )

    def __init__(self, conn: HTTPConnection, head_request: bool, http10: bool) -> None:
        self._conn = conn
        self._head_request = head_request
        self._http10 = http10
        self._chunked = False
        self._no_body = False
        self._remaining: int | None = None
        self.started = False
        self.finished = False
        self.status = 0
        self.body_bytes = 0  # body bytes handed to send() and write(), sent or not

    async def send(self, status: int, headers: Headers, body: bytes = b"") -> None:
        self.body_bytes += len(body)
        conn = self._conn
        if conn.closed and not self.started:
            # The client is gone: there is no one to answer. Not an error for the handler,
            # whose work (and audit) after answering should still run.
            self.started = self.finished = True
            self.status = status
            return
        head = self._head(status, headers, len(body))
        transport = conn.transport
        if self._no_body or not body:
            transport.write(head)
        elif len(body) <= _INLINE_BODY:
            transport.write(head + body)
        else:
            transport.writelines((head, body))
        self._remaining = 0
        self._finish()
        if conn.write_paused:  # (a coroutine per response only when there is anything to wait for)
            with contextlib.suppress(ConnectionError):
                await conn.drain()  # back-pressure only: the response is out of our hands

    async def start(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        self._conn.transport.write(self._head(status, headers, length))
        await self._conn.drain()

    async def write(self, data: bytes) -> None:
        if not self.started or self.finished:
            raise RuntimeError("write() outside a started, unfinished response")
        self.body_bytes += len(data)
        conn = self._conn
        if conn.closed:
            raise ConnectionResetError("client disconnected")
        if not data or self._no_body:
            return
        if self._chunked:
            conn.transport.writelines((b"%x\r\n" % len(data), data, b"\r\n"))
        else:
            if self._remaining is not None:
                if len(data) > self._remaining:
                    conn.close_after_response()
                    raise RuntimeError("response body longer than its Content-Length")
                self._remaining -= len(data)
            conn.transport.write(data)
        if conn.write_paused:  # (the state cannot have changed since the check above)
            await conn.drain()

    async def end(self) -> None:
        if not self.started:
            raise RuntimeError("end() before start()")
        if self.finished:
            return
        if self._chunked and not self._no_body and not self._conn.closed:
            self._conn.transport.write(b"0\r\n\r\n")
        elif self._remaining and not self._no_body:
            self._conn.close_after_response()  # short body: only closing tells the client
        self._finish()

    def client_gone(self) -> asyncio.Future[None]:
        return asyncio.shield(self._conn.gone())

    def cancel_on_disconnect(self) -> None:
        """Cancel this request's handler task if the client disconnects before it finishes
        (cheaper than a watcher task per request). Cleared for the next request."""
        self._conn.cancel_on_disconnect = True

    async def detach(self) -> tuple[asyncio.Transport, bytes]:
        """Hand the raw connection of an upgrade request to the caller.

        Returns the transport (reading paused: call ``transport.set_protocol(p)`` and then
        ``transport.resume_reading()``) and the bytes already received after the head. The
        layer never touches the connection again. Write the ``101`` head first, with
        ``start(101, headers)``, or write the raw bytes of a backend's answer yourself.
        """
        taken = self._conn.detach()
        self.finished = True
        return taken

    # -- internals --------------------------------------------------------------------------

    def _head(self, status: int, headers: Headers, length: int | None) -> bytes:
        if self.started:
            raise RuntimeError("response already started")
        conn = self._conn
        if conn.closed:
            raise ConnectionResetError("client disconnected")
        if 100 <= status < 200 and status != 101:
            raise ValueError("informational responses are written by the layer")
        close = False
        lines = []
        for name, value in headers:
            lname = name.lower()
            if lname in _FRAMING:
                continue
            if lname == "connection" and "close" in value.lower():
                close = True
            lines.append(f"{name}: {value}\r\n")
        fields = "".join(lines)
        count = len(lines)
        if fields.count("\n") != count or fields.count("\r") != count:
            raise ValueError("CR or LF in a response header")  # response splitting
        if status == 101 or status in _NO_BODY_STATUS:
            self._no_body = True
        elif length is not None:
            fields += f"Content-Length: {length}\r\n"
            self._remaining = length
        elif not self._http10:
            fields += "Transfer-Encoding: chunked\r\n"
            self._chunked = True
        else:
            close = True  # HTTP/1.0 without a length: the body ends when the connection does
        if self._head_request:
            self._no_body = True
        if close:
            conn.close_after_response()
        elif conn.closes_after(status):
            fields += "Connection: close\r\n"
        elif self._http10:
            fields += "Connection: keep-alive\r\n"  # 1.0 keeps alive only when told
        if conn.server_header:
            fields += conn.server_header
        try:
            head = status_line(status) + fields.encode("latin-1") + b"\r\n"
        except UnicodeEncodeError as exc:
            raise ValueError("response header not encodable as latin-1") from exc
        self.started = True
        self.status = status
        return head

    def _finish(self) -> None:
        self.finished = True
