"""kubectl proxy's request filter and path handling (semantics §4.2-§4.3; security A33)."""

from __future__ import annotations

import pytest

from kubegate.client.proxy_filters import (
    FilterRules,
    InvalidPath,
    PatternError,
    compile_patterns,
    go_clean_path,
    host_without_port,
    inspect_path,
    path_forms,
    redirect_body,
    strip_api_prefix,
)

DEFAULT = FilterRules.from_flags()


def allowed(rules: FilterRules, method: str, raw_path: str, host_header: str) -> bool:
    """The local proxy's decision for one request: decode, then filter every path form."""
    path = inspect_path(raw_path)
    assert path.redirect is None, f"{raw_path} is redirected, never filtered"
    return rules.allows(method, path_forms(path.decoded), host_without_port(host_header))


@pytest.mark.parametrize(
    ("host_header", "expected"),
    [
        ("localhost", "localhost"),
        ("localhost:8001", "localhost"),
        ("localhost:", "localhost"),  # Go's SplitHostPort: empty port
        ("127.0.0.1:8001", "127.0.0.1"),
        ("[::1]:8001", "[::1]"),  # brackets kept (kubectl's #77496 quirk fixed)
        ("[::1]", "[::1]"),
        ("example.com:80", "example.com"),
        ("a:b:c", "a:b:c"),  # not host:port: left whole, as Go does
        ("localhost:80x", "localhost:80x"),
        ("", ""),
    ],
)
def test_host_without_port(host_header: str, expected: str) -> None:
    """The port (and only the port) is stripped before accept-hosts matching."""
    assert host_without_port(host_header) == expected


@pytest.mark.parametrize(
    ("host_header", "accepted"),
    [
        ("localhost:8001", True),
        ("localhost", True),
        ("127.0.0.1:8001", True),
        ("[::1]:8001", True),
        ("localhost.evil.com", False),  # the reason the patterns are anchored (#8871)
        ("localhost.evil.com:8001", False),
        ("evil-localhost:8001", False),
        ("127.0.0.1.nip.io:8001", False),
        ("attacker.example:8001", False),
        ("127.0.0.2:8001", False),
        ("LOCALHOST:8001", False),  # case-sensitive, as kubectl
        ("", False),
    ],
)
def test_default_accept_hosts(host_header: str, accepted: bool) -> None:
    """The default accept-hosts patterns are anchored and match the Host less its port."""
    assert allowed(DEFAULT, "GET", "/api/v1/pods", host_header) is accepted


@pytest.mark.parametrize(
    ("raw_path", "accepted"),
    [
        ("/api/v1/namespaces/x/pods/y/exec", False),
        ("/api/v1/namespaces/x/pods/y/attach", False),
        ("/api/v1/namespaces/x/pods/y/exec?command=sh", False),
        ("/api/v1/namespaces/x/pods/y/exec/", False),
        ("/api/v1/namespaces/x/pods/y/%65xec", False),  # encoded letters are decoded
        ("/api/v1/namespaces/x/pods/y/%65%78%65%63", False),
        ("/api/v1/namespaces/x/pods/y/ex%65c", False),
        ("/api/v1/namespaces/x/pods/y%2Fexec", False),  # an encoded slash is a slash
        ("/api/v1/namespaces/x/pods/y/exec/%2e%2e", False),  # decoded dots: still exec
        ("/api/v1/namespaces/x/pods/y/att%61ch", False),
        ("/api/v1/namespaces/x/pods/exec-worker", True),  # a pod *named* exec… (#28765)
        ("/api/v1/namespaces/x/pods/exec-worker/log", True),
        ("/api/v1/namespaces/exec/pods", True),
        ("/api/v1/namespaces/x/pods/y/portforward", True),  # not rejected by kubectl either
        ("/api/v1/namespaces/x/pods/y/log", True),
        ("/apis/apps/v1/deployments", True),
        ("/version", True),
    ],
)
def test_default_reject_paths(raw_path: str, accepted: bool) -> None:
    """exec and attach are rejected however the path is encoded; names containing exec pass."""
    assert allowed(DEFAULT, "GET", raw_path, "localhost:8001") is accepted
    assert allowed(DEFAULT, "POST", raw_path, "localhost:8001") is accepted


@pytest.mark.parametrize(
    ("raw_path", "redirect"),
    [
        ("//api/v1/namespaces/x/pods/y/exec", "/api/v1/namespaces/x/pods/y/exec"),
        ("/api//v1/namespaces/x/pods/y/exec", "/api/v1/namespaces/x/pods/y/exec"),
        ("/api/v1/./namespaces", "/api/v1/namespaces"),
        ("/api/v1/namespaces/x/pods/y/exec/..", "/api/v1/namespaces/x/pods/y"),
        ("/api/v1/x/../y/", "/api/v1/y/"),
        ("/api/v1/x/.", "/api/v1/x"),
        ("//", "/"),
        ("//api/v1/a%20b", "/api/v1/a%20b"),  # escapes are kept (Go escapes them twice)
    ],
)
def test_unclean_paths_are_redirected_not_filtered(raw_path: str, redirect: str) -> None:
    """A path with ``//``, ``.`` or ``..`` gets Go's 307 to its clean form, never the API."""
    assert inspect_path(raw_path).redirect == redirect


