"""EndpointSliceController against the real stores (MemoryStore and SqliteStore): a script
of store writes and the slices and Endpoints the controller converges to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubegate.controllers.endpointslice import EndpointSliceController
from kubegate.core.endpoint_labels import (
    MANAGED_BY_LABEL,
    MIRRORING_CONTROLLER_NAME,
    SERVICE_NAME_LABEL,
)
from kubegate.store.base import KeyNotFound, Store, collection_prefix, object_key
from kubegate.store.memory import MemoryStore
from kubegate.store.sqlite import SqliteStore

JSON = dict[str, Any]
T = TypeVar("T")
NS = "default"


async def eventually(check: Callable[[], Awaitable[T]], within: float = 5.0) -> T:
    """Poll ``check`` until it stops raising AssertionError (or the timeout passes)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.01)


def service(name: str = "web", selector: dict[str, str] | None = None, **spec: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"},
        "spec": {
            "selector": {"app": name} if selector is None else selector,
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            "clusterIP": "10.96.0.10",
            **spec,
        },
    }


def pod(name: str, ip: str, *, app: str = "web", ready: bool = True) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "labels": {"app": app}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


async def put(store: Store, resource: str, obj: JSON) -> JSON:
    key = object_key(resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
    try:
        current = await store.get(key)
    except KeyNotFound:
        return await store.create(key, obj)
    obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    return await store.update(key, obj)


async def get_or_none(store: Store, key: str) -> JSON | None:
    try:
        return await store.get(key)
    except KeyNotFound:
        return None


async def slices(store: Store, service_name: str = "web") -> list[JSON]:
    items = (await store.list(collection_prefix("endpointslices", NS))).items
    return [s for s in items if s["metadata"]["labels"].get(SERVICE_NAME_LABEL) == service_name]


async def ready_by_pod(store: Store, service_name: str = "web") -> dict[str, bool]:
    return {
        ep["targetRef"]["name"]: ep["conditions"]["ready"]
        for s in await slices(store, service_name)
        for ep in s["endpoints"]
    }


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each scenario runs on the reference MemoryStore and on the default SqliteStore."""
    store: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "db")
    await store.start()
    yield store
    await store.close()


class Running:
    """Starts controllers on a store and stops them, checking no task is left behind."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.runs: list[tuple[EndpointSliceController, asyncio.Task[None]]] = []

    async def start(self, **options: Any) -> EndpointSliceController:
        controller = EndpointSliceController(self.store, **options)
        task = asyncio.create_task(controller.run(), name="test-endpointslice-controller")
        self.runs.append((controller, task))
        await asyncio.wait_for(controller.ready.wait(), 5)
        return controller

    async def stop_all(self) -> None:
        for controller, task in self.runs:
            await controller.stop()
            await asyncio.wait_for(task, 5)
        self.runs.clear()
        leaked = [t for t in asyncio.all_tasks() if t.get_name().startswith("endpointslice")]
        assert leaked == []


@pytest.fixture
async def running(store: Store) -> AsyncIterator[Running]:
    runner = Running(store)
    yield runner
    await runner.stop_all()


async def test_service_and_pods_get_a_slice_and_endpoints(store, running):
    """Creating a Service and its pods produces one slice and the legacy Endpoints."""
    await running.start()
    await put(store, "services", service())
    await put(store, "pods", pod("a", "10.0.0.1"))
    await put(store, "pods", pod("b", "10.0.0.2", ready=False))
    await put(store, "pods", pod("other", "10.0.0.3", app="db"))

    async def check() -> None:
        assert await ready_by_pod(store) == {"a": True, "b": False}
        endpoints = await get_or_none(store, object_key("endpoints", NS, "web"))
        assert endpoints is not None
        assert len(endpoints.get("subsets", [])) == 1
        subset = endpoints["subsets"][0]
        assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1"]
        assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.2"]

    await eventually(check)
    (slice_,) = await slices(store)
    meta = slice_["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] >= 1
    assert (slice_["apiVersion"], slice_["kind"]) == ("discovery.k8s.io/v1", "EndpointSlice")
    assert meta["ownerReferences"][0]["uid"] == "uid-web"


async def test_pod_becoming_ready_updates_the_slice(store, running):
    """A pod's Ready condition turning True flips its endpoint to ready."""
    await put(store, "services", service())
    await put(store, "pods", pod("a", "10.0.0.1", ready=False))
    await running.start()

    async def unready() -> None:
        assert await ready_by_pod(store) == {"a": False}

    await eventually(unready)
    (before,) = await slices(store)
    await put(store, "pods", pod("a", "10.0.0.1", ready=True))

    async def ready() -> None:
        assert await ready_by_pod(store) == {"a": True}

    await eventually(ready)
    (after,) = await slices(store)
    assert after["metadata"]["name"] == before["metadata"]["name"]
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1


async def test_deleted_pod_leaves_the_slice(store, running):
    """Deleting a pod removes its endpoint."""
    await put(store, "services", service())
    await put(store, "pods", pod("a", "10.0.0.1"))
    await put(store, "pods", pod("b", "10.0.0.2"))
    await running.start()
    assert await ready_by_pod(store) == {"a": True, "b": True}

    await store.delete(object_key("pods", NS, "a"))

    async def check() -> None:
        assert await ready_by_pod(store) == {"b": True}

    await eventually(check)


async def test_deleted_service_takes_its_slices_and_endpoints(store, running):
    """Deleting a Service deletes the slices and the Endpoints the controller made for it."""
    await put(store, "services", service())
    await put(store, "pods", pod("a", "10.0.0.1"))
    await running.start()
    assert len(await slices(store)) == 1

    await store.delete(object_key("services", NS, "web"))

    async def check() -> None:
        assert await slices(store) == []
        assert await get_or_none(store, object_key("endpoints", NS, "web")) is None

    await eventually(check)


async def test_large_service_spans_several_slices(store, running):
    """150 pods make several slices of at most 100 endpoints each.

    How they split depends on how the pods trickled in: like kube, the controller fills
    slices as pods arrive and never rebalances endpoints that are already placed."""
    await running.start()
    await put(store, "services", service())
    for i in range(150):
        await put(store, "pods", pod(f"p{i:03}", f"10.0.{i // 200}.{i % 200 + 1}"))

    async def check() -> None:
        found = await slices(store)
        assert len(await ready_by_pod(store)) == 150
        assert len(found) >= 2 and all(len(s["endpoints"]) <= 100 for s in found)

    await eventually(check)


async def test_hand_made_endpoints_of_selectorless_service_are_mirrored(store, running):
    """A user's Endpoints for a selector-less Service is mirrored into a slice, and unmirrored
    when the Endpoints goes away."""
    await running.start()
    await put(store, "services", service("ext", selector={}))
    await put(
        store,
        "endpoints",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "ext", "namespace": NS, "uid": "uid-ep"},
            "subsets": [
                {
                    "addresses": [{"ip": "192.168.1.1"}],
                    "notReadyAddresses": [{"ip": "192.168.1.2"}],
                    "ports": [{"name": "http", "port": 8443}],
                }
            ],
        },
    )

    async def mirrored() -> JSON:
        found = await slices(store, "ext")
        assert len(found) == 1
        slice_ = found[0]
        assert slice_["metadata"]["labels"][MANAGED_BY_LABEL] == MIRRORING_CONTROLLER_NAME
        assert [(e["addresses"][0], e["conditions"]["ready"]) for e in slice_["endpoints"]] == [
            ("192.168.1.1", True),
            ("192.168.1.2", False),
        ]
        return slice_

    slice_ = await eventually(mirrored)
    assert slice_["ports"] == [{"name": "http", "port": 8443, "protocol": "TCP"}]

    await store.delete(object_key("endpoints", NS, "ext"))

    async def gone() -> None:
        assert await slices(store, "ext") == []

    await eventually(gone)


