"""The EndpointSlice controller: keeps EndpointSlices and legacy Endpoints in step with
Services and Pods, as kube-controller-manager's endpointslice, endpointslicemirroring and
endpoints controllers do together.

It mirrors services, pods, endpoints, endpointslices and nodes from the store (list+watch,
see ``informer``), turns every relevant change into a Service key on a deduplicating work
queue, and reconciles one Service at a time per key with the pure rules in ``kubegate.core``
(``endpointslices``, ``endpointslice_mirroring``, ``legacy_endpoints``, ``endpoint_diffs``).
Writes go straight to the store with optimistic concurrency; a conflict or any other failure
re-queues the key with backoff.

Lifecycle: ``run()`` until cancelled or until ``stop()``; ``ready`` is set once the caches are
synced and every Service known at start has had its first reconcile attempt. All tasks are named and
owned by one TaskGroup, so nothing outlives ``run``. Only one replica should run it at a time
(leader election is the caller's business).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from kubegate.controllers.lifecycle import ControllerLifecycle
from kubegate.controllers.workqueue import QueueShutDown, WorkQueue
from kubegate.core.endpoint_diffs import SliceDiff, diff_endpoint_slices, plan_endpoints
from kubegate.core.endpoint_inputs import selects_pod, wants_endpoint_slices
from kubegate.core.endpoint_labels import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    MIRRORING_CONTROLLER_NAME,
    SERVICE_NAME_LABEL,
    SKIP_MIRROR_LABEL,
    ZONE_LABEL,
)
from kubegate.core.endpointslice_mirroring import mirror_endpoint_slices, should_mirror
from kubegate.core.endpointslices import compute_endpoint_slices
from kubegate.core.legacy_endpoints import compute_endpoints
from kubegate.store.base import (
    JSON,
    KeyExists,
    KeyNotFound,
    Store,
    VersionConflict,
    collection_prefix,
    object_key,
)
from kubegate.store.informer import Informer, ObjectCache, resource_version

log = logging.getLogger(__name__)

ServiceKey = tuple[str, str]  # (namespace, name)
_MANAGERS = (CONTROLLER_NAME, MIRRORING_CONTROLLER_NAME)


def _meta(obj: JSON | None) -> dict[str, Any]:
    return (obj or {}).get("metadata") or {}


def _namespace(obj: JSON) -> list[str]:
    return [_meta(obj).get("namespace", "")]


def _slice_owner(obj: JSON) -> list[ServiceKey]:
    labels = _meta(obj).get("labels") or {}
    service = labels.get(SERVICE_NAME_LABEL)
    if not service or labels.get(MANAGED_BY_LABEL) not in _MANAGERS:
        return []
    return [(_meta(obj).get("namespace", ""), service)]


def _node_name(obj: JSON) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


def _zone(node: JSON | None) -> str | None:
    return (_meta(node).get("labels") or {}).get(ZONE_LABEL)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EndpointSliceController(ControllerLifecycle):
    """Reconciles EndpointSlices and Endpoints for every Service in ``store``."""

    def __init__(
        self,
        store: Store,
        *,
        resync_interval: float = 300.0,
        workers: int = 2,
        debounce: float = 0.01,
        retry_base_delay: float = 0.05,
        retry_max_delay: float = 30.0,
    ) -> None:
        self.ready = asyncio.Event()
        self._store = store
        self._resync_interval = resync_interval
        self._workers = workers
        self._debounce = debounce
        self._queue: WorkQueue[ServiceKey] = WorkQueue(
            base_delay=retry_base_delay, max_delay=retry_max_delay
        )
        self._services = ObjectCache({"namespace": _namespace})
        self._pods = ObjectCache({"namespace": _namespace, "node": _node_name})
        self._endpoints = ObjectCache()
        self._slices = ObjectCache({"namespace": _namespace, "service": _slice_owner})
        self._nodes = ObjectCache()
        self._informers = [
            Informer(store, collection_prefix("services"), self._services, self._on_service),
            Informer(store, collection_prefix("pods"), self._pods, self._on_pod),
            Informer(store, collection_prefix("endpoints"), self._endpoints, self._on_endpoints),
            Informer(store, collection_prefix("endpointslices"), self._slices, self._on_slice),
            Informer(store, collection_prefix("nodes"), self._nodes, self._on_node),
        ]
        self._initial: set[ServiceKey] | None = None  # keys still to reconcile before ready
        super().__init__(self._queue)

    # -- lifecycle ---------------------------------------------------------------------------

    def _start_tasks(self, group: asyncio.TaskGroup) -> list[asyncio.Task[Any]]:
        tasks = [
            group.create_task(inf.run(), name=f"endpointslice-informer:{inf.prefix}")
            for inf in self._informers
        ]
        # Workers join this same list once the caches have synced, so stop() cancels them too.
        tasks.append(
            group.create_task(self._start_workers(group, tasks), name="endpointslice-start")
        )
        return tasks

    async def _start_workers(
        self, group: asyncio.TaskGroup, tasks: list[asyncio.Task[Any]]
    ) -> None:
        # Like kube's WaitForCacheSync: reconciling against half-filled caches would delete
        # slices whose pods simply have not been listed yet.
        await asyncio.gather(*(inf.synced.wait() for inf in self._informers))
        initial = self._all_keys()
        self._initial = set(initial)
        for key in initial:
            self._queue.add(key)
        self._check_ready()
        for number in range(self._workers):
            tasks.append(group.create_task(self._worker(), name=f"endpointslice-worker-{number}"))
        tasks.append(group.create_task(self._resync(), name="endpointslice-resync"))

    def _all_keys(self) -> set[ServiceKey]:
        """Every Service, plus owners named by slices and Endpoints (to clean up leftovers)."""
        keys = {
            (_meta(s).get("namespace", ""), _meta(s).get("name", ""))
            for s in self._services.values()
        }
        for slice_ in self._slices.values():
            keys.update(_slice_owner(slice_))
        for endpoints in self._endpoints.values():
            keys.add((_meta(endpoints).get("namespace", ""), _meta(endpoints).get("name", "")))
        return keys

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self._resync_interval)
            for key in self._all_keys():
                self._queue.add(key, self._debounce)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self._queue.get()
            except QueueShutDown:
                return
            # Let the server breathe between reconciles: a backlog of thousands of
            # no-op syncs must not hold the event loop (seen with 10k Services).
            await asyncio.sleep(0)
            try:
                await self._sync(key)
            except (VersionConflict, KeyExists, KeyNotFound) as exc:
                # Our cache was behind the store; the watch will catch up before the retry.
                log.debug("endpointslice sync of %s/%s raced: %s", *key, exc)
                self._queue.retry(key)
            except Exception:
                delay = self._queue.retry(key)
                log.exception("endpointslice sync of %s/%s failed; retrying in %.2fs", *key, delay)
            else:
                self._queue.forget(key)
            finally:
                self._queue.done(key)
                if self._initial is not None:
                    self._initial.discard(key)
                    self._check_ready()

    def _check_ready(self) -> None:
        if self._initial is not None and not self._initial:
            self.ready.set()

    # -- event handlers (called by informers; must not block) --------------------------------

    def _enqueue(self, key: ServiceKey) -> None:
        self._queue.add(key, self._debounce)

    def _on_service(self, key: str, old: JSON | None, new: JSON | None) -> None:
        meta = _meta(new or old)
        self._enqueue((meta.get("namespace", ""), meta.get("name", "")))

    def _on_endpoints(self, key: str, old: JSON | None, new: JSON | None) -> None:
        self._on_service(key, old, new)  # an Endpoints object is named after its Service

    def _on_slice(self, key: str, old: JSON | None, new: JSON | None) -> None:
        for owner in {*_slice_owner(old or {}), *_slice_owner(new or {})}:
            self._enqueue(owner)

    def _on_pod(self, key: str, old: JSON | None, new: JSON | None) -> None:
        self._enqueue_selecting(p for p in (old, new) if p is not None)

    def _on_node(self, key: str, old: JSON | None, new: JSON | None) -> None:
        if _zone(old) == _zone(new):
            return
        name = _meta(new or old).get("name", "")
        self._enqueue_selecting(self._pods.by("node", name))

    def _enqueue_selecting(self, pods: Iterable[JSON]) -> None:
        for pod in pods:
            for service in self._services.by("namespace", _meta(pod).get("namespace", "")):
                if selects_pod(service, pod):
                    self._enqueue((_meta(service)["namespace"], _meta(service)["name"]))

    # -- reconciliation ----------------------------------------------------------------------

    async def _sync(self, key: ServiceKey) -> None:
        namespace, name = key
        service = self._services.get(object_key("services", namespace, name))
        endpoints = self._endpoints.get(object_key("endpoints", namespace, name))
        owned = self._slices.by("service", key)
        mine = [s for s in owned if _manager(s) == CONTROLLER_NAME]
        mirrored = [s for s in owned if _manager(s) == MIRRORING_CONTROLLER_NAME]
        owned_names = {_meta(s).get("name", "") for s in owned}
        others = _OtherSliceNames(self._slices, namespace, owned_names)

        if service is None:
            await self._apply(SliceDiff(to_delete=tuple(mine + mirrored)), creating=False)
            if endpoints is not None and _controller_made(endpoints):
                await self._delete("endpoints", endpoints)
            return

        creating = not _meta(service).get("deletionTimestamp")
        if wants_endpoint_slices(service):
            pods = self._pods.by("namespace", namespace)
            zones = {
                n: z
                for node in self._nodes.values()
                if (n := _meta(node).get("name")) and (z := _zone(node))
            }
            desired = compute_endpoint_slices(
                service, pods, existing=mine, node_zones=zones, taken_names=others
            )
            await self._apply(diff_endpoint_slices(desired, mine), creating=creating)
            await self._apply(SliceDiff(to_delete=tuple(mirrored)), creating=False)
            wanted = plan_endpoints(compute_endpoints(service, pods), endpoints)
            if wanted is not None and endpoints is None and creating:
                await self._create("endpoints", wanted)
            elif wanted is not None and endpoints is not None:
                await self._update("endpoints", wanted)
            return

        # kube's endpointslice controller leaves stale slices behind when a Service loses its
        # selector or becomes ExternalName; we remove them, since nothing else would.
        await self._apply(SliceDiff(to_delete=tuple(mine)), creating=False)
        if should_mirror(service, endpoints):
            assert endpoints is not None
            desired = mirror_endpoint_slices(
                endpoints,
                existing=mirrored,
                taken_names=others.plus(_meta(s)["name"] for s in mine),
            )
            await self._apply(diff_endpoint_slices(desired, mirrored), creating=creating)
        else:
            await self._apply(SliceDiff(to_delete=tuple(mirrored)), creating=False)

    async def _apply(self, diff: SliceDiff, *, creating: bool) -> None:
        # Create before delete, so a Service is never briefly without endpoints.
        if creating:
            for slice_ in diff.to_create:
                await self._create("endpointslices", slice_)
        for slice_ in diff.to_update:
            await self._update("endpointslices", slice_)
        for slice_ in diff.to_delete:
            await self._delete("endpointslices", slice_)

    # -- writes (through the store, then straight into our cache) ----------------------------

    def _cache(self, resource: str) -> ObjectCache:
        return self._slices if resource == "endpointslices" else self._endpoints

    async def _create(self, resource: str, obj: JSON) -> None:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta["generation"] = 1
        key = object_key(resource, meta.get("namespace", ""), meta["name"])
        stored = await self._store.create(key, obj)
        self._cache(resource).upsert(key, stored)
        log.debug("created %s", key)

    async def _update(self, resource: str, obj: JSON) -> None:
        meta = obj["metadata"]
        expected = resource_version(obj)
        meta["generation"] = int(meta.get("generation") or 0) + 1
        key = object_key(resource, meta.get("namespace", ""), meta["name"])
        stored = await self._store.update(key, obj, expected_revision=expected)
        self._cache(resource).upsert(key, stored)
        log.debug("updated %s", key)

    async def _delete(self, resource: str, obj: JSON) -> None:
        meta = _meta(obj)
        key = object_key(resource, meta.get("namespace", ""), meta.get("name", ""))
        try:
            last = await self._store.delete(key, expected_revision=resource_version(obj))
        except KeyNotFound:
            self._cache(resource).remove(key, resource_version(obj))
            return
        self._cache(resource).remove(key, resource_version(last))
        log.debug("deleted %s", key)


def _manager(slice_: JSON) -> str | None:
    return (_meta(slice_).get("labels") or {}).get(MANAGED_BY_LABEL)


def _controller_made(endpoints: JSON) -> bool:
    """Endpoints we wrote (and may delete with the Service) carry skip-mirror=true."""
    labels = _meta(endpoints).get("labels") or {}
    return labels.get(SKIP_MIRROR_LABEL) == "true"


class _OtherSliceNames:
    """Slice names in a namespace that belong to other Services, checked by lookup instead
    of being collected (collecting them per Service made a full resync quadratic)."""

    __slots__ = ("_cache", "_extra", "_namespace", "_owned")

    def __init__(
        self,
        cache: ObjectCache,
        namespace: str,
        owned: set[str],
        extra: frozenset[str] = frozenset(),
    ) -> None:
        self._cache = cache
        self._namespace = namespace
        self._owned = owned
        self._extra = extra

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name in self._extra:
            return True
        if name in self._owned:
            return False
        return self._cache.get(object_key("endpointslices", self._namespace, name)) is not None

    def plus(self, names: Iterable[str]) -> _OtherSliceNames:
        return _OtherSliceNames(
            self._cache, self._namespace, self._owned, self._extra | frozenset(names)
        )
