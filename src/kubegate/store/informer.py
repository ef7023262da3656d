"""List+watch mirrors of store prefixes: client-go's informer and indexer in miniature.

``ObjectCache`` holds the latest known object per key with secondary indexes. It never moves
backwards: an object is replaced only by one with a higher resourceVersion, and a deletion
leaves a tombstone until the watch has passed it. That lets a controller write its own
results into the cache the moment the store acknowledges them (so the next reconcile sees
them) without a late watch event undoing that.

``Informer`` keeps one cache in step with one key prefix: list, then watch from the list's
revision; on Expired, WatchTooSlow or an ERROR event it lists again, and on store failures it
backs off and retries. Every change it applies is reported to ``on_change(key, old, new)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from kubegate.store.base import JSON, Expired, Store, StoreError, WatchTooSlow

log = logging.getLogger(__name__)

Indexer = Callable[[JSON], Iterable[Hashable]]
OnChange = Callable[[str, JSON | None, JSON | None], None]


def resource_version(obj: Mapping[str, Any]) -> int:
    """The object's resourceVersion as an int (0 when missing or malformed)."""
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


class ObjectCache:
    """Objects by key, plus named secondary indexes. Cached objects are shared: read-only."""

    def __init__(self, indexers: Mapping[str, Indexer] | None = None) -> None:
        self._objects: dict[str, JSON] = {}
        self._tombstones: dict[str, int] = {}  # key -> revision of its deletion
        self._indexers = dict(indexers or {})
        # index -> value -> keys (a dict used as an insertion-ordered set)
        self._indexes: dict[str, dict[Hashable, dict[str, None]]] = {
            name: {} for name in self._indexers
        }

    def __len__(self) -> int:
        return len(self._objects)

    def get(self, key: str) -> JSON | None:
        return self._objects.get(key)

    def keys(self) -> list[str]:
        return list(self._objects)

    def values(self) -> list[JSON]:
        return list(self._objects.values())

    def by(self, index: str, value: Hashable) -> list[JSON]:
        """Objects whose ``index`` function yields ``value``, in the order they were indexed
        (not sorted: a hot path for controllers; callers that need an order sort)."""
        keys = self._indexes[index].get(value, ())
        return [self._objects[key] for key in keys]

    def upsert(self, key: str, obj: JSON) -> tuple[JSON | None, JSON] | None:
        """Store ``obj`` unless something as new is known; returns (old, new) or None."""
        revision = resource_version(obj)
        current = self._objects.get(key)
        if current is not None and resource_version(current) >= revision:
            return None
        if self._tombstones.get(key, -1) >= revision:
            return None
        self._tombstones.pop(key, None)
        self._unindex(key, current)
        self._objects[key] = obj
        self._index(key, obj)
        return current, obj

    def remove(self, key: str, revision: int) -> JSON | None:
        """Forget ``key`` as deleted at ``revision``; returns what was cached, if anything."""
        current = self._objects.get(key)
        if current is not None and resource_version(current) > revision:
            return None  # recreated after that deletion
        self._tombstones[key] = max(revision, self._tombstones.get(key, -1))
        if current is None:
            return None
        del self._objects[key]
        self._unindex(key, current)
        return current

    def replace(self, objects: Mapping[str, JSON], revision: int) -> list[tuple[str, Any, Any]]:
        """Adopt a fresh list taken at ``revision``; returns the (key, old, new) changes."""
        changes: list[tuple[str, Any, Any]] = []
        for key in [k for k in self._objects if k not in objects]:
            old = self.remove(key, revision)
            if old is not None:
                changes.append((key, old, None))
        for key, obj in objects.items():
            changed = self.upsert(key, obj)
            if changed is not None:
                changes.append((key, changed[0], changed[1]))
        self.passed(revision)
        return changes

    def passed(self, revision: int) -> None:
        """The watch has delivered everything up to ``revision``: older tombstones can go."""
        if self._tombstones:
            self._tombstones = {k: r for k, r in self._tombstones.items() if r > revision}

    def _index(self, key: str, obj: JSON) -> None:
        for name, indexer in self._indexers.items():
            for value in indexer(obj):
                self._indexes[name].setdefault(value, {})[key] = None

    def _unindex(self, key: str, obj: JSON | None) -> None:
        if obj is None:
            return
        for name, indexer in self._indexers.items():
            for value in indexer(obj):
                keys = self._indexes[name].get(value)
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del self._indexes[name][value]


class Informer:
    """Keeps ``cache`` in step with everything under ``prefix`` in ``store``."""

    def __init__(
        self,
        store: Store,
        prefix: str,
        cache: ObjectCache,
        on_change: OnChange,
        *,
        retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
    ) -> None:
        self.prefix = prefix
        self.cache = cache
        self.synced = asyncio.Event()
        self._store = store
        self._on_change = on_change
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay

    async def run(self) -> None:
        """List and watch until cancelled."""
        delay = self._retry_delay
        while True:
            try:
                revision = await self._relist()
                delay = self._retry_delay
                await self._watch(revision)
                log.debug("watch on %s ended; listing again", self.prefix)
            except (Expired, WatchTooSlow) as exc:
                log.info("watch on %s lost its place (%s); listing again", self.prefix, exc)
                continue
            except StoreError as exc:
                log.warning("store error on %s: %s; retrying in %.1fs", self.prefix, exc, delay)
            # A store that is closing ends watches cleanly; back off rather than spin.
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_retry_delay)

    async def _relist(self) -> int:
        result = await self._store.list(self.prefix)
        objects = {self._key_of(obj): obj for obj in result.items}
        for key, old, new in self.cache.replace(objects, result.revision):
            self._on_change(key, old, new)
        self.synced.set()
        return result.revision

    async def _watch(self, revision: int) -> None:
        stream = self._store.watch(self.prefix, revision)
        try:
            async for event in stream:
                if event.type == "ERROR":
                    raise Expired(f"watch on {self.prefix} reported an error: {event.object}")
                if event.type == "BOOKMARK" or event.object is None:
                    self.cache.passed(event.revision)
                    continue
                if event.type == "DELETED":
                    old = self.cache.remove(event.key, event.revision)
                    if old is not None:
                        self._on_change(event.key, old, None)
                else:
                    changed = self.cache.upsert(event.key, event.object)
                    if changed is not None:
                        self._on_change(event.key, changed[0], changed[1])
                self.cache.passed(event.revision)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _key_of(self, obj: JSON) -> str:
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name", "")
        return f"{self.prefix}{namespace}/{name}" if namespace else f"{self.prefix}{name}"


async def wait_synced(informers: Iterable[Informer], limit: float) -> bool:
    """Wait until every informer has its first list (False if ``limit`` seconds pass first)."""
    try:
        async with asyncio.timeout(limit):
            for informer in informers:
                await informer.synced.wait()
    except TimeoutError:
        return False
    return True
