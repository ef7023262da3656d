"""The mirror's sinks on a real (memory) store: a list replaces the collection as client-go's
informer Replace() does (what the list lacks is deleted, what it has is kept), a namespace
gone upstream takes the mirror's own objects in it along but no mirrored object, and a
mirror's start does not finalize the upstream's Terminating namespaces."""

from __future__ import annotations

from typing import Any

import pytest

from kubegate.api.resources import ResourceType, lookup
from kubegate.server.allocators import Allocators
from kubegate.server.mirror_namespaces import NamespaceSink, local_namespaced_types
from kubegate.server.mirror_sink import StoreSink
from kubegate.server.namespaces import NamespaceLifecycle
from kubegate.store.base import KeyNotFound, collection_prefix, object_key
from kubegate.store.memory import MemoryStore


def rt(plural: str, group: str = "") -> ResourceType:
    found = lookup(group, "v1", plural)
    assert found is not None
    return found


NAMESPACES, SERVICES, PODS = rt("namespaces"), rt("services"), rt("pods")
SLICES = rt("endpointslices", "discovery.k8s.io")
MIRRORED = (NAMESPACES, rt("nodes"), SERVICES, SLICES, PODS)


def obj(name: str, namespace: str = "", **fields: Any) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, **fields}


async def names(store: MemoryStore, plural: str, namespace: str = "") -> list[str]:
    page = await store.list(collection_prefix(plural, namespace))
    return sorted(o["metadata"]["name"] for o in page.items)


async def put(store: MemoryStore, plural: str, item: dict[str, Any]) -> None:
    meta = item["metadata"]
    await store.create(object_key(plural, meta.get("namespace", ""), meta["name"]), item)


async def test_a_list_deletes_what_it_lacks_and_keeps_what_it_has(store):
    """replace() with a list missing one stored Service deletes exactly that Service."""
    sink = StoreSink(store, SERVICES)
    await sink.replace([obj("a", "ns"), obj("b", "ns"), obj("c", "other")])
    assert await sink.replace([obj("a", "ns"), obj("c", "other")]) == 1
    assert await names(store, "services") == ["a", "c"]


async def test_an_unchanged_list_writes_nothing(store):
    """A relist of what is stored already is no write at all (no MODIFIED burst)."""
    sink = StoreSink(store, SERVICES)
    items = [obj("a", "ns", spec={"ports": [{"port": 80}]})]
    await sink.replace(items)
    before = (await store.get(object_key("services", "ns", "a")))["metadata"]["resourceVersion"]
    assert await sink.replace(items) == 0
    after = (await store.get(object_key("services", "ns", "a")))["metadata"]["resourceVersion"]
    assert after == before


async def test_a_namespace_deleted_upstream_takes_local_objects_along(store):
    """A DELETED Namespace event deletes the mirror's own ConfigMap and RoleBinding in it."""
    sink = NamespaceSink(store, NAMESPACES, local_namespaced_types(MIRRORED))
    await sink.replace([obj("gone"), obj("kept")])
    await put(store, "configmaps", obj("settings", "gone"))
    await put(store, "rolebindings", obj("team", "gone"))
    await put(store, "configmaps", obj("settings", "kept"))
    await sink.apply("DELETED", obj("gone"))
    assert await names(store, "configmaps", "gone") == []
    assert await names(store, "rolebindings", "gone") == []
    assert await names(store, "configmaps", "kept") == ["settings"]
    assert await names(store, "namespaces") == ["kept"]


async def test_a_namespace_missing_from_a_relist_takes_local_objects_along(store):
    """A namespace absent from the next list (a missed event) is cascaded the same way."""
    sink = NamespaceSink(store, NAMESPACES, local_namespaced_types(MIRRORED))
    await sink.replace([obj("gone"), obj("kept")])
    await put(store, "secrets", obj("token", "gone"))
    await sink.replace([obj("kept")])
    assert await names(store, "secrets", "gone") == []
    assert await names(store, "namespaces") == ["kept"]


async def test_the_cascade_leaves_mirrored_objects_to_their_reflectors(store):
    """Pods, Services and EndpointSlices of a deleted namespace are not touched by the
    namespace's cascade: their own reflectors delete them (and only they know whether a
    namespace of the same name was created again upstream meanwhile)."""
    sink = NamespaceSink(store, NAMESPACES, local_namespaced_types(MIRRORED))
    await sink.replace([obj("ns")])
    await put(store, "pods", obj("p", "ns"))
    await put(store, "services", obj("s", "ns"))
    await put(store, "endpointslices", obj("e", "ns"))
    await sink.apply("DELETED", obj("ns"))
    assert await names(store, "pods", "ns") == ["p"]
    assert await names(store, "services", "ns") == ["s"]
    assert await names(store, "endpointslices", "ns") == ["e"]


async def test_local_types_are_the_namespaced_types_not_mirrored():
    """ConfigMaps, Secrets, RoleBindings and Endpoints are local; mirrored kinds are not."""
    local = {t.plural for t in local_namespaced_types(MIRRORED)}
    assert {"configmaps", "secrets", "serviceaccounts", "rolebindings", "endpoints"} <= local
    assert not local & {"pods", "services", "endpointslices", "namespaces", "nodes"}


async def test_a_failed_cascade_keeps_the_namespace_for_the_next_list(store):
    """If deleting the local objects fails, the namespace stays stored, so the reflector's
    next list finds it missing upstream again and retries."""

    class Failing(MemoryStore):
        async def delete(self, key: str, **kwargs: Any) -> dict[str, Any]:
            if key.startswith("/registry/configmaps/"):
                raise RuntimeError("store down")
            return await super().delete(key, **kwargs)

    failing = Failing()
    await failing.start()
    try:
        sink = NamespaceSink(failing, NAMESPACES, local_namespaced_types(MIRRORED))
        await sink.replace([obj("ns")])
        await put(failing, "configmaps", obj("c", "ns"))
        with pytest.raises(RuntimeError):
            await sink.replace([])
        assert await names(failing, "namespaces") == ["ns"]
    finally:
        await failing.close()


async def test_a_mirror_start_does_not_finalize_terminating_namespaces(store):
    """bootstrap(resume_deletions=False) leaves a Terminating namespace and its Pods alone;
    a plain server's bootstrap finalizes it."""
    terminating = obj("ns", status={"phase": "Terminating"})
    await put(store, "namespaces", terminating)
    await put(store, "pods", obj("p", "ns"))
    lifecycle = NamespaceLifecycle(store, Allocators(store, "10.96.0.0/12"))
    await lifecycle.bootstrap(resume_deletions=False)
    await lifecycle.close()
    assert await names(store, "pods", "ns") == ["p"]
    assert "ns" in await names(store, "namespaces")
    await lifecycle.bootstrap()
    await lifecycle.close()
    assert await names(store, "pods", "ns") == []
    with pytest.raises(KeyNotFound):
        await store.get(object_key("namespaces", "", "ns"))
