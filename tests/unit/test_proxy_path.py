"""Backend paths, the root redirect and the proxy prefix (semantics §1.3, §1.7, §1.8; A21-A24)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubegate.core.proxy_path import (
    PathNotAllowed,
    backend_path,
    clean_path,
    proxy_prefix,
    redirect_for_root,
)
from kubegate.core.proxy_target import ProxyError
from kubegate.core.requestinfo import parse_request_info

SVC = "/api/v1/namespaces/ns/services/svc/proxy"


@pytest.mark.parametrize(
    ("subpath", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("//", "/"),
        ("/a", "/a"),
        ("/a/", "/a/"),
        ("/a/b/c", "/a/b/c"),
        ("/a//b///c//", "/a/b/c/"),  # empty segments collapse, trailing slash kept
        ("/./a/./b/.", "/a/b"),
        ("/a/b/..", "/a"),
        ("/a/b/../", "/a/"),
        ("/a/../..", "/"),
        ("/..", "/"),
        ("/../", "/"),
        ("/../../../../b/services/y/proxy/", "/b/services/y/proxy/"),  # A22: same backend
        ("/a/%2e%2e/b", "/b"),  # an encoded dot segment is a dot segment
        ("/a/%2E%2e/%2E/b", "/b"),
        ("/a/.%2e/b", "/b"),
        ("/a/%2e./b", "/b"),
        ("/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"),
        ("/a/%252e%252e/b", "/a/%252e%252e/b"),  # double encoding is data
        ("/a/...", "/a/..."),  # not a dot segment
        ("/a/..b/c", "/a/..b/c"),
        ("/a%2Fb/c", "/a/b/c"),  # an encoded slash is a separator, as in kube
        ("/a%2fb/..", "/a"),
        ("/x%2F..%2Fy", "/y"),  # and cannot hide a dot segment
        ("/a%5Cb", "/a%5Cb"),
        ("/a\\..\\b", "/a%5C..%5Cb"),  # a raw backslash is escaped, not a separator
        ("/caf%C3%A9", "/caf%C3%A9"),  # escapes kept as sent, hex case too
        ("/caf%c3%a9", "/caf%c3%a9"),
        ("/%41", "/%41"),  # decodes nothing
        ("/a b", "/a%20b"),
        ('/"<>^`{|}', "/%22%3C%3E%5E%60%7B%7C%7D"),
        ("/[v6]", "/%5Bv6%5D"),
        ("/x?y#z", "/x%3Fy%23z"),
        ("/café", "/caf%E9"),  # latin-1 text from the HTTP layer: one byte per character
        ("/\u20ac", "/%E2%82%AC"),
        ("/a;b=c/d:e@f!$&'()*+,=~", "/a;b=c/d:e@f!$&'()*+,=~"),
        ("/a%0d%0aX:y", "/a%0d%0aX:y"),
        ("/\t", "/%09"),
    ],
)
def test_backend_path(subpath: str, expected: str) -> None:
    """The sub-path is cleaned under the backend root and forwarded as encoded."""
    assert backend_path(subpath) == expected


@pytest.mark.parametrize(
    "subpath", ["/%00", "/a%00b", "/a/\x00", "/%", "/%4", "/%zz", "/a%g0", "/100%"]
)
def test_backend_path_refuses(subpath: str) -> None:
    """NUL (raw or %00) and malformed escapes are 400 PathNotAllowed."""
    with pytest.raises(PathNotAllowed) as caught:
        backend_path(subpath)
    assert isinstance(caught.value, ProxyError)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")


def test_backend_path_requires_requestinfo_form() -> None:
    """A sub-path that is neither '' nor absolute is a caller error."""
    with pytest.raises(ValueError):
        backend_path("a/b")


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        (SVC + "/a/b", "/a/b"),
        (SVC + "/a/b/", "/a/b/"),
        (SVC + "/", "/"),
        (SVC, "/"),
        (SVC + "/../../../../b/services/y/proxy/", "/b/services/y/proxy/"),
        (SVC + "/%2e%2e/%2e%2e/x", "/x"),
        (SVC + "//x", "/x"),
        ("/api/v1/nodes/n1/proxy/metrics", "/metrics"),
        ("/api/v1/namespaces/ns/pods/https:p:8443/proxy/a%2Fb", "/a/b"),
    ],
)
def test_backend_path_from_request_info(raw_path: str, expected: str) -> None:
    """End to end with the request parser: the tail never leaves the routed backend."""
    info = parse_request_info("GET", raw_path, "")
    assert info.subresource == "proxy"
    assert backend_path(info.subpath) == expected


def test_a22_routes_to_the_same_service() -> None:
    """A22: traversal in the tail neither changes the routed service nor escapes its root."""
    info = parse_request_info(
        "GET", "/api/v1/namespaces/a/services/x/proxy/../../../../b/services/y/proxy/", ""
    )
    assert (info.namespace, info.resource, info.name) == ("a", "services", "x")
    assert backend_path(info.subpath) == "/b/services/y/proxy/"


# -- the root redirect ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "raw_path", "query", "upgrade", "location"),
    [
        ("GET", SVC, "", False, SVC + "/"),
        ("HEAD", SVC, "", False, SVC + "/"),
        ("GET", SVC, "q=1&x=%20", False, SVC + "/?q=1&x=%20"),  # A24: query kept raw
        ("get", SVC, "", False, SVC + "/"),
        ("GET", "/api/v1/nodes/n1/proxy", "", False, "/api/v1/nodes/n1/proxy/"),
        (
            "GET",
            "/api/v1/namespaces/ns/pods/p:8080/proxy",
            "",
            False,
            "/api/v1/namespaces/ns/pods/p:8080/proxy/",
        ),
        (
            "GET",
            "/api/v1/namespaces/ns/services/https:svc:/proxy",
            "",
            False,
            "/api/v1/namespaces/ns/services/https:svc:/proxy/",
        ),
        ("GET", SVC + "/", "", False, None),  # already has the slash
        ("GET", SVC + "/a", "", False, None),
        ("GET", SVC + "/a/proxy", "", False, None),  # a deeper path ending in /proxy
        ("POST", SVC, "", False, None),  # A24: other methods are proxied to /
        ("PUT", SVC, "", False, None),
        ("DELETE", SVC, "", False, None),
        ("OPTIONS", SVC, "", False, None),
        ("GET", SVC, "", True, None),  # upgrades are never redirected
        ("GET", "/api/v1/namespaces/ns/services/svc", "", False, None),
        ("GET", "/api/v1/namespaces/ns/pods/p/log", "", False, None),
        ("GET", "/healthz/proxy", "", False, None),
        ("GET", "//api/v1/nodes/n/proxy", "", False, None),
        ("GET", "/api/v1/namespaces/../services/svc/proxy", "", False, None),
    ],
)
def test_redirect_for_root(
    method: str, raw_path: str, query: str, upgrade: bool, location: str | None
) -> None:
    """GET/HEAD to …/proxy get a path-only Location with the slash; nothing else does."""
    assert redirect_for_root(method, raw_path, query, upgrade) == location


# -- the prefix --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_path", "subpath", "prefix"),
    [
        (SVC, "", SVC),
        (SVC + "/", "", SVC),
        (SVC + "/a/b", "/a/b", SVC),
        (SVC + "/a/b/", "/a/b/", SVC),
        (SVC + "//", "//", SVC),
        ("/api/v1/nodes/n1:10255/proxy/stats", "/stats", "/api/v1/nodes/n1:10255/proxy"),
        (
            "/api/v1/namespaces/ns/services/https:svc%3A/proxy/x",
            "/x",
            "/api/v1/namespaces/ns/services/https:svc%3A/proxy",
        ),
    ],
)
def test_proxy_prefix(raw_path: str, subpath: str, prefix: str) -> None:
    """The prefix is the raw request path up to and including /proxy."""
    assert proxy_prefix(raw_path, subpath) == prefix


@pytest.mark.parametrize(
    "raw_path", [SVC, SVC + "/", SVC + "/a/b/", SVC + "/a%2Fb", "/api/v1/nodes/n/proxy/x/proxy/"]
)
def test_proxy_prefix_agrees_with_request_info(raw_path: str) -> None:
    """proxy_prefix(path, info.subpath) is consistent with the request parser."""
    info = parse_request_info("GET", raw_path, "")
    prefix = proxy_prefix(raw_path, info.subpath)
    assert prefix.endswith("/proxy")
    assert raw_path.startswith(prefix)


@pytest.mark.parametrize(
    ("raw_path", "subpath"), [(SVC + "/a", "/b"), ("/api/v1/x", ""), ("/a", "/a")]
)
def test_proxy_prefix_rejects_mismatch(raw_path: str, subpath: str) -> None:
    """A sub-path that does not end the request path is a caller error."""
    with pytest.raises(ValueError):
        proxy_prefix(raw_path, subpath)


# -- properties --------------------------------------------------------------------------------

PATH_ALPHABET = "/.%2eEfF5Cab\\ ?#;:é\u20ac0"
subpaths = st.text(alphabet=PATH_ALPHABET, max_size=40).map(lambda s: "/" + s)


def _dot_segments(path: str) -> list[str]:
    return [s for s in path.split("/") if re.sub("%2[eE]", ".", s) in (".", "..")]


@given(subpaths)
def test_backend_path_properties(subpath: str) -> None:
    """The result starts with '/', has no '//', no dot segment, and is idempotent."""
    try:
        result = backend_path(subpath)
    except PathNotAllowed:
        return
    assert result.startswith("/")
    assert "//" not in result
    assert not _dot_segments(result)
    assert backend_path(result) == result
    assert result.endswith("/") == (subpath.endswith("/") or result == "/")


@given(
    st.lists(
        st.sampled_from(["a", ".", "..", "%2e", "%2E%2e", ".%2e", "", "%2F", "b%2F.."]), max_size=12
    )
)
def test_backend_path_never_climbs(segments: list[str]) -> None:
    """Read the way a backend decodes it (all but the encoded slash), it never leaves '/'."""
    result = backend_path("/" + "/".join(segments))
    depth = 0
    decoded = unquote(re.sub("%2[fF]", "\x01", result))
    for segment in decoded.split("/")[1:]:
        if segment == "..":
            depth -= 1
        elif segment not in ("", "."):
            depth += 1
        assert depth >= 0


@given(st.text(max_size=40))
def test_backend_path_only_raises_path_not_allowed(text: str) -> None:
    """Arbitrary unicode after '/' is cleaned or refused with PathNotAllowed."""
    try:
        backend_path("/" + text)
    except PathNotAllowed:
        pass


@given(subpaths)
def test_clean_path_agrees_with_backend_path(subpath: str) -> None:
    """backend_path is clean_path on a non-empty sub-path."""
    try:
        expected = backend_path(subpath)
    except PathNotAllowed:
        return
    assert clean_path(subpath) == expected
