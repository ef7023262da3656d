"""A backend's response: status and fields, and its body as a stream with back-pressure.

The connection feeds body pieces as they arrive; the consumer iterates them. While more than
``HIGH_WATER`` bytes wait untaken the connection stops reading the backend's socket, and it
reads again once the consumer has taken them down to ``LOW_WATER``: at most one read
(uvloop reads 256 KiB) beyond the high-water mark is ever held.

The body lives here, not in the connection: as soon as the last byte has arrived, the
connection goes back to the pool while the consumer may still be taking pieces. Iterating to
the end, or ``aclose()``, ends the response; ``aclose()`` before the end closes the
connection (an unread body makes it unusable). Use ``async with`` to never forget.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from kubegate.http.types import Headers

if TYPE_CHECKING:
    from types import TracebackType

    from kubegate.http.client_conn import UpstreamConnection

HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


class UpstreamResponse:
    __slots__ = (
        "_chunks",
        "_complete",
        "_conn",
        "_error",
        "_sender",
        "_waiter",
        "buffered",
        "headers",
        "length",
        "paused",
        "reason",
        "status",
    )

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Headers,
        length: int | None,
        conn: UpstreamConnection | None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case names, arrival order
        # The declared Content-Length (for HEAD and 304: of the representation, and no body
        # follows); None for chunked and close-delimited bodies.
        self.length = length
        self._conn = conn  # until the body is complete (then the pool has it back)
        self._chunks: deque[bytes] = deque()
        self._complete = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._sender: asyncio.Task[None] | None = None  # a request body still being sent
        self.buffered = 0  # bytes received and not yet taken
        self.paused = False  # set by the connection while it holds reading for us

    def header(self, name: str) -> str | None:
        """The first value of a field (name lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def complete(self) -> bool:
        """Whether the whole body has arrived (it may not all have been taken yet)."""
        return self._complete

    # -- the consumer's side ----------------------------------------------------------------

    def __aiter__(self) -> UpstreamResponse:
        return self

    async def __anext__(self) -> bytes:
        chunks = self._chunks
        while not chunks:
            if self._error is not None:
                raise self._error
            if self._complete:
                await self.aclose()
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= LOW_WATER:
            self.paused = False
            conn = self._conn
            if conn is not None:
                conn.body_drained()
        return chunk

    @property
    def settled(self) -> bool:
        """Whether the whole body is here and no request body is still being sent: then
        ``take()`` and ``close()`` do what ``read()`` and ``aclose()`` would, without a
        coroutine (the small-response relay's common case)."""
        return self._complete and self._sender is None

    def take(self, limit: int) -> bytes:
        """``read(limit)`` of a ``settled`` response, synchronously."""
        # The connection is back in the pool already; aclose() would only clear the chunks.
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        return body[:limit] if len(body) > limit else body

    async def read(self, limit: int) -> bytes:
        """The whole body, or at most ``limit`` bytes of it (the rest is dropped and the
        connection closed)."""
        if self._complete and self._sender is None:
            return self.take(limit)  # all of it is here and nothing is left to stop
        pieces = []
        total = 0
        async for chunk in self:
            pieces.append(chunk[: limit - total])
            total += len(pieces[-1])
            if total >= limit:
                break
        await self.aclose()
        return b"".join(pieces)

    async def aclose(self) -> None:
        """End the response: the connection goes back to the pool if the body was complete
        and it may be reused, otherwise it is closed."""
        sender = self._sender
        if sender is not None:
            self._sender = None
            if not sender.done():
                sender.cancel()  # the backend answered; the rest of the upload is moot
                await asyncio.wait((sender,))
        self.close()

    def close(self) -> None:
        """``aclose()`` once no request body is being sent (``_sender`` is None)."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            if not self._complete:
                conn.abort()
        self._chunks.clear()
        self.buffered = 0
        if not self._complete and self._error is None:
            self._error = ConnectionAbortedError("response closed")

    async def __aenter__(self) -> UpstreamResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the connection's side ------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self.buffered += len(chunk)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def finish(self) -> None:
        self._complete = True
        self._conn = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: BaseException) -> None:
        if self._complete or self._error is not None:
            return
        self._error = error
        self._conn = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def attach_sender(self, task: asyncio.Task[None]) -> None:
        """The task still sending the request body; cancelled and awaited by ``aclose()``."""
        self._sender = task
