"""Request bodies as streams with back-pressure (the ``types.Body`` protocol).

The connection feeds the pieces it frames; the application pulls them. When more than
``Limits.body_buffer`` bytes wait unread, the connection stops reading the socket, and it
starts again once the application has taken most of them, so a handler that does not read
holds at most that much of a client's upload in memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from kubegate.http.types import BodyTooLarge


class BodyOwner(Protocol):
    """What a body needs from its connection."""

    def body_wanted(self) -> None:
        """The application started reading (time for ``100 Continue``)."""

    def body_drained(self) -> None:
        """The unread buffer fell below the low-water mark (time to read again)."""


class EmptyBody:
    """The body of a request without one; stateless, so shared."""

    __slots__ = ("_length",)

    def __init__(self, length: int | None) -> None:
        self._length = length

    @property
    def length(self) -> int | None:
        return self._length

    def __aiter__(self) -> EmptyBody:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def read(self, limit: int) -> bytes:
        return b""


NO_BODY = EmptyBody(None)
ZERO_LENGTH_BODY = EmptyBody(0)


class StreamBody:
    """A body arriving from the socket; iterate it once, or ``read()`` it whole."""

    __slots__ = (
        "_chunks",
        "_done",
        "_error",
        "_length",
        "_owner",
        "_waiter",
        "_wanted",
        "buffered",
        "discarding",
        "low_water",
        "paused",
        "received",
    )

    def __init__(self, owner: BodyOwner, length: int | None, low_water: int) -> None:
        self._owner = owner
        self._length = length
        self._chunks: deque[bytes] = deque()
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wanted = False
        self.buffered = 0  # bytes received and not yet taken by the application
        self.received = 0
        self.low_water = low_water
        self.paused = False  # set by the connection while it holds reading for this body
        self.discarding = False  # the handler is done: pieces are counted and dropped

    @property
    def length(self) -> int | None:
        return self._length

    @property
    def complete(self) -> bool:
        return self._done

    @property
    def consumed(self) -> bool:
        """Whether the application has started reading."""
        return self._wanted

    def __aiter__(self) -> StreamBody:
        return self

    async def __anext__(self) -> bytes:
        if not self._wanted:
            self._wanted = True
            self._owner.body_wanted()
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._done:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= self.low_water:
            self._owner.body_drained()
        return chunk

    async def read(self, limit: int) -> bytes:
        if self._length is not None and self._length > limit:
            raise BodyTooLarge(limit)  # decided from the declared length, before any byte
        pieces = []
        total = 0
        async for chunk in self:
            total += len(chunk)
            if total > limit:
                raise BodyTooLarge(limit)
            pieces.append(chunk)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    # -- the connection's side ------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.discarding or not chunk:
            return
        self._chunks.append(chunk)
        self.buffered += len(chunk)
        self._wake()

    def finish(self) -> None:
        self._done = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        if not self._done and self._error is None:
            self._error = error
            self._wake()

    def discard(self) -> None:
        """Drop what is buffered and everything still to come."""
        self.discarding = True
        self._chunks.clear()
        self.buffered = 0

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