@pytest.mark.parametrize("raw_path", ["/api/v1/pods", "/", "/api/v1/x/", "/a/...", "/a/.b"])
def test_clean_paths_are_not_redirected(raw_path: str) -> None:
    """Clean paths pass as they are."""
    assert inspect_path(raw_path).redirect is None


@pytest.mark.parametrize(
    "raw_path", ["/api/%zz", "/api/%4", "/api/100%", "/a%0Ab", "/a%00", "/a\x01"]
)
def test_undecodable_paths_are_refused(raw_path: str) -> None:
    """Malformed escapes and control characters are 400, never matched."""
    with pytest.raises(InvalidPath):
        inspect_path(raw_path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("a/b", "/a/b"),
        ("/a/../../b", "/b"),
        ("/a/b/", "/a/b/"),
        ("/../", "/"),
        ("/.", "/"),
    ],
)
def test_go_clean_path(path: str, expected: str) -> None:
    """Go's cleanPath: path.Clean, a leading slash, the trailing slash kept."""
    assert go_clean_path(path) == expected


def test_filter_checks_the_cleaned_form_too() -> None:
    """A decoded path with dot segments is checked before and after cleaning."""
    rules = FilterRules.from_flags(reject_paths=r"^/api/v1/secrets$")
    assert not allowed(rules, "GET", "/api/v1/x/%2e%2e/secrets", "localhost")
    assert allowed(rules, "GET", "/api/v1/x/secrets", "localhost")


@pytest.mark.parametrize(
    ("reject_methods", "method", "accepted"),
    [
        ("^$", "POST", True),  # the default rejects nothing
        ("^$", "DELETE", True),
        ("POST,PUT,PATCH", "POST", False),
        ("POST,PUT,PATCH", "PATCH", False),
        ("POST,PUT,PATCH", "GET", True),
        ("^DELETE$", "DELETE", False),
        ("", "DELETE", True),  # empty: an empty list, matching nothing
    ],
)
def test_reject_methods(reject_methods: str, method: str, accepted: bool) -> None:
    """--reject-methods patterns are unanchored regular expressions over the method."""
    rules = FilterRules.from_flags(reject_methods=reject_methods)
    assert allowed(rules, method, "/api/v1/pods", "localhost") is accepted


def test_empty_accept_list_rejects_everything() -> None:
    """An empty --accept-paths or --accept-hosts is an empty list: nothing is accepted."""
    assert not allowed(FilterRules.from_flags(accept_paths=""), "GET", "/version", "localhost")
    assert not allowed(FilterRules.from_flags(accept_hosts=""), "GET", "/version", "localhost")


def test_empty_reject_list_rejects_nothing() -> None:
    """An empty --reject-paths lets exec through (kubectl warns that the filter is relaxed)."""
    rules = FilterRules.from_flags(reject_paths="")
    assert allowed(rules, "GET", "/api/v1/namespaces/x/pods/y/exec", "localhost")


def test_accept_paths_restricts() -> None:
    """--accept-paths narrows what is proxied."""
    rules = FilterRules.from_flags(accept_paths=r"^/api/v1/namespaces/default/")
    assert allowed(rules, "GET", "/api/v1/namespaces/default/pods", "localhost")
    assert not allowed(rules, "GET", "/api/v1/namespaces/kube-system/pods", "localhost")


def test_go_end_of_text_escape_is_translated() -> None:
    r"""RE2's ``\z`` works (Python spells it ``\Z``)."""
    (pattern,) = compile_patterns(r"^localhost\z", "--accept-hosts")
    assert pattern.search("localhost") and not pattern.search("localhostx")


def test_invalid_pattern_names_the_flag() -> None:
    """A pattern that does not compile is a usage error naming its flag."""
    with pytest.raises(PatternError, match="--reject-paths"):
        FilterRules.from_flags(reject_paths="(")


@pytest.mark.parametrize(
    ("path", "prefix", "expected"),
    [
        ("/api/v1/pods", "/", "/api/v1/pods"),
        ("/custom/api/v1/pods", "/custom/", "/api/v1/pods"),  # stripLeaveSlash
        ("/custom/", "/custom/", "/"),
        ("/other/api", "/custom/", None),
        ("/api/v1/pods", "/api/", "/api/v1/pods"),  # an /api prefix is not stripped
        ("/apis/apps", "/api/", None),
    ],
)
def test_strip_api_prefix(path: str, prefix: str, expected: str | None) -> None:
    """--api-prefix routing follows kubectl's NewServer."""
    assert strip_api_prefix(path, prefix) == expected


def test_redirect_body_is_gos() -> None:
    """Go's http.Redirect body, HTML-escaped."""
    assert (
        redirect_body('/a?b=1&c="') == b'<a href="/a?b=1&amp;c=&#34;">Temporary Redirect</a>.\n\n'
    )
