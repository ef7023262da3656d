"""The ClusterRole aggregation controller (kube-controller-manager's
clusterrole-aggregation): a ClusterRole with an ``aggregationRule`` gets, as its ``rules``,
the union of the rules of every other ClusterRole its ``clusterRoleSelectors`` match.

ClusterRoles are mirrored by an informer; any change queues every aggregated ClusterRole
(as kube does: a label or rule change anywhere may alter any union, and chains such as
view -> edit -> admin settle over successive passes because each write is itself a change).
A worker recomputes one role at a time with ``core.rbac.aggregate_rules`` and writes only
when the union differs. Failures re-queue the role with backoff.

Lifecycle as the EndpointSlice controller: ``run()`` until cancelled or ``stop()``; every
task is named and owned by one TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubegate.controllers.lifecycle import ControllerLifecycle
from kubegate.controllers.workqueue import QueueShutDown, WorkQueue
from kubegate.core.rbac import LabeledRole, aggregate_rules, aggregation_selectors, rules_from_json
from kubegate.store.base import JSON, KeyNotFound, Store, collection_prefix, object_key
from kubegate.store.informer import Informer, ObjectCache

log = logging.getLogger(__name__)


def _labeled(obj: JSON) -> LabeledRole:
    meta = obj.get("metadata") or {}
    return LabeledRole(
        str(meta.get("name", "")), meta.get("labels") or {}, rules_from_json(obj.get("rules"))
    )


class ClusterRoleAggregationController(ControllerLifecycle):
    def __init__(
        self,
        store: Store,
        *,
        debounce: float = 0.01,
        retry_base_delay: float = 0.05,
        retry_max_delay: float = 30.0,
    ) -> None:
        self._store = store
        self._debounce = debounce
        self._roles = ObjectCache()
        self._informer = Informer(
            store, collection_prefix("clusterroles"), self._roles, self._on_change
        )
        self._queue: WorkQueue[str] = WorkQueue(
            base_delay=retry_base_delay, max_delay=retry_max_delay
        )
        super().__init__(self._queue)

    def _start_tasks(self, group: asyncio.TaskGroup) -> list[asyncio.Task[Any]]:
        return [
            group.create_task(self._informer.run(), name="clusterrole-aggregation-informer"),
            group.create_task(self._worker(), name="clusterrole-aggregation-worker"),
        ]

    @property
    def idle(self) -> bool:
        """Synced, and nothing queued or in progress (for tests and readiness)."""
        return self._informer.synced.is_set() and self._queue.idle

    def _on_change(self, key: str, old: JSON | None, new: JSON | None) -> None:
        for obj in self._roles.values():
            if aggregation_selectors(obj) is not None:
                self._queue.add(str(obj["metadata"]["name"]), self._debounce)

    async def _worker(self) -> None:
        while True:
            try:
                name = await self._queue.get()
            except QueueShutDown:
                return
            try:
                await self._sync(name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store failure or conflict: try again later
                delay = self._queue.retry(name)
                log.warning(
                    "aggregating ClusterRole %s failed (%s); retry in %.2fs", name, exc, delay
                )
            else:
                self._queue.forget(name)
            finally:
                self._queue.done(name)

    async def _sync(self, name: str) -> None:
        key = object_key("clusterroles", "", name)
        current = self._roles.get(key)
        if current is None:
            return
        selectors = aggregation_selectors(current)
        if selectors is None:
            return
        wanted = [
            rule.to_json()
            for rule in aggregate_rules(
                name, selectors, (_labeled(o) for o in self._roles.values())
            )
        ]
        if rules_from_json(current.get("rules")) == rules_from_json(wanted):
            return

        def mutate(obj: JSON) -> JSON:
            if aggregation_selectors(obj) is not None:
                obj["rules"] = wanted
            return obj

        try:
            stored: dict[str, Any] = await self._store.guaranteed_update(key, mutate)
        except KeyNotFound:
            return
        # Our own write reaches the cache now, so the watch event for it will be a no-op:
        # queue the roles that may aggregate this one here instead.
        changed = self._roles.upsert(key, stored)
        if changed is not None:
            self._on_change(key, changed[0], changed[1])
        log.info("ClusterRole %s now aggregates %d rules", name, len(wanted))
