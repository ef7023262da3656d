"""The authorization.k8s.io reviews beyond SelfSubjectAccessReview:

* SubjectAccessReview — "may this user do this?" for any user, groups, uid and extra given in
  the spec (the caller was already authorized to ``create subjectaccessreviews``); as kube,
  the groups are taken as given (``system:authenticated`` is not added).
* SelfSubjectRulesReview — every rule that applies to the caller in ``spec.namespace``
  (``kubectl auth can-i --list``), from an authorizer that can list rules (RBAC); AlwaysAllow
  answers "everything", as kube's does, and any other authorizer answers ``incomplete``.
"""

from __future__ import annotations

from typing import Any

from kubegate.auth.chain import AlwaysAllow
from kubegate.auth.types import Authorizer, Decision, UserInfo
from kubegate.core.rbac import PolicyRule, review_rules
from kubegate.errors import BadRequest, FieldErrors

JSON = dict[str, Any]
_EVERYTHING = (
    PolicyRule(verbs=("*",), api_groups=("*",), resources=("*",)),
    PolicyRule(verbs=("*",), non_resource_urls=("*",)),
)


def subject_from_spec(spec: JSON) -> UserInfo:
    """The user a SubjectAccessReview asks about (422 when it names nobody, as kube)."""
    name = str(spec.get("user") or "")
    groups = tuple(str(g) for g in spec.get("groups") or ())
    errs = FieldErrors()
    if not name and not groups:
        errs.invalid("spec.user", name, "at least one of user or group must be specified")
    if bool(spec.get("resourceAttributes")) == bool(spec.get("nonResourceAttributes")):
        errs.invalid(
            "spec.resourceAttributes",
            spec.get("resourceAttributes"),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
    errs.raise_if_any("SubjectAccessReview", "", "authorization.k8s.io")
    extra_spec = spec.get("extra") or {}
    extra = {
        str(k): tuple(str(v) for v in values or ())
        for k, values in (extra_spec.items() if isinstance(extra_spec, dict) else ())
    }
    return UserInfo(name, str(spec.get("uid") or ""), groups, extra)


def access_review_status(decision: Decision) -> JSON:
    """A SubjectAccessReviewStatus (``reason`` omitted when empty, as kube)."""
    status: JSON = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def rules_review_status(authorizer: Authorizer, user: UserInfo, namespace: str) -> JSON:
    """A SubjectRulesReviewStatus for ``user`` in ``namespace`` (kube: 400 without one)."""
    if not namespace:
        raise BadRequest("no namespace on request")
    rules_for = getattr(authorizer, "rules_for", None)
    errors: list[str] = []
    if rules_for is not None:
        rules, errors = rules_for(user, namespace)
    elif isinstance(authorizer, AlwaysAllow):
        rules = list(_EVERYTHING)
    else:
        return {"resourceRules": [], "nonResourceRules": [], "incomplete": True}
    resource_rules, non_resource_rules = review_rules(rules)
    status: JSON = {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": False,
    }
    if errors:
        status["evaluationError"] = ", ".join(dict.fromkeys(errors))
    return status
