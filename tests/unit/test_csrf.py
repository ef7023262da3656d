"""core/csrf.py: origins as browsers serialise them, and which browser-credentialed requests
are refused as cross-site (security.md §2.10, A30, A31)."""

from __future__ import annotations

import pytest

from kubegate.core.csrf import Origin, parse_origin, refusal, request_origin

OWN = Origin("https", "kube.example", 6443)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://kube.example:6443", OWN),
        ("HTTPS://KUBE.Example:6443", OWN),
        ("https://kube.example", Origin("https", "kube.example", 443)),
        ("http://kube.example", Origin("http", "kube.example", 80)),
        ("https://[::1]:6443", Origin("https", "[::1]", 6443)),
        ("https://127.0.0.1:8443", Origin("https", "127.0.0.1", 8443)),
        (" https://kube.example:6443 ", OWN),
        ("null", None),
        ("", None),
        ("kube.example:6443", None),
        ("ftp://kube.example", None),
        ("https://", None),
        ("https://kube.example:6443/", None),
        ("https://user@kube.example:6443", None),
        ("https://kube.example:0", None),
        ("https://kube.example:65536", None),
        ("https://kube.example:+443", None),
        ("https://kube.example:٤٤٣", None),  # Arabic-Indic digits are digits to str.isdigit
        ("https://[::1", None),
        ("https://[]:443", None),
        ("https://kube.example:6443\r\nx: y", None),
        ("https://kube.example\\@evil.example", None),
    ],
)
def test_parse_origin(value: str, expected: Origin | None) -> None:
    """Origin headers parse to (scheme, host, port) with the default port made explicit."""
    assert parse_origin(value) == expected


@pytest.mark.parametrize(
    ("host", "tls", "expected"),
    [
        ("kube.example:6443", True, OWN),
        ("kube.example", True, Origin("https", "kube.example", 443)),
        ("kube.example", False, Origin("http", "kube.example", 80)),
        ("kube.example:", True, Origin("https", "kube.example", 443)),
        ("[::1]:6443", True, Origin("https", "[::1]", 6443)),
        (None, True, None),
        ("", True, None),
        ("kube.example:x", True, None),
    ],
)
def test_request_origin(host: str | None, tls: bool, expected: Origin | None) -> None:
    """A request's own origin comes from the connection's TLS and the Host header."""
    assert request_origin(host, tls) == expected


def test_origin_prints_without_a_default_port() -> None:
    """str(Origin) is the browser's serialisation: default ports are left out."""
    assert str(Origin("https", "kube.example", 443)) == "https://kube.example"
    assert str(OWN) == "https://kube.example:6443"


SAME = "https://kube.example:6443"


@pytest.mark.parametrize(
    ("case", "method", "upgrade", "origin", "site", "metadata", "browser_only", "refused"),
    [
        # Safe methods without an upgrade are never checked.
        ("GET cross-site", "GET", False, "https://evil.example", "cross-site", True, True, False),
        ("HEAD", "HEAD", False, None, None, False, True, False),
        ("OPTIONS", "OPTIONS", False, "https://evil.example", None, False, True, False),
        # State-changing requests.
        ("POST same origin", "POST", False, SAME, "same-origin", True, True, False),
        ("POST same origin, no fetch metadata", "POST", False, SAME, None, False, True, False),
        ("POST foreign origin", "POST", False, "https://evil.example", None, False, True, True),
        ("POST other port", "POST", False, "https://kube.example:7443", None, False, True, True),
        ("POST http scheme", "POST", False, "http://kube.example:6443", None, False, True, True),
        ("POST sibling", "POST", False, "https://a.kube.example:6443", None, False, True, True),
        ("POST suffix", "POST", False, "https://kube.example.x:6443", None, False, True, True),
        ("POST null origin", "POST", False, "null", None, False, True, True),
        ("POST cross-site", "POST", False, None, "cross-site", True, True, True),
        ("POST same-site", "POST", False, None, "same-site", True, True, True),
        ("POST same-site, own origin", "POST", False, SAME, "same-site", True, True, True),
        ("POST typed by user", "POST", False, None, "none", True, True, False),
        ("POST same-origin fetch", "POST", False, None, "same-origin", True, True, False),
        ("PUT no origin, cookie", "PUT", False, None, None, False, True, True),
        ("DELETE no origin, basic tool", "DELETE", False, None, None, False, False, False),
        ("PATCH basic, browser w/o site", "PATCH", False, None, None, True, False, True),
        ("PATCH basic, foreign", "PATCH", False, "https://evil.example", None, False, False, True),
        # Upgrades (CSWSH): even a GET.
        ("WS same origin", "GET", True, SAME, None, False, True, False),
        ("WS foreign origin", "GET", True, "https://evil.example", None, False, True, True),
        ("WS no origin, cookie", "GET", True, None, None, False, True, True),
        ("WS no origin, basic", "GET", True, None, None, False, False, True),
        ("WS cross-site", "GET", True, SAME, "cross-site", True, False, True),
    ],
)
def test_refusal_table(
    case: str,
    method: str,
    upgrade: bool,
    origin: str | None,
    site: str | None,
    metadata: bool,
    browser_only: bool,
    refused: bool,
) -> None:
    """Each row: whether a browser-credentialed request is refused as cross-site."""
    reason = refusal(
        method,
        upgrade=upgrade,
        origin=origin,
        fetch_site=site,
        fetch_metadata=metadata,
        own=OWN,
        browser_only=browser_only,
    )
    assert (reason is not None) == refused, (case, reason)


def test_refusal_without_a_host_refuses_any_origin() -> None:
    """With no Host to compare with, no Origin can be same-origin."""
    reason = refusal(
        "POST",
        upgrade=False,
        origin=SAME,
        fetch_site=None,
        fetch_metadata=False,
        own=None,
        browser_only=True,
    )
    assert reason is not None


def test_refusal_message_names_the_origin_but_stays_short() -> None:
    """The reason quotes the offending Origin, cut to a bounded length."""
    reason = refusal(
        "POST",
        upgrade=False,
        origin="https://evil.example/" + "x" * 5000,
        fetch_site=None,
        fetch_metadata=False,
        own=OWN,
        browser_only=True,
    )
    assert reason is not None and "evil.example" in reason and len(reason) < 400
