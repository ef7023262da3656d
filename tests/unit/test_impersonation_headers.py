"""Impersonation headers for mirror mode's via-apiserver proxy (client-go's impersonating
round tripper): one header per group and extra value, escaped extra keys, derived groups left
to the upstream, control characters refused."""

from __future__ import annotations

import pytest

from kubegate.core.impersonation_headers import (
    ImpersonationValueError,
    header_key_escape,
    impersonation_headers,
)


@pytest.mark.parametrize(
    ("key", "escaped"),
    [
        ("scopes", "scopes"),
        ("example.com/scopes", "example.com%2Fscopes"),
        ("a b", "a%20b"),
        ("50%", "50%25"),
        ("ümlaut", "%C3%BCmlaut"),
        ("x:y", "x%3Ay"),
        ("tok~en_-.", "tok~en_-."),
    ],
)
def test_extra_keys_are_escaped_as_client_go_does(key, escaped):
    """Bytes not legal in a header name, and '%', become %XX (upper-case hex)."""
    assert header_key_escape(key) == escaped


def test_user_uid_groups_and_extra_become_headers_in_order():
    """User, then uid, then each group, then each extra value under its escaped key."""
    headers = impersonation_headers(
        "alice",
        uid="u-1",
        groups=("dev", "ops"),
        extra={"example.com/scopes": ("read", "write"), "acr": ("1",)},
    )
    assert headers == [
        ("Impersonate-User", "alice"),
        ("Impersonate-Uid", "u-1"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Group", "ops"),
        ("Impersonate-Extra-acr", "1"),
        ("Impersonate-Extra-example.com%2Fscopes", "read"),
        ("Impersonate-Extra-example.com%2Fscopes", "write"),
    ]


@pytest.mark.parametrize("group", ["system:authenticated", "system:unauthenticated"])
def test_derived_groups_are_left_to_the_upstream(group):
    """The groups the upstream's impersonation adds by itself are not asked for."""
    assert impersonation_headers("bob", groups=(group, "dev")) == [
        ("Impersonate-User", "bob"),
        ("Impersonate-Group", "dev"),
    ]


def test_no_uid_means_no_uid_header():
    """An identity without a uid sends no Impersonate-Uid (kube would check it)."""
    names = [name for name, _ in impersonation_headers("bob")]
    assert names == ["Impersonate-User"]


@pytest.mark.parametrize(
    ("user", "groups", "extra"),
    [
        ("evil\r\nX-Injected: 1", (), {}),
        ("bob", ("dev\n",), {}),
        ("bob", (), {"k": ("v\x00",)}),
        ("bob\x7f", (), {}),
        ("", (), {}),
    ],
)
def test_values_that_cannot_travel_in_a_header_are_refused(user, groups, extra):
    """CR, LF, NUL, DEL (and an empty user) raise instead of corrupting the request."""
    with pytest.raises(ImpersonationValueError):
        impersonation_headers(user, groups=groups, extra=extra)


def test_a_tab_in_a_value_is_allowed():
    """Horizontal tab is legal inside a header value."""
    assert impersonation_headers("a\tb")[0] == ("Impersonate-User", "a\tb")
