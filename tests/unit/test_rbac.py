"""RBAC evaluation (kubegate.core.rbac) as tables: rule matching, subjects, scope, aggregation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubegate.auth.attributes import attributes_for
from kubegate.auth.types import Attributes, UserInfo
from kubegate.core.rbac import (
    Binding,
    LabeledRole,
    PolicyRule,
    RoleRef,
    Subject,
    aggregate_rules,
    applies_to,
    deny_reason,
    evaluate,
    review_rules,
    rule_allows,
    rules_for,
    subject_keys,
    user_keys,
)
from kubegate.core.requestinfo import parse_request_info

ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))
ROBOT = UserInfo(
    "system:serviceaccount:team-a:robot",
    groups=("system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"),
)


def res(
    verb: str,
    resource: str,
    *,
    sub: str = "",
    name: str = "",
    ns: str = "",
    group: str = "",
    user: UserInfo = ALICE,
) -> Attributes:
    return Attributes(
        user=user,
        verb=verb,
        resource_request=True,
        namespace=ns,
        api_group=group,
        resource=resource,
        subresource=sub,
        name=name,
    )


def url(verb: str, path: str, user: UserInfo = ALICE) -> Attributes:
    return Attributes(user=user, verb=verb, resource_request=False, path=path)


# -- rule matching ---------------------------------------------------------------------------

RULE_TABLE = [
    # (rule, request, allowed, why)
    (
        PolicyRule(("get",), (), ("services",)),
        res("get", "services"),
        False,
        "no apiGroups match nothing",
    ),
    (PolicyRule(("get",), ("",), ("services",)), res("get", "services"), True, "exact"),
    (PolicyRule(("get",), ("",), ("services",)), res("list", "services"), False, "other verb"),
    (PolicyRule(("*",), ("",), ("services",)), res("deletecollection", "services"), True, "verb *"),
    (
        PolicyRule(("*",), ("",), ("services",)),
        res("", "services", name="x"),
        True,
        "* grants the empty OPTIONS verb",
    ),
    (
        PolicyRule(("get",), ("",), ("services",)),
        res("", "services", name="x"),
        False,
        "empty verb needs *",
    ),
    (
        PolicyRule(("get",), ("",), ("services",)),
        res("get", "services", group="apps"),
        False,
        "other group",
    ),
    (
        PolicyRule(("get",), ("*",), ("services",)),
        res("get", "services", group="apps"),
        True,
        "group *",
    ),
    (
        PolicyRule(("get",), ("apps", ""), ("services",)),
        res("get", "services"),
        True,
        "core group among others",
    ),
    # subresources
    (
        PolicyRule(("get",), ("",), ("services",)),
        res("get", "services", sub="proxy", name="s"),
        False,
        "resource does not cover its subresource",
    ),
    (
        PolicyRule(("get",), ("",), ("services/proxy",)),
        res("get", "services", sub="proxy", name="s"),
        True,
        "subresource exact",
    ),
    (
        PolicyRule(("get",), ("",), ("services/proxy",)),
        res("get", "services", name="s"),
        False,
        "subresource does not cover the resource",
    ),
    (
        PolicyRule(("get",), ("",), ("services/proxy",)),
        res("get", "pods", sub="proxy", name="p"),
        False,
        "other resource's subresource",
    ),
    (
        PolicyRule(("get",), ("",), ("*/proxy",)),
        res("get", "services", sub="proxy", name="s"),
        True,
        "*/proxy on services",
    ),
    (
        PolicyRule(("get",), ("",), ("*/proxy",)),
        res("get", "nodes", sub="proxy", name="n"),
        True,
        "*/proxy on nodes",
    ),
    (
        PolicyRule(("get",), ("",), ("*/proxy",)),
        res("get", "services", name="s"),
        False,
        "*/proxy is not the resource",
    ),
    (
        PolicyRule(("get",), ("",), ("*/proxy",)),
        res("get", "services", sub="status", name="s"),
        False,
        "*/proxy is not status",
    ),
    (
        PolicyRule(("get",), ("",), ("*",)),
        res("get", "services", sub="proxy", name="s"),
        True,
        "* covers subresources",
    ),
    (
        PolicyRule(("get",), ("",), ("services/*",)),
        res("get", "services", sub="proxy", name="s"),
        False,
        "no resource/* wildcard in kube",
    ),
    # resource names: the whole raw id from the URL
    (
        PolicyRule(("get",), ("",), ("services/proxy",), ("echo:http",)),
        res("get", "services", sub="proxy", name="echo:http"),
        True,
        "port id listed",
    ),
    (
        PolicyRule(("get",), ("",), ("services/proxy",), ("echo:http",)),
        res("get", "services", sub="proxy", name="echo"),
        False,
        "bare name not listed",
    ),
    (
        PolicyRule(("get",), ("",), ("services/proxy",), ("echo",)),
        res("get", "services", sub="proxy", name="echo:http"),
        False,
        "name is not a prefix match",
    ),
    (
        PolicyRule(("get",), ("",), ("services/proxy",), ("https:svc:",)),
        res("get", "services", sub="proxy", name="https:svc:"),
        True,
        "scheme id listed",
    ),
    (
        PolicyRule(("get",), ("",), ("services/proxy",), ("https:svc:",)),
        res("get", "services", sub="proxy", name="svc"),
        False,
        "scheme id is not the name",
    ),
    (
        PolicyRule(("get",), ("",), ("services/proxy",), ("https:svc:",)),
        res("get", "services", sub="proxy", name="http:svc:"),
        False,
        "other scheme",
    ),
    (
        PolicyRule(("list",), ("",), ("services",), ("a",)),
        res("list", "services"),
        False,
        "names never match a nameless list",
    ),
    (
        PolicyRule(("list",), ("",), ("services",)),
        res("list", "services"),
        True,
        "no names: nameless list",
    ),
    # non-resource URLs
    (
        PolicyRule(("get",), non_resource_urls=("/healthz",)),
        url("get", "/healthz"),
        True,
        "url exact",
    ),
    (
        PolicyRule(("get",), non_resource_urls=("/healthz",)),
        url("get", "/healthz/etcd"),
        False,
        "no implicit prefix",
    ),
    (
        PolicyRule(("get",), non_resource_urls=("/healthz/*",)),
        url("get", "/healthz/etcd"),
        True,
        "prefix *",
    ),
    (
        PolicyRule(("get",), non_resource_urls=("/healthz/*",)),
        url("get", "/healthz"),
        False,
        "prefix * needs the slash",
    ),
    (
        PolicyRule(("get",), non_resource_urls=("/api*",)),
        url("get", "/apis/x"),
        True,
        "prefix * is a string prefix",
    ),
    (PolicyRule(("get",), non_resource_urls=("*",)), url("get", "/anything"), True, "url *"),
    (
        PolicyRule(("get",), non_resource_urls=("/healthz",)),
        url("post", "/healthz"),
        False,
        "url other verb",
    ),
    (
        PolicyRule(("get",), non_resource_urls=("*",)),
        res("get", "services"),
        False,
        "url rule never grants resources",
    ),
    (
        PolicyRule(("get",), ("*",), ("*",)),
        url("get", "/healthz"),
        False,
        "resource rule never grants urls",
    ),
]


@pytest.mark.parametrize(
    ("policy", "request_", "allowed"),
    [(r, q, a) for r, q, a, _ in RULE_TABLE],
    ids=[why for *_, why in RULE_TABLE],
)
def test_rule_allows(policy: PolicyRule, request_: Attributes, allowed: bool) -> None:
    """A rule allows a request exactly when kube's RuleAllows would."""
    assert rule_allows(request_, policy) is allowed


