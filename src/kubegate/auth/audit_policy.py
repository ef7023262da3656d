"""Audit policy: kube's ``audit.k8s.io/v1`` Policy, parsed and evaluated (pure, no IO but
the one file read in ``load_policy``).

Evaluation mirrors k8s.io/apiserver/pkg/audit/policy/checker.go: rules are tried in order
and the first whose every given condition holds decides the level; no matching rule means
level None (nothing is recorded). Without a policy file kubegate records everything at
Metadata (``DEFAULT_POLICY``), where kube-apiserver would record nothing at all.

One deliberate difference: requests whose response carries a freshly minted credential —
TokenRequest (``serviceaccounts/token``) and TokenReview (the token is in the request) — are
capped at Metadata whatever the policy says, so no policy can put a token in the log.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubegate.auth.types import Attributes

STAGES = frozenset({"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"})
# (api group, resource[/subresource]) whose bodies carry tokens: never above Metadata.
CREDENTIAL_RESOURCES = frozenset(
    {("", "serviceaccounts/token"), ("authentication.k8s.io", "tokenreviews")}
)

_RULE_KEYS = frozenset(
    {
        "level",
        "users",
        "userGroups",
        "verbs",
        "resources",
        "namespaces",
        "nonResourceURLs",
        "omitStages",
        "omitManagedFields",
    }
)
_GROUP_KEYS = frozenset({"group", "resources", "resourceNames"})


class PolicyError(ValueError):
    """The policy file cannot be used (its message names the offending field)."""


class Level(enum.IntEnum):
    """kube's audit levels, ordered: each includes everything of the ones below it."""

    NONE = 0
    METADATA = 1
    REQUEST = 2
    REQUEST_RESPONSE = 3

    @property
    def wire(self) -> str:
        return _LEVEL_NAMES[self]


_LEVEL_NAMES = {
    Level.NONE: "None",
    Level.METADATA: "Metadata",
    Level.REQUEST: "Request",
    Level.REQUEST_RESPONSE: "RequestResponse",
}
_LEVELS = {name: level for level, name in _LEVEL_NAMES.items()}


