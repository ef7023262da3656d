"""The bootstrap policy and the ClusterRole aggregation controller against a real MemoryStore."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kubegate.auth.bootstrap_policy import ensure_bootstrap_policy
from kubegate.controllers.clusterrole_aggregation import ClusterRoleAggregationController
from kubegate.store.base import Store, object_key
from kubegate.store.memory import MemoryStore

JSON = dict[str, Any]
CRD_READ = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}


async def eventually(check: Callable[[], Awaitable[None]], within: float = 5.0) -> None:
    """Poll ``check`` until it stops raising AssertionError (or the timeout passes)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            await check()
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.01)


async def rules(store: Store, name: str) -> list[JSON]:
    return list((await store.get(object_key("clusterroles", "", name))).get("rules") or [])


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    await store.start()
    await ensure_bootstrap_policy(store)
    yield store
    await store.close()


@pytest.fixture
async def controller(store: MemoryStore) -> AsyncIterator[ClusterRoleAggregationController]:
    controller = ClusterRoleAggregationController(store)
    task = asyncio.create_task(controller.run(), name="test-aggregation")
    yield controller
    await controller.stop()
    await task


async def test_labelled_role_flows_into_view_edit_and_admin(
    store: MemoryStore, controller: ClusterRoleAggregationController
) -> None:
    """A ClusterRole labelled aggregate-to-view adds its rules to view, and through the
    chain to edit and admin."""
    await store.create(
        object_key("clusterroles", "", "widget-viewer"),
        {
            "kind": "ClusterRole",
            "metadata": {
                "name": "widget-viewer",
                "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            },
            "rules": [CRD_READ],
        },
    )

    async def check() -> None:
        for name in ("view", "edit", "admin"):
            assert CRD_READ in await rules(store, name), name

    await eventually(check)


async def test_removing_the_label_removes_the_rules(
    store: MemoryStore, controller: ClusterRoleAggregationController
) -> None:
    """When a role stops matching the selector, its rules leave the aggregated role."""
    key = object_key("clusterroles", "", "widget-viewer")
    await store.create(
        key,
        {
            "kind": "ClusterRole",
            "metadata": {
                "name": "widget-viewer",
                "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            },
            "rules": [CRD_READ],
        },
    )

    async def present() -> None:
        assert CRD_READ in await rules(store, "view")

    await eventually(present)

    def unlabel(obj: JSON) -> JSON:
        obj["metadata"]["labels"] = {}
        return obj

    await store.guaranteed_update(key, unlabel)

    async def gone() -> None:
        assert CRD_READ not in await rules(store, "view")
        assert CRD_READ not in await rules(store, "admin")

    await eventually(gone)


async def test_bootstrap_keeps_user_edits_and_restores_deleted_objects(store: MemoryStore) -> None:
    """A second bootstrap leaves an edited default alone and recreates a deleted one."""
    key = object_key("clusterroles", "", "system:basic-user")

    def edit(obj: JSON) -> JSON:
        obj["rules"] = [CRD_READ]
        return obj

    await store.guaranteed_update(key, edit)
    await store.delete(object_key("clusterrolebindings", "", "system:discovery"))
    created = await ensure_bootstrap_policy(store)
    assert created == [object_key("clusterrolebindings", "", "system:discovery")]
    assert await rules(store, "system:basic-user") == [CRD_READ]


async def test_role_without_aggregation_rule_is_left_alone(
    store: MemoryStore, controller: ClusterRoleAggregationController
) -> None:
    """A ClusterRole without an aggregationRule keeps its own rules, even when it feeds one."""
    await store.create(
        object_key("clusterroles", "", "feeder"),
        {
            "kind": "ClusterRole",
            "metadata": {
                "name": "feeder",
                "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
            },
            "rules": [CRD_READ],
        },
    )

    async def aggregated() -> None:
        assert CRD_READ in await rules(store, "admin")
        assert controller.idle

    await eventually(aggregated)
    assert await rules(store, "feeder") == [CRD_READ]
