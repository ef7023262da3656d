"""Validation of Roles, ClusterRoles, RoleBindings and ClusterRoleBindings.

Mirrors pkg/apis/rbac/validation. RBAC names only need to be usable as a URL path
segment. User and Group subjects default their apiGroup to rbac.authorization.k8s.io
(v1 defaulting), so an absent apiGroup is read as that.
"""

from __future__ import annotations

from typing import Any, Final

from kubegate.api.validation_meta import invalid, mapping, sequence, string
from kubegate.core import names
from kubegate.core.go_strconv import go_quote
from kubegate.errors import Cause, FieldErrors

RBAC_GROUP: Final = "rbac.authorization.k8s.io"
SUBJECT_KINDS: Final = ["ServiceAccount", "User", "Group"]


def _validate_rule(errs: FieldErrors, rule: dict[str, Any], path: str, namespaced: bool) -> None:
    if not sequence(rule.get("verbs")):
        errs.required(f"{path}.verbs", "verbs must contain at least one value")
    non_resource_urls = [string(u) for u in sequence(rule.get("nonResourceURLs"))]
    if non_resource_urls:
        if namespaced:
            invalid(
                errs,
                f"{path}.nonResourceURLs",
                non_resource_urls,
                "namespaced rules cannot apply to non-resource URLs",
            )
        if any(sequence(rule.get(f)) for f in ("apiGroups", "resources", "resourceNames")):
            invalid(
                errs,
                f"{path}.nonResourceURLs",
                non_resource_urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            )
        return
    if not sequence(rule.get("apiGroups")):
        errs.required(f"{path}.apiGroups", "resource rules must supply at least one api group")
    if not sequence(rule.get("resources")):
        errs.required(f"{path}.resources", "resource rules must supply at least one resource")
    if sequence(rule.get("resourceNames")) and len(sequence(rule.get("resources"))) > 1:
        errs.required(f"{path}.resourceNames", "resource names cannot apply to multiple resources")


def validate_role(errs: FieldErrors, role: dict[str, Any], *, namespaced: bool) -> None:
    for i, rule in enumerate(sequence(role.get("rules"))):
        _validate_rule(errs, mapping(rule), f"rules[{i}]", namespaced)


def _validate_subject(
    errs: FieldErrors, subject: dict[str, Any], path: str, namespaced: bool
) -> None:
    name, kind = string(subject.get("name")), string(subject.get("kind"))
    api_group = string(subject.get("apiGroup"))
    if not name:
        errs.required(f"{path}.name")
    if kind == "ServiceAccount":
        if name:
            for msg in names.name_is_dns_subdomain(name):
                errs.invalid(f"{path}.name", name, msg)
        if api_group:
            errs.not_supported(f"{path}.apiGroup", api_group, [""])
        if not namespaced and not string(subject.get("namespace")):
            errs.required(f"{path}.namespace")
    elif kind in ("User", "Group"):
        if not name:
            errs.invalid(f"{path}.name", name, f"{kind.lower()} name cannot be empty")
        if (api_group or RBAC_GROUP) != RBAC_GROUP:
            errs.not_supported(f"{path}.apiGroup", api_group, [RBAC_GROUP])
    else:
        errs.not_supported(f"{path}.kind", kind, SUBJECT_KINDS)


def validate_binding(errs: FieldErrors, binding: dict[str, Any], *, namespaced: bool) -> None:
    role_ref = mapping(binding.get("roleRef"))
    api_group = string(role_ref.get("apiGroup"))
    if api_group != RBAC_GROUP:
        errs.not_supported("roleRef.apiGroup", api_group, [RBAC_GROUP])
    kind = string(role_ref.get("kind"))
    allowed = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if kind not in allowed:
        errs.not_supported("roleRef.kind", kind, allowed)
    ref_name = string(role_ref.get("name"))
    if not ref_name:
        errs.required("roleRef.name")
    else:
        for msg in names.is_valid_path_segment_name(ref_name):
            errs.invalid("roleRef.name", ref_name, msg)
    for i, subject in enumerate(sequence(binding.get("subjects"))):
        _validate_subject(errs, mapping(subject), f"subjects[{i}]", namespaced)


def _render_role_ref(role_ref: dict[str, Any]) -> str:
    # kube prints the struct with %#v.
    return (
        f"rbac.RoleRef{{APIGroup:{go_quote(string(role_ref.get('apiGroup')))}, "
        f"Kind:{go_quote(string(role_ref.get('kind')))}, "
        f"Name:{go_quote(string(role_ref.get('name')))}}}"
    )


def validate_binding_update(
    errs: FieldErrors, binding: dict[str, Any], old: dict[str, Any]
) -> None:
    """A binding's roleRef cannot change; delete and recreate the binding instead."""
    role_ref, old_ref = mapping(binding.get("roleRef")), mapping(old.get("roleRef"))
    fields = ("apiGroup", "kind", "name")
    if any(string(role_ref.get(f)) != string(old_ref.get(f)) for f in fields):
        errs.causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_render_role_ref(role_ref)}: cannot change roleRef",
                "roleRef",
            )
        )