def test_policy_rule_round_trips_json() -> None:
    """A rule read from JSON renders back with kube's field names, empty lists omitted."""
    data = {
        "verbs": ["get"],
        "apiGroups": [""],
        "resources": ["services/proxy"],
        "resourceNames": ["a:b"],
    }
    assert PolicyRule.from_json(data).to_json() == data


# -- subjects -------------------------------------------------------------------------------

SUBJECT_TABLE = [
    (Subject("User", "alice"), ALICE, "", True, "user by name"),
    (Subject("User", "bob"), ALICE, "", False, "other user"),
    (Subject("Group", "devs"), ALICE, "", True, "group membership"),
    (Subject("Group", "alice"), ALICE, "", False, "a group is not a user name"),
    (Subject("User", "devs"), ALICE, "", False, "a user is not a group name"),
    (Subject("ServiceAccount", "robot", "team-a"), ROBOT, "", True, "service account by namespace"),
    (
        Subject("ServiceAccount", "robot"),
        ROBOT,
        "team-a",
        True,
        "namespace defaults to the binding's",
    ),
    (Subject("ServiceAccount", "robot"), ROBOT, "team-b", False, "binding in another namespace"),
    (Subject("ServiceAccount", "robot"), ROBOT, "", False, "cluster binding needs the namespace"),
    (Subject("ServiceAccount", "robot", "team-b"), ROBOT, "", False, "other namespace"),
    (
        Subject("Group", "system:serviceaccounts:team-a"),
        ROBOT,
        "",
        True,
        "namespace's service accounts group",
    ),
    (Subject("Group", "system:serviceaccounts"), ROBOT, "", True, "all service accounts group"),
    (
        Subject("User", "system:serviceaccount:team-a:robot"),
        ROBOT,
        "",
        True,
        "service account as a user name",
    ),
    (Subject("Robot", "alice"), ALICE, "", False, "unknown kind"),
]


