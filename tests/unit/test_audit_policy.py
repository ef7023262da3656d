"""Audit policy: kube's rule matching, first match wins, and a policy file that refuses typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubegate.auth.audit_policy import (
    DEFAULT_POLICY,
    GroupResources,
    Level,
    Policy,
    PolicyError,
    PolicyRule,
    load_policy,
    parse_policy,
    path_matches,
    rule_matches,
)
from kubegate.auth.types import Attributes, UserInfo

ALICE = UserInfo("alice", groups=("dev", "system:authenticated"))


def resource(
    verb: str = "get",
    resource: str = "configmaps",
    *,
    namespace: str = "default",
    name: str = "",
    group: str = "",
    subresource: str = "",
    user: UserInfo = ALICE,
) -> Attributes:
    return Attributes(
        user=user,
        verb=verb,
        resource_request=True,
        path="/api/v1/...",
        namespace=namespace,
        api_group=group,
        api_version="v1",
        resource=resource,
        subresource=subresource,
        name=name,
    )


def non_resource(path: str, verb: str = "get", user: UserInfo = ALICE) -> Attributes:
    return Attributes(user=user, verb=verb, resource_request=False, path=path)


def rule(**conditions: object) -> PolicyRule:
    return PolicyRule(Level.METADATA, **conditions)  # type: ignore[arg-type]


MATCHES = [
    # (rule, attributes, matches?)
    (rule(), resource(), True),
    (rule(), non_resource("/healthz"), True),
    (rule(users=("alice",)), resource(), True),
    (rule(users=("bob",)), resource(), False),
    (rule(user_groups=("dev",)), resource(), True),
    (rule(user_groups=("ops",)), resource(), False),
    (rule(verbs=("get", "list")), resource("list"), True),
    (rule(verbs=("create",)), resource("get"), False),
    (rule(namespaces=("default",)), resource(), True),
    (rule(namespaces=("kube-system",)), resource(), False),
    (rule(namespaces=("",)), resource("get", "nodes", namespace=""), True),
    (rule(namespaces=("default",)), non_resource("/api"), False),
    (rule(resources=(GroupResources("", ("configmaps",)),)), resource(), True),
    (rule(resources=(GroupResources("", ("secrets",)),)), resource(), False),
    (rule(resources=(GroupResources("apps", ("configmaps",)),)), resource(), False),
    (rule(resources=(GroupResources("apps"),)), resource("get", "deployments", group="apps"), True),
    (rule(resources=(GroupResources("", ("*",)),)), resource("get", "pods"), True),
    (
        rule(resources=(GroupResources("", ("services",)),)),
        resource("get", "services", subresource="proxy"),
        False,
    ),
    (
        rule(resources=(GroupResources("", ("services/proxy",)),)),
        resource("get", "services", subresource="proxy"),
        True,
    ),
    (
        rule(resources=(GroupResources("", ("services/*",)),)),
        resource("get", "services", subresource="proxy"),
        True,
    ),
    (
        rule(resources=(GroupResources("", ("*/proxy",)),)),
        resource("get", "pods", subresource="proxy"),
        True,
    ),
    (
        rule(resources=(GroupResources("", ("*/proxy",)),)),
        resource("get", "pods", subresource="exec"),
        False,
    ),
    (
        rule(resources=(GroupResources("", ("configmaps",), ("one",)),)),
        resource(name="one"),
        True,
    ),
    (
        rule(resources=(GroupResources("", ("configmaps",), ("one",)),)),
        resource(name="two"),
        False,
    ),
    (rule(resources=(GroupResources("", ("configmaps",)),)), non_resource("/api"), False),
    (rule(non_resource_urls=("/healthz",)), non_resource("/healthz"), True),
    (rule(non_resource_urls=("/healthz",)), non_resource("/healthz/etcd"), False),
    (rule(non_resource_urls=("/healthz*",)), non_resource("/healthz/etcd"), True),
    (rule(non_resource_urls=("/apis/*",)), non_resource("/apis/apps/v1"), True),
    (rule(non_resource_urls=("*",)), non_resource("/anything"), True),
    (rule(non_resource_urls=("*",)), resource(), False),
]


@pytest.mark.parametrize(("policy_rule", "attrs", "expected"), MATCHES)
def test_rule_matching_follows_kube(policy_rule: PolicyRule, attrs: Attributes, expected: bool):
    """Each condition of a rule narrows it exactly as kube's policy checker does."""
    assert rule_matches(policy_rule, attrs) is expected


@pytest.mark.parametrize(
    ("path", "spec", "expected"),
    [("/a", "/a", True), ("/a/b", "/a*", True), ("/ab", "/a/*", False), ("/x", "*", True)],
)
def test_non_resource_url_patterns(path: str, spec: str, expected: bool):
    """A non-resource URL spec is exact, a ``*``-suffixed prefix, or ``*``."""
    assert path_matches(path, spec) is expected


def test_first_matching_rule_decides():
    """Rules are tried in order and the first match sets the level, later ones are ignored."""
    policy = Policy(
        (
            PolicyRule(Level.NONE, users=("alice",)),
            PolicyRule(Level.REQUEST_RESPONSE),
        )
    )
    assert policy.evaluate(resource()).level is Level.NONE
    assert policy.evaluate(resource(user=UserInfo("bob"))).level is Level.REQUEST_RESPONSE


