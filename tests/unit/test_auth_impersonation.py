"""Impersonation headers: what they ask for, the `impersonate` checks kube makes, kube's 403
wording, the resulting identity, and that the headers go away."""

from __future__ import annotations

import pytest

from kubegate.auth.impersonation import checks, impersonate, impersonated_user, requested
from kubegate.auth.types import Attributes, Decision, UserInfo
from kubegate.errors import BadRequest, Forbidden
from kubegate.http.types import Request

ALICE = UserInfo("alice", "a1", ("dev", "system:authenticated"))


def request(*headers: tuple[str, str]) -> Request:
    return Request(
        "GET", "/api", "/api", "", [("accept", "*/*"), *headers], None, ("192.0.2.1", 1), True
    )  # type: ignore[arg-type]


class Recorder:
    """Allows everything except the listed (resource, name) pairs; records what it saw."""

    def __init__(self, *denied: tuple[str, str]) -> None:
        self.denied = set(denied)
        self.seen: list[Attributes] = []

    def authorize(self, attributes: Attributes) -> Decision:
        self.seen.append(attributes)
        return Decision((attributes.resource, attributes.name) not in self.denied)


def summary(attrs: Attributes) -> tuple[str, str, str, str, str, str]:
    return (
        attrs.verb,
        attrs.api_group,
        attrs.resource,
        attrs.subresource,
        attrs.namespace,
        attrs.name,
    )


# -- parsing -----------------------------------------------------------------------------


def test_no_headers_no_impersonation() -> None:
    """Without Impersonate-* headers nothing is asked."""
    assert requested([("accept", "*/*")]) is None


def test_all_headers_are_collected() -> None:
    """User, every group, uid and extras (keys percent-decoded) are read."""
    asked = requested(
        [
            ("impersonate-user", "bob"),
            ("impersonate-group", "g1"),
            ("impersonate-group", "g2"),
            ("impersonate-uid", "u-7"),
            ("impersonate-extra-scopes", "view"),
            ("impersonate-extra-scopes", "edit"),
            ("impersonate-extra-example.com%2fteam", "blue"),
        ]
    )
    assert asked is not None
    assert (asked.user, asked.groups, asked.uid) == ("bob", ("g1", "g2"), "u-7")
    assert asked.extra == {"scopes": ("view", "edit"), "example.com/team": ("blue",)}


@pytest.mark.parametrize(
    "header",
    [("impersonate-group", "g"), ("impersonate-uid", "u"), ("impersonate-extra-k", "v")],
)
def test_attributes_without_a_user_are_refused(header: tuple[str, str]) -> None:
    """Groups, uid or extra without Impersonate-User is a 400."""
    with pytest.raises(BadRequest, match="without impersonating a user"):
        requested([header])


# -- the checks --------------------------------------------------------------------------


def test_checks_follow_kubes_order_and_attributes() -> None:
    """users, groups, userextras/<key> and uids, each with verb impersonate, as kube."""
    asked = requested(
        [
            ("impersonate-uid", "u-7"),
            ("impersonate-user", "bob"),
            ("impersonate-group", "g1"),
            ("impersonate-extra-scopes", "view"),
        ]
    )
    assert asked is not None
    assert [summary(a) for a in checks(asked, ALICE)] == [
        ("impersonate", "", "users", "", "", "bob"),
        ("impersonate", "", "groups", "", "", "g1"),
        ("impersonate", "authentication.k8s.io", "userextras", "scopes", "", "view"),
        ("impersonate", "authentication.k8s.io", "uids", "", "", "u-7"),
    ]
    assert all(a.user == ALICE and a.resource_request for a in checks(asked, ALICE))


def test_service_account_user_is_checked_as_a_service_account() -> None:
    """Impersonating system:serviceaccount:NS:NAME needs impersonate on that serviceaccount."""
    asked = requested([("impersonate-user", "system:serviceaccount:team:robot")])
    assert asked is not None
    assert [summary(a) for a in checks(asked, ALICE)] == [
        ("impersonate", "", "serviceaccounts", "", "team", "robot")
    ]


