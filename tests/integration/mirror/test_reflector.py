"""The reflector itself against a real upstream: a paginated initial list, and watches that
the server ends by their timeout resumed from the last resourceVersion without a relist."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from integration.mirror.kit import audit_events
from integration.proxy.harness import Cluster, Kubegate
from kubegate.client.api_watch import WatchClient
from kubegate.client.backoff import Backoff
from kubegate.client.kubeconfig_loader import load_client_config
from kubegate.client.reflector import Reflector


class RecordingSink:
    """A ReflectorSink that keeps what it was given."""

    def __init__(self) -> None:
        self.replaced: list[list[str]] = []
        self.events: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    async def replace(self, items: list[dict[str, Any]]) -> int:
        self.replaced.append(sorted(i["metadata"]["name"] for i in items))
        return len(items)

    async def apply(self, event_type: str, obj: dict[str, Any]) -> None:
        self.events.append((event_type, obj["metadata"]["name"]))
        self.changed.set()


def watches(audit: Path, path: str) -> list[dict[str, list[str]]]:
    """The queries of the watches of ``path`` the upstream has finished serving."""
    queries = [
        parse_qs(urlsplit(e["requestURI"]).query)
        for e in audit_events(audit)
        if e["requestURI"].startswith(path + "?") and e.get("stage") == "ResponseComplete"
    ]
    return [q for q in queries if q.get("watch") == ["true"]]


async def eventually_true(check: Callable[[], bool], within: float = 15.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def service(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}


@pytest.fixture
async def client(upstream: Kubegate) -> AsyncIterator[WatchClient]:
    config = load_client_config(
        kubeconfig=upstream.process.kubeconfig,
        context=None,
        cluster=None,
        user=None,
        namespace=None,
        env={},
        cwd=Path.cwd(),
    )
    client = WatchClient(config, timeout=10, watch_idle_timeout=15)
    yield client
    await client.aclose()


async def running(reflector: Reflector) -> asyncio.Task[None]:
    task = asyncio.create_task(reflector.run(), name="test-reflector")
    await asyncio.wait_for(reflector.synced.wait(), 10)
    return task


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_initial_list_follows_every_page(cluster: Cluster, client, upstream_audit):
    """Five Services listed two at a time: three pages, one complete replace."""
    path = f"/api/v1/namespaces/{cluster.namespace}/services"
    for i in range(5):
        await cluster.create(path, service(f"s{i}"))
    sink = RecordingSink()
    reflector = Reflector(client, path, sink, name="svc", backoff=Backoff(), page_size=2)
    task = await running(reflector)
    await stopped(task)
    assert sink.replaced == [[f"s{i}" for i in range(5)]]
    pages = [
        parse_qs(urlsplit(e["requestURI"]).query)
        for e in audit_events(upstream_audit)
        if e["requestURI"].startswith(path + "?") and e.get("stage") == "ResponseComplete"
    ]
    lists = [q for q in pages if "watch" not in q]
    assert [q["limit"] for q in lists] == [["2"]] * 3
    assert sum("continue" in q for q in lists) == 2


async def test_a_watch_ended_by_its_timeout_resumes_without_a_relist(
    cluster: Cluster, client, upstream_audit
):
    """Watches the server ends after 1-2 s are resumed from their resourceVersion: a
    change after two of them still arrives, and the list ran only once."""
    path = f"/api/v1/namespaces/{cluster.namespace}/services"
    sink = RecordingSink()
    reflector = Reflector(client, path, sink, name="svc", backoff=Backoff(), watch_timeout=1.0)
    task = await running(reflector)
    try:
        ended = await eventually_true(lambda: len(watches(upstream_audit, path)) >= 2)
        assert ended, "the upstream never ended two watches"
        assert all(q.get("resourceVersion", [""])[0] for q in watches(upstream_audit, path))
        await cluster.create(path, service("late"))
        await asyncio.wait_for(sink.changed.wait(), 10)
    finally:
        await stopped(task)
    assert sink.events == [("ADDED", "late")]
    assert reflector.status.lists == 1 and reflector.status.relists == 0
    assert reflector.status.errors == 0


async def test_resync_period_relists_and_replaces_the_view(cluster: Cluster, client):
    """With a 1 s resync period the reflector lists again on its own, each list a replace."""
    path = f"/api/v1/namespaces/{cluster.namespace}/services"
    await cluster.create(path, service("kept"))
    sink = RecordingSink()
    reflector = Reflector(client, path, sink, name="svc", backoff=Backoff(), resync_period=1.0)
    task = await running(reflector)
    try:
        relisted = await eventually_true(lambda: reflector.status.relists >= 2)
    finally:
        await stopped(task)
    assert relisted, reflector.status
    assert sink.replaced[:3] == [["kept"]] * 3
    assert reflector.status.errors == 0