def test_no_matching_rule_means_level_none():
    """A request no rule matches is not recorded (kube's default)."""
    policy = Policy((PolicyRule(Level.METADATA, verbs=("create",)),))
    assert policy.evaluate(resource("get")).level is Level.NONE


def test_omit_stages_of_policy_and_rule_are_combined():
    """The policy-wide omitStages and the matching rule's apply together."""
    policy = Policy(
        (PolicyRule(Level.METADATA, omit_stages=frozenset({"ResponseComplete"})),),
        omit_stages=frozenset({"RequestReceived"}),
    )
    assert policy.evaluate(resource()).omit_stages == {"RequestReceived", "ResponseComplete"}


def test_rule_omit_managed_fields_overrides_policy():
    """A rule's omitManagedFields wins over the policy-wide setting."""
    policy = Policy(
        (PolicyRule(Level.REQUEST, omit_managed_fields=False),), omit_managed_fields=True
    )
    assert policy.evaluate(resource()).omit_managed_fields is False


def test_unauthenticated_requests_never_match_user_conditions():
    """A request that failed authentication matches no rule naming users or groups."""
    policy = Policy(
        (
            PolicyRule(Level.NONE, user_groups=("system:unauthenticated",)),
            PolicyRule(Level.METADATA),
        )
    )
    anonymous = UserInfo("", groups=("system:unauthenticated",))
    assert policy.evaluate(resource(user=anonymous), authenticated=False).level is Level.METADATA


@pytest.mark.parametrize(
    ("group", "res", "subresource"),
    [("", "serviceaccounts", "token"), ("authentication.k8s.io", "tokenreviews", "")],
)
def test_token_bearing_requests_are_capped_at_metadata(group: str, res: str, subresource: str):
    """TokenRequest and TokenReview never go above Metadata, whatever the policy says."""
    policy = Policy((PolicyRule(Level.REQUEST_RESPONSE),))
    attrs = resource("create", res, group=group, subresource=subresource)
    assert policy.evaluate(attrs).level is Level.METADATA


def test_default_policy_records_everything_at_metadata():
    """Without a policy file every request gets a Metadata record."""
    assert DEFAULT_POLICY.evaluate(non_resource("/version")).level is Level.METADATA
    assert DEFAULT_POLICY.evaluate(resource("delete", "secrets")).level is Level.METADATA


POLICY_YAML = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/version"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
        resourceNames: ["kube-root-ca.crt"]
  - level: RequestResponse
    users: ["alice"]
    verbs: ["create"]
    namespaces: ["default"]
    omitManagedFields: true
  - level: Request
"""


def test_policy_file_is_read(tmp_path: Path):
    """A kube Policy YAML becomes the same rules, in order."""
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML)
    policy = load_policy(path)
    assert [r.level for r in policy.rules] == [
        Level.NONE,
        Level.METADATA,
        Level.REQUEST_RESPONSE,
        Level.REQUEST,
    ]
    assert policy.omit_stages == {"RequestReceived"}
    assert policy.rules[1].resources == (
        GroupResources("", ("secrets", "configmaps"), ("kube-root-ca.crt",)),
    )
    assert policy.evaluate(non_resource("/healthz/ping")).level is Level.NONE
    assert policy.evaluate(resource("create")).level is Level.REQUEST_RESPONSE
    assert policy.evaluate(resource("create")).omit_managed_fields is True
    assert policy.evaluate(resource("get")).level is Level.REQUEST


BAD_POLICIES = [
    ({"apiVersion": "v1", "kind": "Policy", "rules": [{"level": "None"}]}, "apiVersion"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": []}, "at least one rule"),
    (
        {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Everything"}]},
        "level",
    ),
    (
        {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "rules": [{"level": "None", "user": ["a"]}],
        },
        "unknown field 'user'",
    ),
    (
        {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "rules": [{"level": "None", "resources": [{"group": "", "resource": ["pods"]}]}],
        },
        "unknown field 'resource'",
    ),
    (
        {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "rules": [{"level": "None", "nonResourceURLs": ["/a"], "namespaces": ["x"]}],
        },
        "both",
    ),
    (
        {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "rules": [{"level": "None", "omitStages": ["Finished"]}],
        },
        "unknown stage",
    ),
    (
        {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "rules": [{"level": "None", "verbs": "get"}],
        },
        "list of strings",
    ),
]


@pytest.mark.parametrize(("doc", "message"), BAD_POLICIES)
def test_invalid_policy_is_refused(doc: object, message: str):
    """A policy that is wrong or misspelt is refused with a message naming the problem."""
    with pytest.raises(PolicyError, match=message):
        parse_policy(doc)


def test_unreadable_policy_file_is_a_policy_error(tmp_path: Path):
    """A missing file is reported as a PolicyError naming the path."""
    with pytest.raises(PolicyError, match=r"missing\.yaml"):
        load_policy(tmp_path / "missing.yaml")