@pytest.mark.parametrize(
    ("subject", "user", "namespace", "applies"),
    [row[:4] for row in SUBJECT_TABLE],
    ids=[row[4] for row in SUBJECT_TABLE],
)
def test_subject_applies_to_user(
    subject: Subject, user: UserInfo, namespace: str, applies: bool
) -> None:
    """A subject names a user as kube's appliesToUser decides."""
    assert applies_to(user, subject, namespace) is applies


@pytest.mark.parametrize(
    ("subject", "user", "namespace", "applies"),
    [row[:4] for row in SUBJECT_TABLE],
    ids=[row[4] for row in SUBJECT_TABLE],
)
def test_index_keys_find_every_applying_binding(
    subject: Subject, user: UserInfo, namespace: str, applies: bool
) -> None:
    """The subject index never hides a binding whose subject applies (it may over-include)."""
    binding = Binding("b", namespace, RoleRef("ClusterRole", "r"), (subject,))
    shared = set(subject_keys(binding)) & set(user_keys(user))
    assert bool(shared) is applies


# -- bindings, scope and reasons -------------------------------------------------------------

ROLES: dict[tuple[str, str, str], tuple[PolicyRule, ...]] = {
    ("ClusterRole", "", "proxy-echo"): (
        PolicyRule(("get",), ("",), ("services/proxy",), ("echo:http",)),
    ),
    ("ClusterRole", "", "view"): (PolicyRule(("get", "list"), ("",), ("services", "pods")),),
    ("ClusterRole", "", "node-proxy"): (PolicyRule(("get",), ("",), ("nodes/proxy",)),),
    ("Role", "team-a", "secrets"): (PolicyRule(("get",), ("",), ("secrets",)),),
}


def rules_of(binding: Binding) -> tuple[PolicyRule, ...] | None:
    ns = binding.namespace if binding.role_ref.kind == "Role" else ""
    return ROLES.get((binding.role_ref.kind, ns, binding.role_ref.name))


def rb(name: str, ns: str, kind: str, role: str, *subjects: Subject) -> Binding:
    return Binding(name, ns, RoleRef(kind, role), subjects)


ALICE_SUBJECT = Subject("User", "alice")
BINDINGS = [
    rb("proxy", "kube-system", "ClusterRole", "proxy-echo", ALICE_SUBJECT),
    rb("read", "team-a", "Role", "secrets", Subject("Group", "devs")),
    rb("viewers", "", "ClusterRole", "view", Subject("Group", "viewers")),
    rb("nodes", "", "ClusterRole", "node-proxy", Subject("ServiceAccount", "robot", "team-a")),
]

SCOPE_TABLE = [
    (
        res("get", "services", sub="proxy", name="echo:http", ns="kube-system"),
        ALICE,
        True,
        "RoleBinding to ClusterRole in its namespace",
    ),
    (
        res("get", "services", sub="proxy", name="echo:http", ns="default"),
        ALICE,
        False,
        "RoleBinding to ClusterRole elsewhere",
    ),
    (
        res("get", "services", sub="proxy", name="echo:http"),
        ALICE,
        False,
        "RoleBinding at cluster scope",
    ),
    (
        res("get", "services", sub="proxy", name="webapp:http-web", ns="kube-system"),
        ALICE,
        False,
        "other service",
    ),
    (res("get", "secrets", name="s", ns="team-a"), ALICE, True, "Role via group"),
    (res("get", "secrets", name="s", ns="team-b"), ALICE, False, "Role in another namespace"),
    (
        res("list", "pods", ns="x"),
        UserInfo("v", groups=("viewers",)),
        True,
        "ClusterRoleBinding in a namespace",
    ),
    (
        res("list", "pods"),
        UserInfo("v", groups=("viewers",)),
        True,
        "ClusterRoleBinding across namespaces",
    ),
    (
        res("get", "nodes", sub="proxy", name="n1", user=ROBOT),
        ROBOT,
        True,
        "ServiceAccount in ClusterRoleBinding",
    ),
    (res("get", "nodes", sub="proxy", name="n1"), ALICE, False, "nobody else"),
]


