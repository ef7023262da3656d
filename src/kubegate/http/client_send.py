"""Request bodies toward the backend: streamed with back-pressure, or held for 100-continue.

A body that is not sent in the same write as the head goes out from its own task, so that
the response head is seen (and returned to the caller) as soon as it arrives, while the rest
of the body may still be flowing: a backend may answer early (401, 413) or stream its answer
while it reads (Go's transport writes and reads concurrently the same way). The task belongs
to the exchange until the head is in, then to the response, whose ``aclose()`` cancels and
awaits it.

A streamed body with a known length is held to it (a longer or shorter body is the caller's
``ValueError``, and the connection is dropped); without one it is chunked, empty pieces
skipped (an empty chunk would end the body).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kubegate.http.client import UpstreamError
from kubegate.http.client_conn import UpstreamConnection

CONTINUE_TIMEOUT = 1.0  # how long to hold a body for `100 Continue` before sending anyway
_CHUNK_END = b"\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


@dataclass(slots=True)
class SendProgress:
    pulled: bool = False  # a piece was asked of a streamed source: it cannot be replayed
    sent: int = 0  # body bytes handed to the socket


async def send_body(
    conn: UpstreamConnection,
    body: AsyncIterator[bytes] | bytes,
    length: int | None,
    expect_continue: bool,
    progress: SendProgress,
) -> None:
    """Send the body of the request whose head is out; never raises but CancelledError (a
    failure ends the exchange through the connection, where its waiters hear of it)."""
    try:
        if expect_continue and not await conn.wait_continue(CONTINUE_TIMEOUT):
            # A final answer before the body: the body is never sent, so the connection is
            # left mid-request (RFC 9110 §10.1.1) and must not be reused.
            conn.keep_alive = False
            conn.request_sent()
            return
        if isinstance(body, bytes | bytearray | memoryview):
            if conn.writable:
                conn.write(bytes(body))
                progress.sent = len(body)
                conn.request_sent()
            return
        await _stream(conn, body, length, progress)
    except UpstreamError:
        return  # the connection failed; the waiter or the response carries the error
    except asyncio.CancelledError:
        conn.abort()  # a request cut short leaves the connection unusable
        raise
    except Exception as exc:  # the source failed, or broke its declared length
        conn.request_failed(exc)


async def _stream(
    conn: UpstreamConnection,
    body: AsyncIterator[bytes],
    length: int | None,
    progress: SendProgress,
) -> None:
    chunked = length is None
    pieces = aiter(body)
    while True:
        conn.awaiting_source()
        progress.pulled = True
        try:
            piece = await anext(pieces)
        except StopAsyncIteration:
            break
        if not conn.writable:
            return  # the backend is gone or the exchange failed; nothing more to do
        if not piece:
            continue
        size = len(piece)
        progress.sent += size
        if length is not None and progress.sent > length:
            raise ValueError("request body longer than its Content-Length")
        if chunked:
            conn.writelines((b"%x\r\n" % size, piece, _CHUNK_END))
        else:
            conn.write(piece)
        await conn.drain()
    if length is not None and progress.sent != length:
        raise ValueError("request body shorter than its Content-Length")
    if not conn.writable:
        return
    if chunked:
        conn.write(_LAST_CHUNK)
    conn.request_sent()
