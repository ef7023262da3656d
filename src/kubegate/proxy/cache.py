"""The watch-fed, in-memory view the proxy resolves targets from.

A proxy request never touches the store: Services, EndpointSlices, Pods and Nodes are
mirrored by informers (list + watch), and EndpointSlices are indexed by the Service they
belong to (label ``kubernetes.io/service-name``).

``generation`` counts the changes the informers have applied: a view derived from the cache
(the resolver's memoised resolutions) is current exactly while the generation it was built
at is still the cache's."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable
from typing import Any

from kubegate.core.endpoint_labels import SERVICE_NAME_LABEL
from kubegate.store.base import Store, collection_prefix
from kubegate.store.informer import Informer, ObjectCache, wait_synced

JSON = dict[str, Any]


def _slice_owner(obj: JSON) -> Iterable[Hashable]:
    meta = obj.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if service:
        yield (meta.get("namespace", ""), service)


class ProxyCache:
    def __init__(self, store: Store) -> None:
        self.services = ObjectCache()
        self.slices = ObjectCache({"service": _slice_owner})
        self.pods = ObjectCache()
        self.nodes = ObjectCache()
        self.generation = 0
        self._informers = [
            Informer(store, collection_prefix("services"), self.services, self._changed),
            Informer(store, collection_prefix("endpointslices"), self.slices, self._changed),
            Informer(store, collection_prefix("pods"), self.pods, self._changed),
            Informer(store, collection_prefix("nodes"), self.nodes, self._changed),
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._synced = False

    def _changed(self, key: str, old: JSON | None, new: JSON | None) -> None:
        self.generation += 1

    def start(self) -> None:
        for informer in self._informers:
            self._tasks.append(
                asyncio.create_task(informer.run(), name=f"proxy-cache {informer.prefix}")
            )

    async def wait_synced(self, limit: float = 10.0) -> bool:
        return await wait_synced(self._informers, limit)

    @property
    def synced(self) -> bool:
        if not self._synced:  # an informer never becomes unsynced once it has listed
            self._synced = all(i.synced.is_set() for i in self._informers)
        return self._synced

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def service(self, namespace: str, name: str) -> JSON | None:
        return self.services.get(f"/registry/services/{namespace}/{name}")

    def endpoint_slices(self, namespace: str, service: str) -> list[JSON]:
        return self.slices.by("service", (namespace, service))

    def pod(self, namespace: str, name: str) -> JSON | None:
        return self.pods.get(f"/registry/pods/{namespace}/{name}")

    def node(self, name: str) -> JSON | None:
        return self.nodes.get(f"/registry/nodes/{name}")
