"""The watch-fed, in-memory view the proxy resolves targets from.

A proxy request never touches the store: Services, EndpointSlices, Pods and Nodes are
mirrored by informers (list + watch), and EndpointSlices are indexed by the Service they
belong to (label ``kubernetes.io/service-name``)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable
from typing import Any

from kubegate.store.base import Store, collection_prefix
from kubegate.store.informer import Informer, ObjectCache

JSON = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _slice_owner(obj: JSON) -> Iterable[Hashable]:
    meta = obj.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if service:
        yield (meta.get("namespace", ""), service)


def _ignore(key: str, old: JSON | None, new: JSON | None) -> None:
    return None


class ProxyCache:
    def __init__(self, store: Store) -> None:
        self.services = ObjectCache()
        self.slices = ObjectCache({"service": _slice_owner})
        self.pods = ObjectCache()
        self.nodes = ObjectCache()
        self._informers = [
            Informer(store, collection_prefix("services"), self.services, _ignore),
            Informer(store, collection_prefix("endpointslices"), self.slices, _ignore),
            Informer(store, collection_prefix("pods"), self.pods, _ignore),
            Informer(store, collection_prefix("nodes"), self.nodes, _ignore),
        ]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for informer in self._informers:
            self._tasks.append(asyncio.create_task(informer.run(), name=f"proxy-cache {informer.prefix}"))

    async def wait_synced(self, limit: float = 10.0) -> bool:
        try:
            async with asyncio.timeout(limit):
                for informer in self._informers:
                    await informer.synced.wait()
        except TimeoutError:
            return False
        return True

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self._informers)

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