@pytest.mark.parametrize(
    ("request_", "user", "allowed"),
    [row[:3] for row in SCOPE_TABLE],
    ids=[row[3] for row in SCOPE_TABLE],
)
def test_evaluate_scope(request_: Attributes, user: UserInfo, allowed: bool) -> None:
    """ClusterRoleBindings apply everywhere, RoleBindings only in their own namespace."""
    assert evaluate(user, request_, BINDINGS, rules_of)[0] is allowed


def test_allow_reason_names_role_binding_like_kube() -> None:
    """An allow names the RoleBinding as name/namespace, its role and the subject."""
    _, reason = evaluate(
        ALICE,
        res("get", "services", sub="proxy", name="echo:http", ns="kube-system"),
        BINDINGS,
        rules_of,
    )
    assert (
        reason
        == 'RBAC: allowed by RoleBinding "proxy/kube-system" of ClusterRole "proxy-echo" to User "alice"'
    )


def test_allow_reason_names_service_account_with_namespace() -> None:
    """A ServiceAccount subject is described as name/namespace in a ClusterRoleBinding reason."""
    _, reason = evaluate(
        ROBOT, res("get", "nodes", sub="proxy", name="n1", user=ROBOT), BINDINGS, rules_of
    )
    assert (
        reason
        == 'RBAC: allowed by ClusterRoleBinding "nodes" of ClusterRole "node-proxy" to ServiceAccount "robot/team-a"'
    )


def test_plain_deny_has_no_reason() -> None:
    """A request no rule allows is denied with an empty reason (kube's NoOpinion)."""
    assert evaluate(ALICE, res("list", "secrets", ns="default"), BINDINGS, rules_of) == (False, "")


def test_deny_reason_reports_missing_role() -> None:
    """A binding to a missing role makes the deny reason say which role was not found."""
    dangling = [rb("gone", "", "ClusterRole", "nope", ALICE_SUBJECT)]
    assert evaluate(ALICE, res("get", "pods", ns="a"), dangling, rules_of) == (
        False,
        'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found',
    )


def test_deny_reason_aggregates_several_errors() -> None:
    """Several distinct resolution errors are listed in brackets, duplicates once."""
    errors = ['role.rbac.authorization.k8s.io "a" not found'] * 2 + [
        'unsupported role reference kind: "X"'
    ]
    assert deny_reason(errors) == (
        'RBAC: [role.rbac.authorization.k8s.io "a" not found, unsupported role reference kind: "X"]'
    )


def test_rules_for_lists_cluster_and_namespace_rules() -> None:
    """The rules for a user in a namespace are those of the applying ClusterRoleBindings and of
    that namespace's RoleBindings only."""
    rules, errors = rules_for(ALICE, "kube-system", BINDINGS, rules_of)
    assert rules == list(ROLES[("ClusterRole", "", "proxy-echo")])
    assert errors == []


def test_review_rules_split_resource_and_url_rules() -> None:
    """SelfSubjectRulesReview lists resource rules and non-resource rules separately."""
    resource_rules, url_rules = review_rules(
        [
            PolicyRule(("get",), ("",), ("services/proxy",), ("echo:http",)),
            PolicyRule(("get",), non_resource_urls=("/healthz",)),
        ]
    )
    assert resource_rules == [
        {
            "verbs": ["get"],
            "apiGroups": [""],
            "resources": ["services/proxy"],
            "resourceNames": ["echo:http"],
        }
    ]
    assert url_rules == [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]


# -- aggregation ----------------------------------------------------------------------------

GET_PODS = PolicyRule(("get",), ("",), ("pods",))
GET_SECRETS = PolicyRule(("get",), ("",), ("secrets",))
SELECT_VIEW: list[dict[str, Any]] = [{"matchLabels": {"aggregate-to-view": "true"}}]


def labeled(name: str, rules: tuple[PolicyRule, ...], **labels: str) -> LabeledRole:
    return LabeledRole(name, {k.replace("_", "-"): v for k, v in labels.items()}, rules)


def test_aggregation_is_the_union_of_matching_roles() -> None:
    """An aggregated role gets every matching role's rules, in role-name order, once each."""
    roles = [
        labeled("b", (GET_SECRETS, GET_PODS), aggregate_to_view="true"),
        labeled("a", (GET_PODS,), aggregate_to_view="true"),
        labeled("c", (PolicyRule(("*",), ("*",), ("*",)),)),
    ]
    assert aggregate_rules("view", SELECT_VIEW, roles) == (GET_PODS, GET_SECRETS)


