"""The default ClusterRoles and ClusterRoleBindings every server starts with.

A subset of kube's ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go``, limited to
the kinds kubegate serves. ``ensure_bootstrap_policy`` creates the ones that are missing at
startup and never touches one that exists, so an administrator's edits survive restarts
(delete an object to get the default back).

``admin``, ``edit`` and ``view`` are aggregated roles, as in kube: their rules are the union
of the ClusterRoles labelled ``rbac.authorization.k8s.io/aggregate-to-<role>: "true"``
(``edit`` carries the admin label and ``view`` the edit label, so admin ⊇ edit ⊇ view).
They are created with that union already computed, and the ClusterRole aggregation
controller keeps it current. ``view`` grants no secrets and no ``*/proxy``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Final

from kubegate.api import strategy
from kubegate.auth.types import AUTHENTICATED_GROUP, MASTERS_GROUP, UNAUTHENTICATED_GROUP
from kubegate.core.rbac import LabeledRole, aggregate_rules, aggregation_selectors, rules_from_json
from kubegate.store.base import KeyExists, Store, object_key

log = logging.getLogger(__name__)

JSON = dict[str, Any]
RBAC_GROUP: Final = "rbac.authorization.k8s.io"
BOOTSTRAP_LABEL: Final = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE_ANNOTATION: Final = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
AGGREGATE_TO: Final = "rbac.authorization.k8s.io/aggregate-to-"

READ: Final = ("get", "list", "watch")
WRITE: Final = ("create", "delete", "deletecollection", "patch", "update")
READ_WRITE: Final = (*READ, *WRITE)
PUBLIC_INFO_URLS: Final = ("/livez", "/readyz", "/healthz", "/version", "/version/")


def _rule(verbs: tuple[str, ...], group: str, *resources: str) -> JSON:
    return {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}


def _urls(verbs: tuple[str, ...], *urls: str) -> JSON:
    return {"nonResourceURLs": list(urls), "verbs": list(verbs)}


def _aggregated_by(role: str) -> JSON:
    return {"clusterRoleSelectors": [{"matchLabels": {f"{AGGREGATE_TO}{role}": "true"}}]}


def _cluster_role(
    name: str,
    rules: list[JSON] | None = None,
    *,
    aggregate_to: str = "",
    aggregation: JSON | None = None,
) -> JSON:
    labels = dict(BOOTSTRAP_LABEL)
    if aggregate_to:
        labels[f"{AGGREGATE_TO}{aggregate_to}"] = "true"
    role: JSON = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels, "annotations": dict(AUTOUPDATE_ANNOTATION)},
        "rules": rules or [],
    }
    if aggregation is not None:
        role["aggregationRule"] = aggregation
    return role


def _groups_binding(role: str, *groups: str) -> JSON:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": role,
            "labels": dict(BOOTSTRAP_LABEL),
            "annotations": dict(AUTOUPDATE_ANNOTATION),
        },
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups],
    }


def _declared_cluster_roles() -> list[JSON]:
    return [
        _cluster_role("cluster-admin", [_rule(("*",), "*", "*"), _urls(("*",), "*")]),
        _cluster_role(
            "system:discovery",
            [
                _urls(
                    ("get",),
                    *PUBLIC_INFO_URLS,
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                )
            ],
        ),
        _cluster_role(
            "system:basic-user",
            [
                _rule(
                    ("create",),
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews",
                    "selfsubjectrulesreviews",
                ),
                _rule(("create",), "authentication.k8s.io", "selfsubjectreviews"),
            ],
        ),
        _cluster_role("system:public-info-viewer", [_urls(("get",), *PUBLIC_INFO_URLS)]),
        _cluster_role("admin", aggregation=_aggregated_by("admin")),
        _cluster_role("edit", aggregate_to="admin", aggregation=_aggregated_by("edit")),
        _cluster_role("view", aggregate_to="edit", aggregation=_aggregated_by("view")),
        _cluster_role(
            "system:aggregate-to-admin",
            [_rule(READ_WRITE, RBAC_GROUP, "roles", "rolebindings")],
            aggregate_to="admin",
        ),
        _cluster_role(
            "system:aggregate-to-edit",
            [
                # Read on escalating resources: secrets and the proxies reach behind the API.
                _rule(READ, "", "pods/proxy", "secrets", "services/proxy"),
                _rule(("impersonate",), "", "serviceaccounts"),
                _rule(WRITE, "", "pods", "pods/proxy"),
                _rule(
                    WRITE,
                    "",
                    "serviceaccounts",
                    "services",
                    "services/proxy",
                    "configmaps",
                    "secrets",
                    "events",
                ),
                _rule(("create",), "", "serviceaccounts/token"),
            ],
            aggregate_to="edit",
        ),
        _cluster_role(
            "system:aggregate-to-view",
            [
                _rule(
                    READ,
                    "",
                    "pods",
                    "serviceaccounts",
                    "services",
                    "services/status",
                    "endpoints",
                    "configmaps",
                ),
                _rule(READ, "", "events", "pods/status", "namespaces/status"),
                # Reading namespaces at namespace scope means reading *this* namespace.
                _rule(READ, "", "namespaces"),
                _rule(READ, "discovery.k8s.io", "endpointslices"),
            ],
            aggregate_to="view",
        ),
        _cluster_role(
            # Full kubelet API access, as kube; stricter than kube, a WebSocket/upgrade to
            # nodes/proxy also needs "create" (security.md §1.11), which "*" includes.
            "system:kubelet-api-admin",
            [
                _rule(READ, "", "nodes"),
                _rule(("proxy",), "", "nodes"),
                _rule(("*",), "", "nodes/proxy"),
            ],
        ),
    ]


def cluster_roles() -> list[JSON]:
    """The bootstrap ClusterRoles, aggregated ones with their union already filled in."""
    roles = _declared_cluster_roles()
    # Aggregation chains (view -> edit -> admin): fill in order until nothing changes.
    changed = True
    while changed:
        changed = False
        labeled = [
            LabeledRole(r["metadata"]["name"], r["metadata"]["labels"], rules_from_json(r["rules"]))
            for r in roles
        ]
        for role in roles:
            selectors = aggregation_selectors(role)
            if selectors is None:
                continue
            rules = [
                rule.to_json()
                for rule in aggregate_rules(role["metadata"]["name"], selectors, labeled)
            ]
            if rules != role["rules"]:
                role["rules"] = rules
                changed = True
    return roles


def cluster_role_bindings() -> list[JSON]:
    return [
        _groups_binding("cluster-admin", MASTERS_GROUP),
        _groups_binding("system:discovery", AUTHENTICATED_GROUP),
        _groups_binding("system:basic-user", AUTHENTICATED_GROUP),
        _groups_binding("system:public-info-viewer", AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP),
    ]


async def ensure_bootstrap_policy(store: Store) -> list[str]:
    """Create the bootstrap objects that are missing; returns the keys created."""
    created: list[str] = []
    for resource, kind, objects in (
        ("clusterroles", "ClusterRole", cluster_roles()),
        ("clusterrolebindings", "ClusterRoleBinding", cluster_role_bindings()),
    ):
        for obj in objects:
            key = object_key(resource, "", obj["metadata"]["name"])
            strategy.prepare_create(kind, obj, namespace="")
            with contextlib.suppress(KeyExists):
                await store.create(key, obj)
                created.append(key)
    if created:
        log.info("created %d bootstrap RBAC objects", len(created))
    return created
