"""MemoryStore: the reference backend, for tests and throwaway servers. Nothing survives close.

State is a dict of key -> (mod revision, stored bytes) plus a sorted key list for prefix scans
(bisect). Keeping the stored JSON bytes rather than dicts is how objects are deep-copied on
the way in and out: one encode per write and one decode per read, which measured faster than
keeping dicts and copying them (a json round trip costs ~23 us for a 850-byte Service, a
recursive dict/list copy ~9 us, a decode alone ~7 us), and it rejects non-JSON values exactly
as the durable backends do.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from kubegate.store import common
from kubegate.store.base import (
    JSON,
    EventType,
    KeyExists,
    KeyNotFound,
    ListResult,
    RawListResult,
    StoreUnavailable,
    WatchEvent,
)
from kubegate.store.watchhub import DEFAULT_HISTORY, DEFAULT_QUEUE_SIZE, Watch, WatchHub


class MemoryStore:
    """The Store protocol over process memory."""

    def __init__(
        self, *, history: int = DEFAULT_HISTORY, watch_queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> None:
        self._values: dict[str, tuple[int, bytes]] = {}
        self._keys: list[str] = []  # sorted
        self._revision = 0
        self._hub = WatchHub(history=history, queue_size=watch_queue_size)
        self._closed = False

    async def start(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        self._closed = True
        self._hub.close()

    @property
    def revision(self) -> int:
        return self._revision

    async def get(self, key: str) -> JSON:
        self._check_open()
        try:
            _, raw = self._values[key]
        except KeyError:
            raise KeyNotFound(key) from None
        return common.decode(raw)

    async def create(self, key: str, obj: JSON) -> JSON:
        self._check_open()
        if key in self._values:
            raise KeyExists(key)
        raw = self._commit(key, obj)
        bisect.insort(self._keys, key)
        return self._publish("ADDED", key, raw)

    async def update(self, key: str, obj: JSON, expected_revision: int | None = None) -> JSON:
        self._check_open()
        self._check_revision(key, expected_revision)
        raw = self._commit(key, obj)
        return self._publish("MODIFIED", key, raw)

    async def guaranteed_update(
        self, key: str, mutate: Callable[[JSON], JSON], *, retries: int = 5
    ) -> JSON:
        return await common.guaranteed_update(self, key, mutate, retries=retries)

    async def delete(self, key: str, expected_revision: int | None = None) -> JSON:
        self._check_open()
        _, last = self._check_revision(key, expected_revision)
        revision = self._revision + 1
        raw = common.encode(common.decode(last), revision)
        del self._values[key]
        del self._keys[bisect.bisect_left(self._keys, key)]
        self._revision = revision
        return self._publish("DELETED", key, raw)

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "") -> ListResult:
        page = await self.list_raw(prefix, limit=limit, start_after=start_after)
        items = [common.decode(raw) for raw in page.items]
        return ListResult(items, page.revision, page.continue_key)

    async def list_raw(
        self, prefix: str, *, limit: int = 0, start_after: str = ""
    ) -> RawListResult:
        self._check_open()
        keys = self._keys
        first = max(bisect.bisect_left(keys, prefix), bisect.bisect_right(keys, start_after))
        end = common.prefix_end(prefix)
        stop = len(keys) if end is None else bisect.bisect_left(keys, end, lo=first)
        continue_key = None
        if limit and stop - first > limit:
            stop = first + limit
            continue_key = keys[stop - 1]
        items = [self._values[key][1] for key in keys[first:stop]]
        return RawListResult(items, self._revision, continue_key)

    def watch(self, prefix: str, from_revision: int) -> Watch:
        self._check_open()
        return self._hub.watch(prefix, from_revision)

    # -- helpers -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable("store is closed")

    def _check_revision(self, key: str, expected: int | None) -> tuple[int, bytes]:
        try:
            current = self._values[key]
        except KeyError:
            raise KeyNotFound(key) from None
        common.check_revision(key, expected, current[0])
        return current

    def _commit(self, key: str, obj: JSON) -> bytes:
        """Store ``obj`` at the next revision (encoding first, so a bad object burns none)."""
        revision = self._revision + 1
        raw = common.encode(obj, revision)
        self._values[key] = (revision, raw)
        self._revision = revision
        return raw

    def _publish(self, type_: EventType, key: str, raw: bytes) -> JSON:
        """Announce the write just committed and return the caller's own copy of it."""
        self._hub.publish(WatchEvent(type_, key, common.decode(raw), self._revision, raw))
        return common.decode(raw)