def test_aggregation_skips_the_role_itself() -> None:
    """A role matching its own selector does not feed its rules back into itself."""
    roles = [
        labeled("view", (GET_SECRETS,), aggregate_to_view="true"),
        labeled("a", (GET_PODS,), aggregate_to_view="true"),
    ]
    assert aggregate_rules("view", SELECT_VIEW, roles) == (GET_PODS,)


def test_aggregation_unions_several_selectors() -> None:
    """Each selector adds the roles it matches."""
    selectors = [
        *SELECT_VIEW,
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]},
    ]
    roles = [
        labeled("a", (GET_PODS,), aggregate_to_view="true"),
        labeled("b", (GET_SECRETS,), tier="x"),
    ]
    assert aggregate_rules("agg", selectors, roles) == (GET_PODS, GET_SECRETS)


def test_aggregation_ignores_a_broken_selector() -> None:
    """An unparseable selector matches nothing instead of failing the whole aggregation."""
    selectors = [{"matchExpressions": [{"key": "k", "operator": "Near"}]}, *SELECT_VIEW]
    roles = [
        labeled("a", (GET_PODS,), aggregate_to_view="true"),
        labeled("b", (GET_SECRETS,), k="v"),
    ]
    assert aggregate_rules("agg", selectors, roles) == (GET_PODS,)


# -- properties -----------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "*",
        "",
        "get",
        "list",
        "services",
        "services/proxy",
        "*/proxy",
        "pods",
        "apps",
        "a:b",
        "/healthz",
        "/api/*",
    ]
)
_RULES = st.builds(
    PolicyRule,
    st.tuples(_WORDS),
    st.lists(_WORDS, max_size=2).map(tuple),
    st.lists(_WORDS, max_size=2).map(tuple),
    st.lists(_WORDS, max_size=2).map(tuple),
    st.lists(_WORDS, max_size=2).map(tuple),
)
_REQUESTS = st.one_of(
    st.builds(
        lambda verb, resource, sub, name, group: res(
            verb, resource, sub=sub, name=name, ns="ns", group=group
        ),
        st.sampled_from(["get", "list", "create", ""]),
        st.sampled_from(["services", "pods", "nodes"]),
        st.sampled_from(["", "proxy", "status"]),
        st.sampled_from(["", "a:b", "svc"]),
        st.sampled_from(["", "apps"]),
    ),
    st.builds(
        url, st.sampled_from(["get", "post"]), st.sampled_from(["/healthz", "/api/v1", "/x"])
    ),
)


@given(rules=st.lists(_RULES, max_size=4), extra=_RULES, request_=_REQUESTS)
def test_adding_a_rule_never_removes_permissions(
    rules: list[PolicyRule], extra: PolicyRule, request_: Attributes
) -> None:
    """RBAC is purely additive: whatever a role allowed, it still allows with one more rule."""
    binding = [rb("b", "ns", "Role", "r", ALICE_SUBJECT)]
    before = evaluate(ALICE, request_, binding, lambda _: tuple(rules))[0]
    after = evaluate(ALICE, request_, binding, lambda _: (*rules, extra))[0]
    assert after or not before


@given(rules=st.lists(_RULES, max_size=4), request_=_REQUESTS)
def test_adding_a_binding_never_removes_permissions(
    rules: list[PolicyRule], request_: Attributes
) -> None:
    """A second binding (even to a missing role) never turns an allow into a deny."""
    first = [rb("a", "ns", "Role", "r", ALICE_SUBJECT)]
    both = [*first, rb("z", "ns", "Role", "missing", ALICE_SUBJECT)]
    lookup = lambda b: tuple(rules) if b.role_ref.name == "r" else None  # noqa: E731
    assert (
        evaluate(ALICE, request_, both, lookup)[0]
        or not evaluate(ALICE, request_, first, lookup)[0]
    )


@pytest.mark.parametrize(("verbs", "allowed"), [(("options",), False), (("*",), True)])
def test_options_request_is_the_empty_verb(verbs: tuple[str, ...], allowed: bool) -> None:
    """An OPTIONS proxy request has kube's empty verb: only verbs ["*"] grants it."""
    info = parse_request_info("OPTIONS", "/api/v1/namespaces/x/services/s/proxy/", "")
    request_ = attributes_for(ALICE, info)
    assert request_.verb == ""
    assert rule_allows(request_, PolicyRule(verbs, ("",), ("services/proxy",))) is allowed