async def test_restart_converges_without_duplicates(store, running):
    """A new controller adopts the slices of the old one and catches up on missed changes."""
    await put(store, "services", service())
    await put(store, "pods", pod("a", "10.0.0.1"))
    await running.start()
    (first,) = await slices(store)
    await running.stop_all()

    await put(store, "pods", pod("b", "10.0.0.2"))
    revision = store.revision
    await running.start()
    assert await ready_by_pod(store) == {"a": True, "b": True}
    (again,) = await slices(store)
    assert again["metadata"]["name"] == first["metadata"]["name"]
    assert again["metadata"]["uid"] == first["metadata"]["uid"]

    # Once converged, a further restart writes nothing.
    await running.stop_all()
    settled = store.revision
    assert settled > revision
    await running.start()
    assert store.revision == settled


async def test_two_controllers_never_duplicate_slices(store, running):
    """Even two replicas racing (before leader election exists) end with one slice."""
    await running.start()
    await running.start()
    await put(store, "services", service())
    await put(store, "pods", pod("a", "10.0.0.1"))

    async def check() -> None:
        assert await ready_by_pod(store) == {"a": True}
        assert len(await slices(store)) == 1

    await eventually(check)


async def test_recovers_from_an_overflowed_watch(store, running, caplog):
    """When a watch falls behind and ends, the controller relists and still converges."""
    if not isinstance(store, MemoryStore):
        pytest.skip("only MemoryStore writes never yield, so only it can be overrun on purpose")
    caplog.set_level(logging.INFO, logger="kubegate.store.informer")
    await running.start()
    await put(store, "services", service())
    # MemoryStore writes do not yield, so this burst overflows a 1000-event watch buffer.
    for i in range(1100):
        await put(store, "pods", pod(f"p{i:04}", f"10.1.{i // 250}.{i % 250 + 1}", app="noise"))
    await put(store, "pods", pod("a", "10.0.0.1"))

    async def check() -> None:
        assert await ready_by_pod(store) == {"a": True}

    await eventually(check, within=10)
    assert "lost its place" in caplog.text


async def test_selector_change_moves_endpoints(store, running):
    """Relabelling a pod moves it from one Service's slices to another's."""
    await running.start()
    await put(store, "services", service("web"))
    await put(store, "services", service("db"))
    await put(store, "pods", pod("a", "10.0.0.1", app="web"))

    async def on_web() -> None:
        assert await ready_by_pod(store, "web") == {"a": True}

    await eventually(on_web)
    await put(store, "pods", pod("a", "10.0.0.1", app="db"))

    async def on_db() -> None:
        assert await ready_by_pod(store, "web") == {}
        assert await ready_by_pod(store, "db") == {"a": True}

    await eventually(on_db)


async def test_stop_before_ready_is_clean(store):
    """Stopping a controller right after starting it ends run() without leftover tasks."""
    controller = EndpointSliceController(store)
    task = asyncio.create_task(controller.run(), name="test-endpointslice-controller")
    await asyncio.sleep(0)
    await controller.stop()
    await asyncio.wait_for(task, 5)
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("endpointslice")] == []
