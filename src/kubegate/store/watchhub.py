"""Watch fan-out and recent event history, shared by every backend.

A backend calls ``WatchHub.publish`` once per committed write, in revision order, from the
event loop thread. The hub

* appends the event to a bounded history ring, so a watch can resume from a recent revision
  (like the kube-apiserver watch cache); resuming from before the ring's start is Expired,
  which clients answer with a fresh list (HTTP 410 Gone);
* hands the event to every watcher whose prefix matches, into that watcher's bounded buffer.
  ``publish`` never waits: a watcher whose buffer is full is failed with WatchTooSlow and
  dropped, so one stalled client can neither block writers nor delay other watchers.

Event objects are shared by all watchers (one decode per write, not one per watcher), so
consumers must treat them as read-only. The history keeps only each event's stored bytes when
the backend supplies them and decodes again on replay: replays are rare, and a ring of 10,000
decoded Service objects would cost about 25 MiB more.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import weakref
from collections import deque
from dataclasses import dataclass

from kubegate.store.base import JSON, EventType, Expired, WatchEvent, WatchTooSlow

DEFAULT_HISTORY = 10_000
DEFAULT_QUEUE_SIZE = 1_000


@dataclass(frozen=True, slots=True)
class _Past:
    """One event in the history ring; ``object`` is dropped when ``raw`` can rebuild it."""

    type: EventType
    key: str
    revision: int
    raw: bytes | None
    object: JSON | None

    @classmethod
    def of(cls, event: WatchEvent) -> _Past:
        kept = None if event.raw is not None else event.object
        return cls(event.type, event.key, event.revision, event.raw, kept)

    def event(self) -> WatchEvent:
        obj = json.loads(self.raw) if self.raw is not None else self.object
        return WatchEvent(self.type, self.key, obj, self.revision, self.raw)


class Watch:
    """One watcher's stream: replayed history first, then live events, in revision order.

    Ends with StopAsyncIteration when closed (by ``aclose`` or by the hub closing), or raises
    Expired / WatchTooSlow once and then ends."""

    __slots__ = (
        "__weakref__",
        "_after",
        "_backlog",
        "_buffer",
        "_done",
        "_error",
        "_hub",
        "_sent",
        "_waiter",
        "prefix",
    )

    def __init__(
        self, hub: WatchHub, prefix: str, start: int, backlog: list[WatchEvent] | None = None
    ) -> None:
        self._hub = hub
        self.prefix = prefix
        self._buffer: deque[WatchEvent] = deque(backlog or ())
        # Replayed events sit at the front of the buffer and do not count against the live
        # limit: a resume may legitimately replay more than one buffer's worth of history.
        self._backlog = len(self._buffer)
        # Live events up to ``start`` are skipped: a list may have read a revision from the
        # database a moment before the backend published it here (sqlite's writer thread).
        self._after = start
        self._sent = start
        self._error: Exception | None = None
        self._done = False
        self._waiter: asyncio.Future[None] | None = None

    @property
    def revision(self) -> int:
        """Every event under ``prefix`` up to this revision has been handed to the consumer."""
        if self._buffer or self._error is not None or self._done:
            return self._sent
        return max(self._sent, self._hub.revision)

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> WatchEvent:
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                self._done = True
                raise error
            if self._done:
                raise StopAsyncIteration
            if self._buffer:
                event = self._buffer.popleft()
                if self._backlog:
                    self._backlog -= 1
                self._sent = event.revision
                return event
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        """Stop watching; iteration ends."""
        self._hub._unregister(self)
        self._end()

    # -- called by the hub -------------------------------------------------------------------

    def _offer(self, event: WatchEvent, limit: int) -> bool:
        """Buffer ``event``; False (and nothing buffered) if the buffer is full."""
        if event.revision <= self._after:
            return True
        if len(self._buffer) - self._backlog >= limit:
            return False
        self._buffer.append(event)
        self._wake()
        return True

    def _fail(self, error: Exception) -> None:
        self._buffer.clear()
        self._backlog = 0
        self._error = error
        self._wake()

    def _end(self) -> None:
        self._buffer.clear()
        self._backlog = 0
        self._done = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class WatchHub:
    """The fan-out point of one store. Not thread-safe: use it from the event loop thread."""

    def __init__(
        self,
        revision: int = 0,
        *,
        history: int = DEFAULT_HISTORY,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        if history < 1 or queue_size < 1:
            raise ValueError("history and queue_size must be at least 1")
        self._revision = revision
        # History before this revision is gone: at start everything up to the store's
        # revision, later the revision of each event that falls off the ring.
        self._compacted = revision
        self._history: deque[_Past] = deque(maxlen=history)
        self._queue_size = queue_size
        # Held weakly: a stream its consumer dropped without aclose() (a cancelled task's
        # ``async for``) unregisters itself when collected instead of filling up forever.
        self._watchers: dict[int, weakref.ref[Watch]] = {}
        self._closed = False

    @property
    def revision(self) -> int:
        """The revision of the latest published event (or the starting revision)."""
        return self._revision

    @property
    def oldest_available(self) -> int:
        """The oldest revision a watch can resume from without Expired."""
        return self._compacted

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    def publish(self, event: WatchEvent) -> None:
        """Record one committed change and hand it to matching watchers; never blocks."""
        if event.revision <= self._revision:
            raise ValueError(f"event revision {event.revision} is not after {self._revision}")
        self._revision = event.revision
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].revision
        self._history.append(_Past.of(event))
        key, limit = event.key, self._queue_size
        too_slow = []
        for ref in self._watchers.values():
            watch = ref()
            if watch is not None and key.startswith(watch.prefix):
                if not watch._offer(event, limit):
                    too_slow.append(watch)
        for watch in too_slow:
            self._unregister(watch)
            watch._fail(
                WatchTooSlow(f"watcher on {watch.prefix!r} fell more than {limit} events behind")
            )

    def watch(self, prefix: str, from_revision: int) -> Watch:
        """A stream of events under ``prefix`` after ``from_revision`` (0: from now).

        Registered immediately. If that history is gone, the stream raises Expired on its
        first iteration."""
        if from_revision == 0:
            from_revision = self._revision
        if from_revision < self._compacted:
            watch = Watch(self, prefix, from_revision)
            watch._fail(
                Expired(
                    f"too old resource version: {from_revision} "
                    f"(oldest available {self._compacted})"
                )
            )
            return watch
        start = bisect.bisect_right(self._history, from_revision, key=lambda past: past.revision)
        backlog = [
            past.event()
            for past in itertools.islice(self._history, start, None)
            if past.key.startswith(prefix)
        ]
        watch = Watch(self, prefix, from_revision, backlog)
        if self._closed:
            watch._end()
        else:
            watchers, key = self._watchers, id(watch)

            def forget(_: weakref.ref[Watch]) -> None:
                watchers.pop(key, None)

            watchers[key] = weakref.ref(watch, forget)
        return watch

    def close(self) -> None:
        """End every watch cleanly; later watches end at once."""
        self._closed = True
        refs = list(self._watchers.values())
        self._watchers.clear()
        for ref in refs:
            watch = ref()
            if watch is not None:
                watch._end()

    def _unregister(self, watch: Watch) -> None:
        self._watchers.pop(id(watch), None)
