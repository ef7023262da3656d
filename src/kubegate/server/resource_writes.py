"""Writing a changed object, as create, update and patch share it once a body is decoded:
the RBAC escalation check, kube's update strategy, and the store write with a Service's
ClusterIP and NodePort allocations following its new spec."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kubegate.api import strategy
from kubegate.api.resources import ResourceType
from kubegate.api.validation import validate
from kubegate.auth.types import UserInfo
from kubegate.server.allocators import Allocators, ServiceUpdate
from kubegate.server.context import RequestContext
from kubegate.store.base import Store

JSON = dict[str, Any]
# Writes of these kinds may not grant what the writer lacks (kube's policy-based RBAC storage).
RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
# (user, kind, namespace, new object, old object or None on create) -> None, or raise an
# APIError; ``auth.escalation.EscalationGuard`` is the one in use under RBAC.
EscalationCheck = Callable[[UserInfo, str, str, JSON, JSON | None], Awaitable[None]]


def prepare_update(rt: ResourceType, new: JSON, old: JSON, status_only: bool) -> JSON:
    """Apply kube's update strategy (or its status-subresource variant) to ``new``."""
    if status_only:
        return strategy.prepare_status_update(rt.kind, new, old)
    new["metadata"]["namespace"] = old["metadata"].get("namespace")
    if not new["metadata"].get("namespace"):
        new["metadata"].pop("namespace", None)
    return strategy.prepare_update(rt.kind, new, old)


class ObjectWrites:
    """The stateful steps of a write: escalation checks and allocation-aware updates."""

    def __init__(
        self, store: Store, allocators: Allocators, escalation_check: EscalationCheck | None
    ) -> None:
        self.store = store
        self.allocators = allocators
        self.escalation_check = escalation_check

    async def confirm_no_escalation(
        self, ctx: RequestContext, rt: ResourceType, new: JSON, old: JSON | None
    ) -> None:
        """Refuse a Role or binding granting more than the requesting (effective) user holds,
        dry runs included. Runs on a defaulted, validated object, so an invalid update is
        answered 422 before any 403, as a create is."""
        if self.escalation_check is None or rt.kind not in RBAC_KINDS:
            return
        assert ctx.user is not None
        if old is not None:
            validate(rt.kind, new, old)
        namespace = ctx.info.namespace if rt.namespaced else ""
        await self.escalation_check(ctx.user, rt.kind, namespace, new, old)

    async def store_update(
        self,
        rt: ResourceType,
        key: str,
        new: JSON,
        old: JSON,
        expected: int | None,
        status_only: bool,
    ) -> JSON:
        """Validate and write an update; a Service's allocations follow its new spec."""
        change = (
            ServiceUpdate(self.allocators) if rt.kind == "Service" and not status_only else None
        )
        if change is not None:
            await change.prepare(new, old, key)
        try:
            validate(rt.kind, new, old)
            stored = await self.store.update(key, new, expected)
        except BaseException:
            if change is not None:
                await change.rollback()
            raise
        if change is not None:
            await change.commit()
        return stored
