"""Rule coverage for RBAC escalation prevention (kubegate.core.rbac_coverage) as tables:
breakdown into atoms, which owned rules cover which atoms, and kube's refusal message."""

from __future__ import annotations

import pytest

from kubegate.core.rbac import PolicyRule
from kubegate.core.rbac_coverage import (
    FULL_AUTHORITY,
    breakdown,
    compact,
    compact_string,
    covers,
    escalation_message,
    uncovered,
)


def rule(
    verbs: str,
    groups: str = "",
    resources: str = "",
    names: str = "",
    urls: str = "",
) -> PolicyRule:
    """A rule from comma-separated fields; ``groups`` "core" means the core group ("")."""

    def split(text: str) -> tuple[str, ...]:
        return tuple(text.split(",")) if text else ()

    return PolicyRule(
        verbs=split(verbs),
        api_groups=tuple("" if g == "core" else g for g in split(groups)),
        resources=split(resources),
        resource_names=split(names),
        non_resource_urls=split(urls),
    )


def test_breakdown_splits_every_combination_in_group_resource_verb_name_order() -> None:
    """Two groups x two resources x two verbs x two names make sixteen single-valued atoms."""
    atoms = breakdown(rule("get,list", "core,apps", "pods,deployments", names="a,b"))
    assert len(atoms) == 16
    assert atoms[:3] == [
        rule("get", "core", "pods", names="a"),
        rule("get", "core", "pods", names="b"),
        rule("list", "core", "pods", names="a"),
    ]


def test_breakdown_of_non_resource_urls_pairs_urls_with_verbs() -> None:
    """A non-resource rule yields one atom per URL and verb, with no group or resource."""
    assert breakdown(rule("get,head", urls="/healthz,/metrics")) == [
        rule("get", urls="/healthz"),
        rule("head", urls="/healthz"),
        rule("get", urls="/metrics"),
        rule("head", urls="/metrics"),
    ]


def test_breakdown_of_a_rule_without_api_groups_is_empty() -> None:
    """Resources without API groups grant nothing, so there is nothing to cover."""
    assert breakdown(rule("get", resources="pods")) == []


COVERED = [
    # (owned rules, requested rule)
    ([rule("get,list", "core", "pods")], rule("get", "core", "pods")),
    ([rule("*", "core", "pods")], rule("delete,escalate", "core", "pods")),
    ([rule("get", "*", "pods")], rule("get", "apps,batch", "pods")),
    ([rule("get", "core", "*")], rule("get", "core", "secrets,pods/log")),
    ([rule("*", "*", "*")], rule("*", "*", "*")),
    # A wildcard requested is covered by the same wildcard owned.
    ([rule("*", "core", "pods")], rule("*", "core", "pods")),
    ([rule("get", "*", "pods")], rule("get", "*", "pods")),
    ([rule("get", "core", "*")], rule("get", "core", "*")),
    # Subresources: literal, or */sub for any resource's sub.
    ([rule("get", "core", "pods/log")], rule("get", "core", "pods/log")),
    ([rule("get", "core", "*/status")], rule("get", "core", "pods/status,services/status")),
    ([rule("get", "core", "*/status")], rule("get", "core", "*/status")),
    ([rule("get", "core", "pods/*")], rule("get", "core", "pods/*")),
    # Resource names: an unrestricted owned rule covers any name; a restricted one its own.
    ([rule("get", "core", "secrets")], rule("get", "core", "secrets", names="a")),
    ([rule("get", "core", "secrets", names="a,b")], rule("get", "core", "secrets", names="b")),
    # Non-resource URLs: exact, prefix*, or *.
    ([rule("get", urls="/healthz")], rule("get", urls="/healthz")),
    ([rule("get", urls="/apis/*")], rule("get", urls="/apis/apps,/apis/*")),
    ([rule("get", urls="/api*")], rule("get", urls="/api/v1")),
    ([rule("*", urls="*")], rule("get,post", urls="/anything,*")),
    # Atoms may be covered by different owned rules.
    (
        [rule("get", "core", "pods"), rule("list", "core", "pods")],
        rule("get,list", "core", "pods"),
    ),
    (list(FULL_AUTHORITY), rule("get", urls="/metrics")),
]


@pytest.mark.parametrize(("owned", "requested"), COVERED)
def test_covered(owned: list[PolicyRule], requested: PolicyRule) -> None:
    """Every atom of the requested rule is covered by some owned rule."""
    assert covers(owned, requested) == []


