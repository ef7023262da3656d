"""The local proxy's browser guard and token (security.md §1.13, A32): beyond kubectl proxy."""

from __future__ import annotations

import pytest

from kubegate.client.proxy_filters import (
    BrowserSignals,
    FilterRules,
    browser_refusal,
    is_loopback_host,
    token_matches,
    token_presented,
)

DEFAULT = FilterRules.from_flags()
WIDE_OPEN = FilterRules.from_flags(accept_hosts=r"^.*$")  # the common misconfiguration
NAMED = FilterRules.from_flags(accept_hosts=r"^localhost$,^proxy\.corp\.example$")


def refusal(
    method: str = "GET",
    host: str = "localhost:8001",
    *,
    origin: str | None = None,
    site: str | None = None,
    upgrade: bool = False,
    local_only: bool = True,
    rules: FilterRules = DEFAULT,
) -> str | None:
    return browser_refusal(
        method,
        host,
        BrowserSignals(origin, site),
        upgrade=upgrade,
        local_only=local_only,
        vouched=rules.vouches_for,
    )


@pytest.mark.parametrize(
    ("origin", "host", "refused"),
    [
        (None, "localhost:8001", False),  # curl, kubectl: no browser headers
        ("http://localhost:8001", "localhost:8001", False),  # same origin
        ("http://LOCALHOST:8001", "localhost:8001", False),
        ("http://127.0.0.1:8001", "localhost:8001", False),  # the proxy under another name
        ("http://[::1]:8001", "localhost:8001", False),
        ("http://localhost", "localhost:80", False),  # default port
        ("http://evil.example", "localhost:8001", True),  # classic CSRF
        ("https://evil.example", "localhost:8001", True),
        ("http://localhost:3000", "localhost:8001", True),  # another local app's page
        ("http://127.0.0.1:3000", "localhost:8001", True),
        ("https://localhost:8001", "localhost:8001", True),  # not this (plain HTTP) origin
        ("null", "localhost:8001", True),  # sandboxed iframes, file:// pages
        ("http://localhost:8001/x", "localhost:8001", True),  # not an origin
        ("", "localhost:8001", True),
    ],
)
def test_origin(origin: str | None, host: str, refused: bool) -> None:
    """An Origin other than the proxy's own is refused, whatever the method."""
    for method in ("GET", "POST"):
        assert (refusal(method, host, origin=origin) is not None) is refused


@pytest.mark.parametrize(
    ("site", "refused"),
    [
        (None, False),
        ("none", False),  # typed, pasted or bookmarked
        ("same-origin", False),
        ("same-site", True),  # every port of localhost is the same site
        ("cross-site", True),
        ("CROSS-SITE", True),
    ],
)
def test_sec_fetch_site(site: str | None, refused: bool) -> None:
    """Sec-Fetch-Site cross-site and same-site are refused."""
    for method in ("GET", "POST"):
        assert (refusal(method, site=site) is not None) is refused


@pytest.mark.parametrize(
    ("method", "host", "upgrade", "rules", "refused"),
    [
        # Non-browser requests with a name DNS could rebind, on loopback:
        ("POST", "attacker.example:8001", False, WIDE_OPEN, True),  # state-changing
        ("DELETE", "attacker.example:8001", False, WIDE_OPEN, True),
        ("GET", "attacker.example:8001", True, WIDE_OPEN, True),  # an upgrade
        (
            "GET",
            "attacker.example:8001",
            False,
            WIDE_OPEN,
            False,
        ),  # reads: kubectl's filter decides
        # Names that cannot be rebound:
        ("POST", "localhost:8001", False, WIDE_OPEN, False),
        ("POST", "app.localhost:8001", False, WIDE_OPEN, False),  # RFC 6761
        ("POST", "127.0.0.1:8001", False, WIDE_OPEN, False),
        ("POST", "10.0.0.5:8001", False, WIDE_OPEN, False),  # any IP literal
        ("POST", "[::1]:8001", False, WIDE_OPEN, False),
        # A name the user listed on purpose (a specific pattern) is trusted; ".*" vouches for nothing.
        ("POST", "proxy.corp.example:8001", False, NAMED, False),
        ("POST", "localhost.evil.com:8001", False, NAMED, True),
        ("POST", "", False, WIDE_OPEN, True),  # no Host at all (HTTP/1.0)
    ],
)
def test_rebinding_host_on_loopback(
    method: str, host: str, upgrade: bool, rules: FilterRules, refused: bool
) -> None:
    """On a loopback port, untrusted Host names may not change state or upgrade."""
    assert (refusal(method, host, upgrade=upgrade, rules=rules) is not None) is refused


def test_rebinding_host_with_browser_headers_is_refused_for_reads_too() -> None:
    """A rebound page is same-origin, so its reads carry browser headers and are refused."""
    same_origin = "http://attacker.example:8001"
    assert refusal("GET", "attacker.example:8001", origin=same_origin, rules=WIDE_OPEN)
    assert refusal("GET", "attacker.example:8001", site="same-origin", rules=WIDE_OPEN)


def test_non_loopback_listener_allows_named_clients_without_browser_headers() -> None:
    """--address 0.0.0.0 --accept-hosts '.*' (containers): headless clients keep working."""
    assert refusal("POST", "proxy:8001", local_only=False, rules=WIDE_OPEN) is None
    assert refusal("POST", "proxy:8001", site="same-origin", local_only=False, rules=WIDE_OPEN)


def test_vouches_for_ignores_catch_all_patterns() -> None:
    """Only accept-hosts patterns that do not match any name vouch for a name."""
    assert NAMED.vouches_for("proxy.corp.example")
    assert not WIDE_OPEN.vouches_for("proxy.corp.example")
    assert not FilterRules.from_flags(accept_hosts="corp").vouches_for("proxy.corp.example")


@pytest.mark.parametrize(
    ("name", "loopback"),
    [
        ("localhost", True),
        ("LocalHost.", True),
        ("x.localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("[::1]", True),
        ("localhost.evil.com", False),
        ("10.0.0.1", False),
        ("[::2]", False),
    ],
)
def test_is_loopback_host(name: str, loopback: bool) -> None:
    """Loopback names and literals."""
    assert is_loopback_host(name) is loopback


@pytest.mark.parametrize(
    ("headers", "presented"),
    [
        ([], None),
        ([("authorization", "Bearer abc")], "abc"),
        ([("authorization", "bearer  abc ")], "abc"),
        ([("authorization", "Basic YTpi")], None),
        ([("x-kubegate-proxy-token", "abc")], "abc"),
        ([("authorization", "Bearer other"), ("x-kubegate-proxy-token", "abc")], "abc"),
    ],
)
def test_token_presented(headers: list[tuple[str, str]], presented: str | None) -> None:
    """The token comes from X-Kubegate-Proxy-Token, else a Bearer Authorization."""
    assert token_presented(headers) == presented


def test_token_matches() -> None:
    """Only the exact token is accepted."""
    assert token_matches("s3cret", [("authorization", "Bearer s3cret")])
    assert not token_matches("s3cret", [("authorization", "Bearer s3cre")])
    assert not token_matches("s3cret", [])