# -- the new identity --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("impersonate-user", "bob")], UserInfo("bob", "", ("system:authenticated",))),
        (
            [("impersonate-user", "bob"), ("impersonate-group", "g")],
            UserInfo("bob", "", ("g", "system:authenticated")),
        ),
        (
            [("impersonate-user", "bob"), ("impersonate-group", "system:authenticated")],
            UserInfo("bob", "", ("system:authenticated",)),
        ),
        (
            [("impersonate-user", "bob"), ("impersonate-group", "system:unauthenticated")],
            UserInfo("bob", "", ("system:unauthenticated",)),
        ),
        (
            [("impersonate-user", "system:anonymous")],
            UserInfo("system:anonymous", "", ("system:unauthenticated",)),
        ),
        (
            [("impersonate-user", "system:serviceaccount:team:robot")],
            UserInfo(
                "system:serviceaccount:team:robot",
                "",
                ("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"),
            ),
        ),
        (
            [("impersonate-user", "system:serviceaccount:team:robot"), ("impersonate-group", "g")],
            UserInfo("system:serviceaccount:team:robot", "", ("g", "system:authenticated")),
        ),
        (
            [("impersonate-user", "bob"), ("impersonate-uid", "u-7"), ("impersonate-extra-k", "v")],
            UserInfo("bob", "u-7", ("system:authenticated",), {"k": ("v",)}),
        ),
    ],
)
def test_impersonated_identity_follows_kubes_group_rules(
    headers: list[tuple[str, str]], expected: UserInfo
) -> None:
    """system:authenticated is added unless (un)authenticated was asked; anonymous gets
    system:unauthenticated; a service account gets its groups when none are asked."""
    asked = requested(headers)
    assert asked is not None
    assert impersonated_user(asked) == expected


# -- the filter --------------------------------------------------------------------------


def test_allowed_impersonation_continues_as_the_new_user() -> None:
    """With every check allowed the request acts as the impersonated user."""
    req = request(("impersonate-user", "bob"), ("impersonate-group", "g"))
    user = impersonate(req, ALICE, Recorder())
    assert user == UserInfo("bob", "", ("g", "system:authenticated"))


def test_impersonation_headers_are_removed() -> None:
    """After the step no Impersonate-* header is left on the request; others stay."""
    req = request(("impersonate-user", "bob"), ("impersonate-extra-k", "v"), ("x-other", "1"))
    impersonate(req, ALICE, Recorder())
    assert req.headers == [("accept", "*/*"), ("x-other", "1")]


def test_stray_impersonation_headers_are_removed_too() -> None:
    """An Impersonate-* header kube does not know is dropped without impersonating."""
    req = request(("impersonate-something", "x"))
    assert impersonate(req, ALICE, Recorder()) is ALICE
    assert req.headers == [("accept", "*/*")]


def test_without_headers_the_user_is_unchanged_and_unchecked() -> None:
    """No headers: the authenticated user continues and the authorizer is not asked."""
    recorder = Recorder()
    assert impersonate(request(), ALICE, recorder) is ALICE
    assert recorder.seen == []


@pytest.mark.parametrize(
    ("headers", "denied", "message"),
    [
        (
            [("impersonate-user", "bob")],
            ("users", "bob"),
            'users "bob" is forbidden: User "alice" cannot impersonate resource "users" '
            'in API group "" at the cluster scope',
        ),
        (
            [("impersonate-user", "bob"), ("impersonate-group", "admins")],
            ("groups", "admins"),
            'groups "admins" is forbidden: User "alice" cannot impersonate resource "groups" '
            'in API group "" at the cluster scope',
        ),
        (
            [("impersonate-user", "bob"), ("impersonate-uid", "u-7")],
            ("uids", "u-7"),
            'uids.authentication.k8s.io "u-7" is forbidden: User "alice" cannot impersonate '
            'resource "uids" in API group "authentication.k8s.io" at the cluster scope',
        ),
        (
            [("impersonate-user", "bob"), ("impersonate-extra-scopes", "view")],
            ("userextras", "view"),
            'userextras.authentication.k8s.io "view" is forbidden: User "alice" cannot '
            'impersonate resource "userextras/scopes" in API group "authentication.k8s.io" '
            "at the cluster scope",
        ),
        (
            [("impersonate-user", "system:serviceaccount:team:robot")],
            ("serviceaccounts", "robot"),
            'serviceaccounts "robot" is forbidden: User "alice" cannot impersonate resource '
            '"serviceaccounts" in API group "" in the namespace "team"',
        ),
    ],
)
def test_denied_impersonation_is_forbidden_with_kubes_message(
    headers: list[tuple[str, str]], denied: tuple[str, str], message: str
) -> None:
    """The first denied check is a 403 worded as kube words it."""
    with pytest.raises(Forbidden) as info:
        impersonate(request(*headers), ALICE, Recorder(denied))
    assert info.value.message == message


def test_denial_stops_at_the_first_refused_check() -> None:
    """Nothing after a denied check is asked."""
    recorder = Recorder(("users", "bob"))
    with pytest.raises(Forbidden):
        impersonate(
            request(("impersonate-user", "bob"), ("impersonate-group", "g")), ALICE, recorder
        )
    assert [a.resource for a in recorder.seen] == ["users"]


def test_forbidden_details_name_the_resource() -> None:
    """The 403 Status details carry name, group and kind (the resource), as kube's."""
    with pytest.raises(Forbidden) as info:
        impersonate(request(("impersonate-user", "bob")), ALICE, Recorder(("users", "bob")))
    assert info.value.details() == {"name": "bob", "kind": "users"}