NOT_COVERED = [
    # (owned rules, requested rule, the uncovered atoms)
    ([rule("get", "core", "pods")], rule("list", "core", "pods"), [rule("list", "core", "pods")]),
    (
        [rule("get", "core", "pods")],
        rule("get", "apps", "pods"),
        [rule("get", "apps", "pods")],
    ),
    (
        [rule("get", "core", "pods")],
        rule("get", "core", "pods,secrets"),
        [rule("get", "core", "secrets")],
    ),
    # A wildcard requested is not covered by every literal listed.
    (
        [rule("get,list,watch,create,update,patch,delete", "core", "pods")],
        rule("*", "core", "pods"),
        [rule("*", "core", "pods")],
    ),
    ([rule("get", "core,apps", "pods")], rule("get", "*", "pods"), [rule("get", "*", "pods")]),
    ([rule("get", "core", "pods")], rule("get", "core", "*"), [rule("get", "core", "*")]),
    # Subresources are distinct from their resource, and */sub only covers that sub.
    (
        [rule("get", "core", "pods")],
        rule("get", "core", "pods/log"),
        [rule("get", "core", "pods/log")],
    ),
    (
        [rule("get", "core", "pods/log")],
        rule("get", "core", "pods"),
        [rule("get", "core", "pods")],
    ),
    (
        [rule("get", "core", "*/status")],
        rule("get", "core", "pods/log"),
        [rule("get", "core", "pods/log")],
    ),
    (
        [rule("get", "core", "pods/log")],
        rule("get", "core", "pods/*"),
        [rule("get", "core", "pods/*")],
    ),
    # A name-restricted owned rule covers neither other names nor every name.
    (
        [rule("get", "core", "secrets", names="a")],
        rule("get", "core", "secrets", names="b"),
        [rule("get", "core", "secrets", names="b")],
    ),
    (
        [rule("get", "core", "secrets", names="a")],
        rule("get", "core", "secrets"),
        [rule("get", "core", "secrets")],
    ),
    # Non-resource URLs.
    ([rule("get", urls="/healthz")], rule("get", urls="/metrics"), [rule("get", urls="/metrics")]),
    ([rule("get", urls="/apis/*")], rule("get", urls="/api/v1"), [rule("get", urls="/api/v1")]),
    ([rule("get", urls="/apis/*")], rule("get", urls="*"), [rule("get", urls="*")]),
    (
        [rule("get", urls="/healthz")],
        rule("post", urls="/healthz"),
        [rule("post", urls="/healthz")],
    ),
    # Resource rules do not cover URLs, nor URL rules resources.
    ([rule("*", "*", "*")], rule("get", urls="/metrics"), [rule("get", urls="/metrics")]),
    ([rule("*", urls="*")], rule("get", "core", "pods"), [rule("get", "core", "pods")]),
    ([], rule("get", "core", "pods"), [rule("get", "core", "pods")]),
]


@pytest.mark.parametrize(("owned", "requested", "missing"), NOT_COVERED)
def test_not_covered(
    owned: list[PolicyRule], requested: PolicyRule, missing: list[PolicyRule]
) -> None:
    """The atoms no owned rule covers are returned, and only those."""
    assert covers(owned, requested) == missing


def test_uncovered_collects_the_atoms_of_every_requested_rule() -> None:
    """Across several requested rules, the uncovered atoms come in rule order."""
    owned = [rule("get", "core", "pods")]
    requested = [rule("get,list", "core", "pods"), rule("get", urls="/metrics")]
    assert uncovered(owned, requested) == [
        rule("list", "core", "pods"),
        rule("get", urls="/metrics"),
    ]


def test_compact_merges_atoms_differing_only_by_verb() -> None:
    """Atoms for the same group, resource and name become one rule; others stay apart."""
    atoms = [
        rule("get", "core", "secrets"),
        rule("get", urls="/metrics"),
        rule("list", "core", "secrets"),
        rule("get", "core", "secrets", names="a"),
        rule("delete", "core", "secrets", names="a"),
    ]
    assert compact(atoms) == [
        rule("get", urls="/metrics"),
        rule("get,list", "core", "secrets"),
        rule("get,delete", "core", "secrets", names="a"),
    ]


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (rule("get", "core", "secrets"), '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'),
        (
            rule("get,list", "apps", "deployments", names="web"),
            '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["web"], '
            'Verbs:["get" "list"]}',
        ),
        (rule("get", urls="/metrics"), '{NonResourceURLs:["/metrics"], Verbs:["get"]}'),
        (rule("get", "core", 'we"ird'), '{APIGroups:[""], Resources:["we\\"ird"], Verbs:["get"]}'),
    ],
)
def test_compact_string(policy: PolicyRule, text: str) -> None:
    """Rules print as kube's CompactString: Go %q lists, empty fields left out."""
    assert compact_string(policy) == text


def test_escalation_message_lists_missing_rules_compacted_and_sorted() -> None:
    """The message names the user and groups, then one sorted line per compacted rule."""
    missing = [
        rule("list", "core", "secrets"),
        rule("get", "core", "nodes"),
        rule("get", "core", "secrets"),
    ]
    assert escalation_message("alice", ["devs", "system:authenticated"], missing) == (
        'user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC '
        "permissions not currently held:\n"
        '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["list" "get"]}'
    )


@pytest.mark.parametrize(
    ("errors", "suffix"),
    [
        (["role x not found"], "; resolution errors: [role x not found]"),
        (["a", "b", "a"], "; resolution errors: [[a, b]]"),
    ],
)
def test_escalation_message_appends_resolution_errors(errors: list[str], suffix: str) -> None:
    """Role-resolution errors follow, formatted as kube's aggregate inside a one-item list."""
    message = escalation_message("alice", [], [rule("get", "core", "pods")], errors)
    assert message.endswith('Verbs:["get"]}' + suffix)