@dataclass(frozen=True, slots=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyRule:
    level: Level
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool | None = None  # None: the policy-wide setting applies


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """What the policy decided for one request."""

    level: Level
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[PolicyRule, ...]
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False

    def evaluate(self, attrs: Attributes, *, authenticated: bool = True) -> AuditConfig:
        """The level for one request. ``authenticated=False`` (the request failed
        authentication) makes rules naming users or groups never match, as kube's nil user."""
        for rule in self.rules:
            if rule_matches(rule, attrs, authenticated=authenticated):
                level = rule.level
                combined = (
                    f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
                )
                if attrs.resource_request and (attrs.api_group, combined) in CREDENTIAL_RESOURCES:
                    level = min(level, Level.METADATA)
                omit_fields = (
                    self.omit_managed_fields
                    if rule.omit_managed_fields is None
                    else rule.omit_managed_fields
                )
                return AuditConfig(level, self.omit_stages | rule.omit_stages, omit_fields)
        return AuditConfig(Level.NONE, self.omit_stages)


DEFAULT_POLICY = Policy((PolicyRule(Level.METADATA),))


def rule_matches(rule: PolicyRule, attrs: Attributes, *, authenticated: bool = True) -> bool:
    """kube's ruleMatches: every condition the rule gives must hold."""
    user = attrs.user
    if rule.users and (not authenticated or user.name not in rule.users):
        return False
    if rule.user_groups and (
        not authenticated or not any(g in rule.user_groups for g in user.groups)
    ):
        return False
    if rule.verbs and attrs.verb not in rule.verbs:
        return False
    if rule.namespaces or rule.resources:
        return _matches_resource(rule, attrs)
    if rule.non_resource_urls:
        return not attrs.resource_request and any(
            path_matches(attrs.path, spec) for spec in rule.non_resource_urls
        )
    return True


def path_matches(path: str, spec: str) -> bool:
    """``*`` matches everything, ``/prefix*`` a prefix, anything else only itself."""
    if spec in ("*", path):
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


def _matches_resource(rule: PolicyRule, attrs: Attributes) -> bool:
    if not attrs.resource_request:
        return False
    # Cluster-scoped resources have namespace "" (a rule may list "" to match them).
    if rule.namespaces and attrs.namespace not in rule.namespaces:
        return False
    if not rule.resources:
        return True
    resource, subresource = attrs.resource, attrs.subresource
    combined = f"{resource}/{subresource}" if subresource else resource
    for gr in rule.resources:
        if gr.group != attrs.api_group:
            continue
        if not gr.resources:
            return True
        if gr.resource_names and attrs.name not in gr.resource_names:
            continue
        for res in gr.resources:
            if res in ("*", combined):
                return True
            if subresource and res.startswith("*/") and res[2:] == subresource:
                return True
            if res.endswith("/*") and res[:-2] == resource:
                return True
    return False


# --------------------------------------------------------------------------- parsing


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file (YAML or JSON)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"audit policy file {path}: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PolicyError(f"audit policy file {path}: not valid YAML: {exc}") from exc
    try:
        return parse_policy(doc)
    except PolicyError as exc:
        raise PolicyError(f"audit policy file {path}: {exc}") from exc


def parse_policy(doc: Any) -> Policy:
    """Build a Policy from the decoded document. Unknown keys are refused: a misspelt
    condition would otherwise widen a rule silently."""
    if not isinstance(doc, Mapping):
        raise PolicyError("expected a Policy object")
    if doc.get("kind") != "Policy" or doc.get("apiVersion") not in (
        "audit.k8s.io/v1",
        "audit.k8s.io/v1beta1",
    ):
        raise PolicyError('expected kind "Policy" and apiVersion "audit.k8s.io/v1"')
    unknown = set(doc) - {
        "kind",
        "apiVersion",
        "metadata",
        "rules",
        "omitStages",
        "omitManagedFields",
    }
    if unknown:
        raise PolicyError(f"unknown field {sorted(unknown)[0]!r}")
    rules = doc.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError("rules: at least one rule is required")
    return Policy(
        tuple(_parse_rule(rule, f"rules[{i}]") for i, rule in enumerate(rules)),
        _stages(doc.get("omitStages"), "omitStages"),
        _bool(doc.get("omitManagedFields", False), "omitManagedFields"),
    )


def _parse_rule(raw: Any, where: str) -> PolicyRule:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: expected an object")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    level_name = raw.get("level")
    if level_name not in _LEVELS:
        raise PolicyError(
            f"{where}.level: {level_name!r} is not one of None, Metadata, Request, RequestResponse"
        )
    resources = raw.get("resources") or []
    if not isinstance(resources, list):
        raise PolicyError(f"{where}.resources: expected a list")
    rule = PolicyRule(
        level=_LEVELS[level_name],
        users=_strings(raw.get("users"), f"{where}.users"),
        user_groups=_strings(raw.get("userGroups"), f"{where}.userGroups"),
        verbs=_strings(raw.get("verbs"), f"{where}.verbs"),
        resources=tuple(
            _parse_group(gr, f"{where}.resources[{i}]") for i, gr in enumerate(resources)
        ),
        namespaces=_strings(raw.get("namespaces"), f"{where}.namespaces"),
        non_resource_urls=_strings(raw.get("nonResourceURLs"), f"{where}.nonResourceURLs"),
        omit_stages=_stages(raw.get("omitStages"), f"{where}.omitStages"),
        omit_managed_fields=(
            None
            if raw.get("omitManagedFields") is None
            else _bool(raw["omitManagedFields"], f"{where}.omitManagedFields")
        ),
    )
    if rule.non_resource_urls and (rule.resources or rule.namespaces):
        # kube's validation: a rule is about resources or about non-resource URLs, not both.
        raise PolicyError(
            f"{where}: rules cannot apply to both regular resources and non-resource URLs"
        )
    for url in rule.non_resource_urls:
        if "*" in url[:-1] or not (url == "*" or url.startswith("/")):
            raise PolicyError(
                f"{where}.nonResourceURLs: {url!r}: must start with '/'; '*' only at the end"
            )
    return rule


def _parse_group(raw: Any, where: str) -> GroupResources:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: expected an object")
    unknown = set(raw) - _GROUP_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    group = raw.get("group") or ""
    if not isinstance(group, str):
        raise PolicyError(f"{where}.group: expected a string")
    resources = _strings(raw.get("resources"), f"{where}.resources")
    names = _strings(raw.get("resourceNames"), f"{where}.resourceNames")
    if names and not resources:
        raise PolicyError(f"{where}.resourceNames: requires resources")
    return GroupResources(group, resources, names)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: expected a list of strings")
    return tuple(value)


def _stages(value: Any, where: str) -> frozenset[str]:
    stages = _strings(value, where)
    for stage in stages:
        if stage not in STAGES:
            raise PolicyError(f"{where}: unknown stage {stage!r}")
    return frozenset(stages)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{where}: expected true or false")
    return value
