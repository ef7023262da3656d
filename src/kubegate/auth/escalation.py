"""RBAC privilege-escalation prevention: nobody grants, through a Role or a binding, a
permission they do not hold themselves.

Mirrors kube's policy-based RBAC storage (``pkg/registry/rbac/{role,clusterrole,rolebinding,
clusterrolebinding}/policybased`` with ``escalation_check.go`` and
``validation.ConfirmNoEscalation``). A write of one of the four RBAC kinds is allowed when

* the user is in ``system:masters``; or
* an update changes only what the garbage collector changes (owner references, finalizers); or
* Role/ClusterRole: the user may ``escalate`` that resource (named as the request names it:
  no name on create), or the user's rules cover the role's rules (in the role's namespace for
  a Role, cluster-wide for a ClusterRole); a ClusterRole with an ``aggregationRule`` also needs
  full authority (``*`` on everything), since aggregation can gather any rule;
* RoleBinding/ClusterRoleBinding: the user may ``bind`` the referenced role (in the binding's
  namespace), or the user's rules there cover the referenced role's rules.

Otherwise the answer is kube's 403. The user's own rules come from the authorizer's caches (so
they agree with its decisions); the referenced role is read from the store, as kube's registry
does, so a binding written right after its role finds it.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from kubegate.auth.rbac import RBACAuthorizer
from kubegate.auth.types import MASTERS_GROUP, Attributes, UserInfo
from kubegate.core.go_strconv import go_quote
from kubegate.core.rbac import (
    CLUSTER_ROLE_KIND,
    ROLE_KIND,
    PolicyRule,
    aggregation_selectors,
    rules_from_json,
)
from kubegate.core.rbac_coverage import FULL_AUTHORITY, escalation_message, uncovered
from kubegate.errors import Forbidden, NotFound, ServiceUnavailable
from kubegate.store.base import KeyNotFound, Store, StoreUnavailable, object_key

JSON = dict[str, Any]
RBAC_GROUP: Final = "rbac.authorization.k8s.io"
ROLE_RESOURCES: Final = {ROLE_KIND: "roles", CLUSTER_ROLE_KIND: "clusterroles"}
BINDING_RESOURCES: Final = {
    "RoleBinding": "rolebindings",
    "ClusterRoleBinding": "clusterrolebindings",
}
# What kube's IsOnlyMutatingGCFields lets change; resourceVersion too, which is concurrency
# control, not content (the store checks it).
_GC_FIELDS: Final = ("ownerReferences", "finalizers", "selfLink", "resourceVersion")


class EscalationGuard:
    """``await guard(user, kind, namespace, new, old)`` raises Forbidden (or NotFound for a
    missing referenced role) unless the write grants nothing the user lacks. ``old`` is None
    on create."""

    def __init__(self, authorizer: RBACAuthorizer, store: Store) -> None:
        self._authorizer = authorizer
        self._store = store

    async def __call__(
        self, user: UserInfo, kind: str, namespace: str, new: JSON, old: JSON | None
    ) -> None:
        if MASTERS_GROUP in user.groups:
            return
        if old is not None and _only_gc_fields_change(new, old):
            return
        if kind in ROLE_RESOURCES:
            self._check_role(user, kind, namespace, new, old)
        elif kind in BINDING_RESOURCES:
            await self._check_binding(user, kind, namespace, new)

    # -- roles ------------------------------------------------------------------------------

    def _check_role(
        self, user: UserInfo, kind: str, namespace: str, new: JSON, old: JSON | None
    ) -> None:
        resource = ROLE_RESOURCES[kind]
        name = _name(new)
        # kube asks with the request's name, which a create's URL does not have.
        if self._allowed(user, "escalate", namespace, resource, name if old is not None else ""):
            return
        self._confirm(user, namespace, rules_from_json(new.get("rules")), resource, name)
        if kind == CLUSTER_ROLE_KIND and (
            _aggregates(new) or (old is not None and _aggregates(old))
        ):
            if uncovered(self._authorizer.rules_for(user, "")[0], FULL_AUTHORITY):
                raise _forbidden(
                    resource,
                    name,
                    "must have cluster-admin privileges to use the aggregationRule",
                )

    # -- bindings ---------------------------------------------------------------------------

    async def _check_binding(self, user: UserInfo, kind: str, namespace: str, new: JSON) -> None:
        ref = new.get("roleRef") or {}
        ref_kind, ref_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        ref_resource = ROLE_RESOURCES.get(ref_kind)
        if ref_resource is None:  # validation refuses it before this runs
            raise _forbidden(
                BINDING_RESOURCES[kind],
                _name(new),
                f"unsupported role reference kind: {go_quote(ref_kind)}",
            )
        # Bind is asked in the binding's namespace, so it can be delegated per namespace.
        group = str(ref.get("apiGroup") or RBAC_GROUP)
        if self._allowed(user, "bind", namespace, ref_resource, ref_name, group=group):
            return
        rules = await self._role_rules(ref_resource, namespace, ref_name)
        self._confirm(user, namespace, rules, BINDING_RESOURCES[kind], _name(new))

    async def _role_rules(self, resource: str, namespace: str, name: str) -> tuple[PolicyRule, ...]:
        """The referenced role's rules, read from the store (kube's GetRoleReferenceRules)."""
        role_namespace = namespace if resource == "roles" else ""
        try:
            role = await self._store.get(object_key(resource, role_namespace, name))
        except KeyNotFound as exc:
            raise NotFound(
                f"{resource}.{RBAC_GROUP} {go_quote(name)} not found",
                name=name,
                group=RBAC_GROUP,
                kind=resource,
            ) from exc
        except StoreUnavailable as exc:
            raise ServiceUnavailable(f"storage is unavailable: {exc}") from exc
        return rules_from_json(role.get("rules"))

    # -- shared -----------------------------------------------------------------------------

    def _allowed(
        self,
        user: UserInfo,
        verb: str,
        namespace: str,
        resource: str,
        name: str,
        *,
        group: str = RBAC_GROUP,
    ) -> bool:
        attrs = Attributes(
            user, verb, True, namespace=namespace, api_group=group, resource=resource, name=name
        )
        return self._authorizer.authorize(attrs).allowed

    def _confirm(
        self,
        user: UserInfo,
        namespace: str,
        rules: tuple[PolicyRule, ...],
        resource: str,
        name: str,
    ) -> None:
        """kube's ConfirmNoEscalation: the user's rules in ``namespace`` cover ``rules``."""
        owned, errors = self._authorizer.rules_for(user, namespace)
        missing = uncovered(owned, rules)
        if missing:
            raise _forbidden(
                resource, name, escalation_message(user.name, user.groups, missing, errors)
            )


def _name(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _aggregates(obj: JSON) -> bool:
    """kube's hasAggregationRule: an aggregationRule with at least one selector."""
    return bool(aggregation_selectors(obj))


def _only_gc_fields_change(new: JSON, old: JSON) -> bool:
    """kube's IsOnlyMutatingGCFields: ``new`` is ``old`` but for what the garbage collector
    changes, so removing a finalizer needs no right to the role's permissions."""
    stomped = copy.deepcopy(new)
    meta = stomped.setdefault("metadata", {})
    old_meta = old.get("metadata") or {}
    for field in _GC_FIELDS:
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    return bool(stomped == old)


def _forbidden(resource: str, name: str, reason: str) -> Forbidden:
    """apimachinery's NewForbidden for ``resource.rbac.authorization.k8s.io``."""
    qualified = f"{resource}.{RBAC_GROUP}"
    subject = f"{qualified} {go_quote(name)}" if name else qualified
    return Forbidden(
        f"{subject} is forbidden: {reason}", name=name, group=RBAC_GROUP, kind=resource
    )
