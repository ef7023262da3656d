"""Where mirror mode's reflectors write: the server's own Store, one resource type each.

Mirrored objects are stored as the upstream sent them (apiVersion and kind filled in, since
list items lack them), under the usual ``/registry/...`` keys, so every existing part of
the server — list, get, watch, Table output, the proxy's watch-fed cache, the RBAC
authorizer — serves them unchanged. The store stamps its own ``resourceVersion`` (clients
of the mirror see the mirror's revisions, consistent with its watches); the upstream's is
not kept.

Writes are idempotent: an object whose content (everything but ``resourceVersion``)
already matches is not written again, so a relist after a reconnect — or the first list
after a restart on a persistent store (sqlite) — costs reads, not a burst of MODIFIED
events for every watcher of the mirror. (Each replica has a store of its own: the CLI
refuses mirror mode on a shared etcd.)
"""

from __future__ import annotations

import logging
from typing import Any

from kubegate.api.resources import ResourceType
from kubegate.store.base import KeyExists, KeyNotFound, Store, collection_prefix, object_key

log = logging.getLogger("kubegate.mirror")

JSON = dict[str, Any]


class StoreSink:
    """Applies one resource type's upstream view to the store (a ``ReflectorSink``)."""

    def __init__(self, store: Store, rt: ResourceType) -> None:
        self.store = store
        self.rt = rt
        self.prefix = collection_prefix(rt.plural)

    async def replace(self, items: list[JSON]) -> int:
        """Make the stored collection exactly ``items``; returns the number of writes."""
        wanted: dict[str, JSON] = {}
        for item in items:
            key = self._key(item)
            if key is not None:
                wanted[key] = self._typed(item)
        stored = await self.store.list(self.prefix)
        have = {self._key(obj) or "": obj for obj in stored.items}
        writes = 0
        for key in have.keys() - wanted.keys():
            if await self._delete(key):
                writes += 1
        for key, obj in wanted.items():
            if await self._put(key, obj, have.get(key)):
                writes += 1
        return writes

    async def apply(self, event_type: str, obj: JSON) -> None:
        key = self._key(obj)
        if key is None:
            return
        if event_type == "DELETED":
            await self._delete(key)
            return
        try:
            current: JSON | None = await self.store.get(key)
        except KeyNotFound:
            current = None
        await self._put(key, self._typed(obj), current)

    # -- helpers -----------------------------------------------------------------------------

    async def _put(self, key: str, obj: JSON, current: JSON | None) -> bool:
        if current is not None and _same(current, obj):
            return False
        if current is None:
            try:
                await self.store.create(key, obj)
                return True
            except KeyExists:
                pass  # created meanwhile: replace it
        try:
            await self.store.update(key, obj)
        except KeyNotFound:
            await self.store.create(key, obj)
        return True

    async def _delete(self, key: str) -> bool:
        try:
            await self.store.delete(key)
        except KeyNotFound:
            return False
        return True

    def _typed(self, obj: JSON) -> JSON:
        """The object with the apiVersion and kind that list items leave out."""
        return {**obj, "apiVersion": self.rt.api_version, "kind": self.rt.kind}

    def _key(self, obj: JSON) -> str | None:
        meta = obj.get("metadata") or {}
        name = meta.get("name") if isinstance(meta, dict) else None
        namespace = meta.get("namespace") if isinstance(meta, dict) else None
        if not isinstance(name, str) or not name or "/" in name:
            log.warning("skipping a %s without a usable name", self.rt.kind)
            return None
        if self.rt.namespaced:
            if not isinstance(namespace, str) or not namespace or "/" in namespace:
                log.warning("skipping %s %r without a namespace", self.rt.kind, name)
                return None
            return object_key(self.rt.plural, namespace, name)
        return object_key(self.rt.plural, "", name)


def _same(stored: JSON, upstream: JSON) -> bool:
    """Equal but for ``metadata.resourceVersion`` (the store's own, not the upstream's)."""
    return _without_version(stored) == _without_version(upstream)


def _without_version(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "resourceVersion" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
