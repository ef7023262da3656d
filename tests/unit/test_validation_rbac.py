"""Validation of Roles, ClusterRoles, RoleBindings and ClusterRoleBindings."""

from __future__ import annotations

from typing import Any

import pytest

from kubegate.api.validation import collect
from unit.validation_kit import Edit, Obj, causes, edited

ROLE: Obj = {
    "metadata": {"name": "pod-reader", "namespace": "default"},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
}


def rule_set(**fields: Any) -> Edit:
    return lambda o: o["rules"][0].update(fields)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (rule_set(verbs=[]), [("FieldValueRequired", "rules[0].verbs")]),
        (rule_set(apiGroups=[]), [("FieldValueRequired", "rules[0].apiGroups")]),
        (rule_set(resources=[]), [("FieldValueRequired", "rules[0].resources")]),
        (rule_set(resourceNames=["a"]), []),
        (
            rule_set(resourceNames=["a"], resources=["pods", "services"]),
            [("FieldValueRequired", "rules[0].resourceNames")],
        ),
        (
            lambda o: o.update(rules=[{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]),
            [("FieldValueInvalid", "rules[0].nonResourceURLs")],
        ),
    ],
)
def test_role(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Role rules need verbs and either resources (with groups) or URLs."""
    assert causes("Role", edited(ROLE, edit)) == expected


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([{"nonResourceURLs": ["/healthz", "/metrics/*"], "verbs": ["get"]}], []),
        (
            [{"nonResourceURLs": ["/healthz"], "resources": ["pods"], "verbs": ["get"]}],
            [("FieldValueInvalid", "rules[0].nonResourceURLs")],
        ),
        ([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], []),
    ],
)
def test_cluster_role(rules: list[Obj], expected: list[tuple[str, str]]) -> None:
    """ClusterRoles may grant non-resource URLs, but not mixed with resources."""
    assert causes("ClusterRole", {"metadata": {"name": "r"}, "rules": rules}) == expected


BINDING: Obj = {
    "metadata": {"name": "read-pods", "namespace": "default"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
    "subjects": [
        {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "Group", "name": "devs"},
        {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
    ],
}


def ref_set(**fields: Any) -> Edit:
    return lambda o: o["roleRef"].update(fields)


def subject_set(index: int, **fields: Any) -> Edit:
    return lambda o: o["subjects"][index].update(fields)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (ref_set(kind="ClusterRole"), []),
        (
            lambda o: o.pop("roleRef"),
            [
                ("FieldValueNotSupported", "roleRef.apiGroup"),
                ("FieldValueNotSupported", "roleRef.kind"),
                ("FieldValueRequired", "roleRef.name"),
            ],
        ),
        (ref_set(apiGroup="rbac"), [("FieldValueNotSupported", "roleRef.apiGroup")]),
        (ref_set(kind="Group"), [("FieldValueNotSupported", "roleRef.kind")]),
        (ref_set(name=""), [("FieldValueRequired", "roleRef.name")]),
        (ref_set(name="a/b"), [("FieldValueInvalid", "roleRef.name")]),
        (subject_set(0, kind="Robot"), [("FieldValueNotSupported", "subjects[0].kind")]),
        (
            subject_set(0, name=""),
            [("FieldValueRequired", "subjects[0].name"), ("FieldValueInvalid", "subjects[0].name")],
        ),
        (
            subject_set(0, apiGroup="example.com"),
            [("FieldValueNotSupported", "subjects[0].apiGroup")],
        ),
        (subject_set(2, name="CI"), [("FieldValueInvalid", "subjects[2].name")]),
        (
            subject_set(2, apiGroup="rbac.authorization.k8s.io"),
            [("FieldValueNotSupported", "subjects[2].apiGroup")],
        ),
        (lambda o: o["subjects"][2].pop("namespace"), []),
        (lambda o: o.update(subjects=[]), []),
    ],
)
def test_role_binding(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Bindings reference an RBAC role and list User, Group or ServiceAccount subjects."""
    assert causes("RoleBinding", edited(BINDING, edit)) == expected


CLUSTER_BINDING = edited(
    BINDING, lambda o: (o["metadata"].pop("namespace"), o["roleRef"].update(kind="ClusterRole"))
)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (ref_set(kind="Role"), [("FieldValueNotSupported", "roleRef.kind")]),
        (
            lambda o: o["subjects"][2].pop("namespace"),
            [("FieldValueRequired", "subjects[2].namespace")],
        ),
    ],
)
def test_cluster_role_binding(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """ClusterRoleBindings reference ClusterRoles and namespace their ServiceAccounts."""
    assert causes("ClusterRoleBinding", edited(CLUSTER_BINDING, edit)) == expected


@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding"])
def test_role_ref_is_immutable(kind: str) -> None:
    """A binding's roleRef cannot change on update; subjects can."""
    old = BINDING if kind == "RoleBinding" else CLUSTER_BINDING
    assert causes(kind, edited(old, lambda o: o["subjects"].pop()), old) == []
    changed = edited(old, ref_set(name="other"))
    assert causes(kind, changed, old) == [("FieldValueInvalid", "roleRef")]
    (cause,) = collect(kind, changed, old).causes
    assert cause.message.startswith(
        'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:'
    )
    assert cause.message.endswith('Name:"other"}: cannot change roleRef')
