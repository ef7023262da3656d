"""The bootstrap policy: what the default roles grant and to whom they are bound."""

from __future__ import annotations

import dataclasses

import pytest

from kubegate.auth.bootstrap_policy import cluster_role_bindings, cluster_roles
from kubegate.auth.types import Attributes, UserInfo
from kubegate.core.rbac import Binding, PolicyRule, evaluate, rules_allow, rules_from_json

USER = UserInfo("u")


def role_rules(name: str) -> tuple[PolicyRule, ...]:
    (role,) = [r for r in cluster_roles() if r["metadata"]["name"] == name]
    return rules_from_json(role["rules"])


def res(verb: str, resource: str, sub: str = "", group: str = "", name: str = "x") -> Attributes:
    return Attributes(
        USER,
        verb,
        True,
        namespace="ns",
        api_group=group,
        resource=resource,
        subresource=sub,
        name=name,
    )


def url(path: str) -> Attributes:
    return Attributes(USER, "get", False, path=path)


GRANTS = [
    ("cluster-admin", res("delete", "nodes", "proxy"), True),
    ("cluster-admin", url("/metrics"), True),
    ("admin", res("create", "rolebindings", group="rbac.authorization.k8s.io"), True),
    ("admin", res("get", "services", "proxy"), True),
    ("edit", res("get", "services", "proxy"), True),
    ("edit", res("create", "services", "proxy"), True),
    ("edit", res("delete", "pods", "proxy"), True),
    ("edit", res("get", "secrets"), True),
    ("edit", res("list", "endpointslices", group="discovery.k8s.io"), True),
    ("edit", res("create", "rolebindings", group="rbac.authorization.k8s.io"), False),
    ("edit", res("get", "nodes", "proxy"), False),
    ("view", res("list", "services"), True),
    ("view", res("watch", "endpointslices", group="discovery.k8s.io"), True),
    ("view", res("get", "secrets"), False),
    ("view", res("list", "secrets"), False),
    ("view", res("get", "services", "proxy"), False),
    ("view", res("get", "pods", "proxy"), False),
    ("view", res("create", "services"), False),
    (
        "system:basic-user",
        res("create", "selfsubjectaccessreviews", group="authorization.k8s.io"),
        True,
    ),
    (
        "system:basic-user",
        res("create", "selfsubjectrulesreviews", group="authorization.k8s.io"),
        True,
    ),
    ("system:basic-user", res("create", "selfsubjectreviews", group="authentication.k8s.io"), True),
    (
        "system:basic-user",
        res("create", "subjectaccessreviews", group="authorization.k8s.io"),
        False,
    ),
    ("system:discovery", url("/apis/discovery.k8s.io/v1"), True),
    ("system:discovery", url("/openapi/v3"), True),
    ("system:discovery", url("/metrics"), False),
    ("system:public-info-viewer", url("/readyz"), True),
    ("system:public-info-viewer", url("/version"), True),
    ("system:public-info-viewer", url("/api"), False),
]


@pytest.mark.parametrize(
    ("role", "request_", "allowed"),
    GRANTS,
    ids=[
        f"{r}-{'allows' if a else 'denies'}-{q.verb}-{q.resource or q.path}{'/' + q.subresource if q.subresource else ''}"
        for r, q, a in GRANTS
    ],
)
def test_bootstrap_role_grants(role: str, request_: Attributes, allowed: bool) -> None:
    """Each default role grants what kube's does for the kinds kubegate serves, and no more."""
    assert rules_allow(request_, role_rules(role)) is allowed


def test_aggregated_roles_nest() -> None:
    """admin holds every rule of edit, and edit every rule of view (the aggregation chain)."""
    admin, edit, view = (set(role_rules(n)) for n in ("admin", "edit", "view"))
    assert view and view < edit < admin


def test_every_object_is_labelled_as_rbac_default() -> None:
    """Every bootstrap object carries kube's rbac-defaults label."""
    for obj in [*cluster_roles(), *cluster_role_bindings()]:
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"


@pytest.mark.parametrize(
    ("user", "request_", "allowed"),
    [
        (UserInfo("root", groups=("system:masters",)), res("delete", "namespaces"), True),
        (UserInfo("u", groups=("system:authenticated",)), url("/apis"), True),
        (
            UserInfo("u", groups=("system:authenticated",)),
            res("create", "selfsubjectrulesreviews", group="authorization.k8s.io", name=""),
            True,
        ),
        (UserInfo("u", groups=("system:authenticated",)), res("list", "services"), False),
        (UserInfo("system:anonymous", groups=("system:unauthenticated",)), url("/healthz"), True),
        (UserInfo("system:anonymous", groups=("system:unauthenticated",)), url("/api"), False),
    ],
    ids=[
        "masters-everything",
        "authenticated-discovery",
        "authenticated-rules-review",
        "authenticated-no-data",
        "anonymous-health",
        "anonymous-no-discovery",
    ],
)
def test_bootstrap_bindings(user: UserInfo, request_: Attributes, allowed: bool) -> None:
    """The default bindings give masters everything, everyone discovery and self-review, and
    the unauthenticated only the public health and version paths."""
    rules = {r["metadata"]["name"]: rules_from_json(r["rules"]) for r in cluster_roles()}
    bindings = [Binding.from_json(b) for b in cluster_role_bindings()]
    request_ = dataclasses.replace(request_, user=user)
    assert evaluate(user, request_, bindings, lambda b: rules.get(b.role_ref.name))[0] is allowed
