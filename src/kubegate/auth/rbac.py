"""The RBAC authorizer: kube's RBACAuthorizer over watch-fed, in-memory caches.

Roles, ClusterRoles, RoleBindings and ClusterRoleBindings are mirrored by informers (list +
watch); ``authorize`` never touches the store. Bindings are indexed by the user names and
groups their subjects name (``core.rbac.subject_keys``), RoleBindings also by namespace, so
a decision looks only at the bindings that can apply to the asking user: its cost does not
grow with the bindings of other users or namespaces.

Members of ``system:masters`` are allowed everything without a rule (kube's
privileged-group authorizer, which runs before RBAC). A denial's reason is empty unless a
binding that applies points at a missing role, as in kube (``RBAC: clusterrole... not found``).

Decisions are memoised by everything evaluation reads (the user's name and groups, and the
request attributes; the path only for non-resource requests, so every sub-path of one proxy
target shares one decision). Any change to a Role, ClusterRole or binding drops them all:
a decision is never older than the caches it was made from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable
from typing import Any

from kubegate.auth.types import MASTERS_GROUP, Attributes, Decision, UserInfo
from kubegate.core.rbac import (
    CLUSTER_ROLE_KIND,
    ROLE_KIND,
    Binding,
    PolicyRule,
    evaluate,
    rules_for,
    rules_from_json,
    subject_keys,
    user_keys,
)
from kubegate.store.base import Store, collection_prefix, object_key
from kubegate.store.informer import Informer, ObjectCache, wait_synced

JSON = dict[str, Any]
_ALLOWED = Decision(True)
_MAX_DECISIONS = 4096  # memoised decisions; all dropped when full (the keys are the client's)


def _cluster_binding_keys(obj: JSON) -> Iterable[Hashable]:
    return set(subject_keys(Binding.from_json(obj)))


def _role_binding_keys(obj: JSON) -> Iterable[Hashable]:
    binding = Binding.from_json(obj)
    return {(binding.namespace, *key) for key in subject_keys(binding)}


class RBACAuthorizer:
    """``authorize`` is synchronous and in-memory; ``start`` it and wait for ``wait_synced``
    before serving."""

    def __init__(self, store: Store) -> None:
        self._roles = ObjectCache()
        self._cluster_roles = ObjectCache()
        self._role_bindings = ObjectCache({"subject": _role_binding_keys})
        self._cluster_role_bindings = ObjectCache({"subject": _cluster_binding_keys})
        # Parsed forms, kept in step by the informers' change callbacks (cache key -> value).
        self._rules: dict[str, tuple[PolicyRule, ...]] = {}
        self._bindings: dict[str, Binding] = {}
        self._decisions: dict[tuple[Any, ...], Decision] = {}
        self._informers = [
            Informer(store, collection_prefix("roles"), self._roles, self._on_role),
            Informer(store, collection_prefix("clusterroles"), self._cluster_roles, self._on_role),
            Informer(
                store, collection_prefix("rolebindings"), self._role_bindings, self._on_binding
            ),
            Informer(
                store,
                collection_prefix("clusterrolebindings"),
                self._cluster_role_bindings,
                self._on_binding,
            ),
        ]
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for informer in self._informers:
            self._tasks.append(
                asyncio.create_task(informer.run(), name=f"rbac-informer:{informer.prefix}")
            )

    @property
    def synced(self) -> bool:
        return all(informer.synced.is_set() for informer in self._informers)

    async def wait_synced(self, limit: float = 30.0) -> bool:
        """Wait until every cache has its first list (False if ``limit`` passes first)."""
        return await wait_synced(self._informers, limit)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- decisions ---------------------------------------------------------------------------

    def authorize(self, attributes: Attributes) -> Decision:
        user = attributes.user
        if MASTERS_GROUP in user.groups:
            return _ALLOWED
        resource_request = attributes.resource_request
        groups = user.groups
        key = (
            user.name,
            groups if type(groups) is tuple else tuple(groups),
            attributes.verb,
            resource_request,
            "" if resource_request else attributes.path,  # (rules read it only then)
            attributes.namespace,
            attributes.api_group,
            attributes.resource,
            attributes.subresource,
            attributes.name,
        )
        decision = self._decisions.get(key)
        if decision is None:
            bindings = self.candidate_bindings(user, attributes.namespace)
            allowed, reason = evaluate(user, attributes, bindings, self._rules_of)
            decision = Decision(allowed, reason)
            if len(self._decisions) >= _MAX_DECISIONS:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        """Every rule that applies to ``user`` in ``namespace`` (cluster-wide ones too), and
        the errors met resolving them (for SelfSubjectRulesReview)."""
        bindings = self.candidate_bindings(user, namespace)
        return rules_for(user, namespace, bindings, self._rules_of)

    def candidate_bindings(self, user: UserInfo, namespace: str) -> list[Binding]:
        """The ClusterRoleBindings, then (with a namespace) that namespace's RoleBindings,
        that name the user or one of its groups — found by index, never by a scan."""
        keys = user_keys(user)
        cluster = self._indexed(self._cluster_role_bindings, keys)
        if not namespace:
            return cluster
        return cluster + self._indexed(self._role_bindings, [(namespace, *key) for key in keys])

    def _indexed(self, cache: ObjectCache, keys: Iterable[Hashable]) -> list[Binding]:
        found: dict[str, Binding] = {}
        for key in keys:
            for obj in cache.by("subject", key):
                cache_key = _cache_key(cache is self._role_bindings, obj)
                binding = self._bindings.get(cache_key)
                if binding is not None:
                    found.setdefault(cache_key, binding)
        return [found[k] for k in sorted(found)]

    def _rules_of(self, binding: Binding) -> tuple[PolicyRule, ...] | None:
        ref = binding.role_ref
        if ref.kind == CLUSTER_ROLE_KIND:
            return self._rules.get(object_key("clusterroles", "", ref.name))
        if ref.kind == ROLE_KIND and binding.namespace:
            return self._rules.get(object_key("roles", binding.namespace, ref.name))
        return None

    # -- cache callbacks ---------------------------------------------------------------------

    def _on_role(self, key: str, old: JSON | None, new: JSON | None) -> None:
        self._decisions.clear()
        if new is None:
            self._rules.pop(key, None)
        else:
            self._rules[key] = rules_from_json(new.get("rules"))

    def _on_binding(self, key: str, old: JSON | None, new: JSON | None) -> None:
        self._decisions.clear()
        if new is None:
            self._bindings.pop(key, None)
        else:
            self._bindings[key] = Binding.from_json(new)


def _cache_key(namespaced: bool, obj: JSON) -> str:
    meta = obj.get("metadata") or {}
    resource = "rolebindings" if namespaced else "clusterrolebindings"
    return object_key(
        resource, meta.get("namespace", "") if namespaced else "", meta.get("name", "")
    )
