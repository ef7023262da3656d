"""Whether the rules a user holds cover the rules a Role grants: the heart of kube's RBAC
privilege-escalation prevention, as pure functions over ``PolicyRule`` values.

Mirrors k8s.io/component-helpers ``auth/rbac/validation/policy_comparator.go`` (Covers,
BreakdownRule), k8s.io/kubernetes ``pkg/registry/rbac/validation/policy_compact.go``
(CompactRules) and ``rule.go`` (ConfirmNoEscalation's message):

* a requested rule is broken down into atoms of one verb, one API group, one resource and at
  most one resource name (or one verb and one non-resource URL); each atom must be covered by
  a single owned rule;
* an owned ``*`` covers any verb, group or resource, and ``*/sub`` covers ``sub`` of any
  resource; otherwise a field is covered only by the same literal, so a requested ``*`` (or
  ``pods/*``) is covered only by an owned ``*`` (or ``pods/*``) — holding every resource you
  can name is not holding the wildcard;
* an atom without resource names (any name) is covered only by an owned rule without resource
  names; an atom naming one is covered by an owned rule listing that name or none;
* an owned non-resource URL covers the same URL, or any URL it prefixes when it ends in ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from kubegate.core.go_strconv import go_quote
from kubegate.core.rbac import API_GROUP_ALL, RESOURCE_ALL, VERB_ALL, PolicyRule

# What kube's ClusterRole storage demands before anyone may set an aggregationRule.
FULL_AUTHORITY: Final = (
    PolicyRule(verbs=(VERB_ALL,), api_groups=(API_GROUP_ALL,), resources=(RESOURCE_ALL,)),
    PolicyRule(verbs=(VERB_ALL,), non_resource_urls=("*",)),
)


def breakdown(rule: PolicyRule) -> list[PolicyRule]:
    """kube's BreakdownRule: the atoms a rule grants, in group, resource, verb, name order.
    A rule with resources but no API groups grants nothing, so it yields no atom."""
    atoms: list[PolicyRule] = []
    names: list[tuple[str, ...]] = [(n,) for n in rule.resource_names] or [()]
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                atoms.extend(
                    PolicyRule(
                        verbs=(verb,),
                        api_groups=(group,),
                        resources=(resource,),
                        resource_names=name,
                    )
                    for name in names
                )
    for url in rule.non_resource_urls:
        atoms.extend(PolicyRule(verbs=(verb,), non_resource_urls=(url,)) for verb in rule.verbs)
    return atoms


def _covers_literal(owned: tuple[str, ...], wanted: tuple[str, ...], wildcard: str) -> bool:
    return wildcard in owned or all(item in owned for item in wanted)


def _covers_resources(owned: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    """kube's resourceCoversAll: ``*``, the same name, or ``*/sub`` for a subresource."""
    if _covers_literal(owned, wanted, RESOURCE_ALL):
        return True
    for resource in wanted:
        if resource in owned:
            continue
        if "/" not in resource or f"*/{resource.split('/', 1)[1]}" not in owned:
            return False
    return True


def _covers_url(owned: str, wanted: str) -> bool:
    return owned == wanted or (owned.endswith("*") and wanted.startswith(owned.rstrip("*")))


def _covers_names(owned: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    if not owned:
        return True
    return bool(wanted) and all(name in owned for name in wanted)


def rule_covers(owned: PolicyRule, atom: PolicyRule) -> bool:
    """kube's ruleCovers: does one owned rule grant everything ``atom`` (one verb, group,
    resource, name or URL) grants?"""
    return (
        _covers_literal(owned.verbs, atom.verbs, VERB_ALL)
        and _covers_literal(owned.api_groups, atom.api_groups, API_GROUP_ALL)
        and _covers_resources(owned.resources, atom.resources)
        and _covers_names(owned.resource_names, atom.resource_names)
        and all(
            any(_covers_url(url, wanted) for url in owned.non_resource_urls)
            for wanted in atom.non_resource_urls
        )
    )


def covers(owner_rules: Sequence[PolicyRule], requested: PolicyRule) -> list[PolicyRule]:
    """The atoms of ``requested`` that no owned rule covers (empty: fully covered)."""
    return [
        atom for atom in breakdown(requested) if not any(rule_covers(o, atom) for o in owner_rules)
    ]


def uncovered(
    owner_rules: Sequence[PolicyRule], requested: Iterable[PolicyRule]
) -> list[PolicyRule]:
    """kube's Covers over many requested rules: every atom left uncovered, in order."""
    return [atom for rule in requested for atom in covers(owner_rules, rule)]


def compact(rules: Iterable[PolicyRule]) -> list[PolicyRule]:
    """kube's CompactRules: atoms differing only by verb (same single group, resource and at
    most one name, nothing else) become one rule listing the verbs."""
    merged: dict[tuple[str, str, tuple[str, ...]], PolicyRule] = {}
    others: list[PolicyRule] = []
    for rule in rules:
        simple = (
            len(rule.api_groups) == 1
            and len(rule.resources) == 1
            and len(rule.resource_names) <= 1
            and not rule.non_resource_urls
        )
        if not simple:
            others.append(rule)
            continue
        key = (rule.api_groups[0], rule.resources[0], rule.resource_names)
        found = merged.get(key)
        merged[key] = rule if found is None else _with_verbs(found, found.verbs + rule.verbs)
    return [*others, *merged.values()]


def _with_verbs(rule: PolicyRule, verbs: tuple[str, ...]) -> PolicyRule:
    return PolicyRule(
        verbs=verbs,
        api_groups=rule.api_groups,
        resources=rule.resources,
        resource_names=rule.resource_names,
        non_resource_urls=rule.non_resource_urls,
    )


def go_strings(values: Iterable[str]) -> str:
    """A ``[]string`` as Go's ``%q`` prints it: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def compact_string(rule: PolicyRule) -> str:
    """kube's rbac/v1 CompactString: ``{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}``,
    empty fields left out."""
    parts = [
        f"{label}:{go_strings(values)}"
        for label, values in (
            ("APIGroups", rule.api_groups),
            ("Resources", rule.resources),
            ("NonResourceURLs", rule.non_resource_urls),
            ("ResourceNames", rule.resource_names),
            ("Verbs", rule.verbs),
        )
        if values
    ]
    return "{" + ", ".join(parts) + "}"


def _aggregate(errors: Sequence[str]) -> str:
    """apimachinery's utilerrors.Aggregate text: one message, or ``[a, b]`` of the unique ones."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else f"[{', '.join(unique)}]"


def escalation_message(
    user: str,
    groups: Sequence[str],
    missing: Iterable[PolicyRule],
    resolution_errors: Sequence[str] = (),
) -> str:
    """ConfirmNoEscalation's refusal: who asked, then the compacted missing rules, one per
    line, sorted and unique (Go's sets.String.List)."""
    lines = sorted({compact_string(rule) for rule in compact(missing)})
    message = (
        f"user {go_quote(user)} (groups={go_strings(groups)}) is attempting to grant RBAC "
        "permissions not currently held:\n" + "\n".join(lines)
    )
    if resolution_errors:
        # fmt's %v of a one-element []error holding the aggregate.
        message += f"; resolution errors: [{_aggregate(resolution_errors)}]"
    return message
