"""The URL rule of HTML/CSS rewriting (core.rewrite_url): which URLs move under the prefix."""

from __future__ import annotations

import pytest

from kubegate.core.rewrite_url import UrlRule, remove_dot_segments

P = "/api/v1/namespaces/ns/services/web:http/proxy"
RULE = UrlRule.build(
    P, backend_host="10.0.0.5:8080", backend_scheme="http", public_host="gw.example:6443"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/", P + "/"),
        ("/app.js", P + "/app.js"),
        ("/a/b?q=1#f", P + "/a/b?q=1#f"),
        ("http://10.0.0.5:8080/x", P + "/x"),
        ("HTTP://10.0.0.5:8080/x", P + "/x"),
        ("http://10.0.0.5:8080", P + "/"),
        ("http://10.0.0.5:8080?q", P + "/?q"),
        ("//10.0.0.5:8080/x", P + "/x"),
        ("https://gw.example:6443/login", P + "/login"),
        ("https://GW.EXAMPLE:6443/login", P + "/login"),
        ("  /padded  ", P + "/padded"),
        ("/a\t/b\n", P + "/a/b"),
        ("\\back", P + "/back"),
        ("/a/../b", P + "/b"),
        ("/../../../api/v1/secrets", P + "/api/v1/secrets"),
        ("/a/%2e%2e/b", P + "/b"),
        ("/a/./b/.", P + "/a/b/"),
        ("/.well-known/x", P + "/.well-known/x"),
        (
            "http://10.0.0.5:8080" + P + "/x",
            P + "/x",
        ),  # backend host plus prefix: only the host goes
    ],
)
def test_rewritten(url: str, expected: str) -> None:
    """URLs that point at the backend (or kubegate's own origin) move under the prefix."""
    assert RULE.rewrite(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "app.js",
        "../x",
        "./x",
        "?q=1",
        "#top",
        "https://cdn.example/x.js",
        "//cdn.example/x.js",
        "http://10.0.0.5:9090/x",  # same host, other port
        "https://10.0.0.5:8080/x",  # same host and port, other scheme
        "http://user@10.0.0.5:8080/x",
        "data:text/html,<script>alert(1)</script>",
        "javascript:alert(1)",
        "mailto:a@b.example",
        P,
        P + "/",
        P + "/x?y",
        P + "?q",
        P + "#f",
        "https://gw.example:6443" + P + "/x",  # already under the prefix on kubegate's origin
        "/\\evil.example/x",
        "//evil.example/x",
    ],
)
def test_left_alone(url: str) -> None:
    """Relative, foreign, non-http and already-prefixed URLs stay exactly as they are."""
    assert RULE.rewrite(url) is None


def test_prefix_lookalike_is_prefixed() -> None:
    """A path that merely starts with the prefix's text (no segment boundary) is rewritten."""
    assert RULE.rewrite(P + "x/y") == P + P + "x/y"


def test_ipv6_backend_host_matches() -> None:
    """An IPv6 backend address matches in any spelling of the same address."""
    rule = UrlRule.build(P, backend_host="[fd00::1]:8080", backend_scheme="http")
    assert rule.rewrite("http://[fd00:0:0::1]:8080/x") == P + "/x"


def test_default_port_matches() -> None:
    """A backend addressed without a port is its scheme's default port."""
    rule = UrlRule.build(P, backend_host="10.0.0.5", backend_scheme="http")
    assert rule.rewrite("http://10.0.0.5:80/x") == P + "/x"


def test_unparsable_public_host_is_ignored() -> None:
    """A Host header that is no host leaves only the backend's origin to match."""
    rule = UrlRule.build(P, backend_host="10.0.0.5:8080", backend_scheme="http", public_host="a@b")
    assert rule.origins == frozenset({("http", "10.0.0.5", 8080)})


@pytest.mark.parametrize(
    "prefix", ["", "/a b/proxy", '/a"/proxy', "/a</proxy", "/a'/proxy", "/a(/proxy"]
)
def test_unsafe_prefix_refused(prefix: str) -> None:
    """A prefix with characters that would need escaping in HTML or CSS is refused."""
    with pytest.raises(ValueError):
        UrlRule.build(prefix, backend_host="h:1", backend_scheme="http")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/b/../c", "/a/c"),
        ("/..", "/"),
        ("/a/..", "/"),
        ("/a/.", "/a/"),
        ("/x/%2E%2E/y", "/y"),
        ("/a", "/a"),
    ],
)
def test_remove_dot_segments(path: str, expected: str) -> None:
    """Dot segments (also percent-encoded) are resolved and never climb above the root."""
    assert remove_dot_segments(path) == expected
