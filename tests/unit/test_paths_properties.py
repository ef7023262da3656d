"""Property tests: the API path parse, the proxy sub-path and the proxy id grammar cannot be
tricked — they never crash, authorise exactly what they route, and never leave the backend
root (security.md §2.4, A21-A23)."""

from __future__ import annotations

from urllib.parse import quote, unquote

from hypothesis import example, given
from hypothesis import strategies as st

from kubegate.core.proxy_path import PathNotAllowed, backend_path, clean_path
from kubegate.core.proxy_target import (
    InvalidProxyId,
    ProxyId,
    parse_proxy_id,
    render_proxy_id,
)
from kubegate.core.requestinfo import PathError, parse_request_info

# Pieces attackers combine: separators, dots, their encodings (single and double), NUL,
# backslash, semicolons, the names of structural segments.
PATH_PIECES = st.sampled_from(
    [
        "/",
        "//",
        ".",
        "..",
        "%2e",
        "%2E",
        "%2e%2e",
        ".%2e",
        "%2f",
        "%2F",
        "%5c",
        "%5C",
        "\\",
        "%00",
        "\x00",
        "%25",
        "%252e",
        "%252f",
        ";",
        ";x",
        "%3b",
        "?",
        "#",
        "%",
        "%zz",
        "api",
        "apis",
        "v1",
        "namespaces",
        "default",
        "kube-system",
        "services",
        "pods",
        "nodes",
        "proxy",
        "status",
        "x",
        "a",
        "b",
        "exec",
        "é",
        "%C3%A9",
        " ",
        "%20",
    ]
)
segments = st.lists(PATH_PIECES, max_size=3).map("".join)
API_ROOTS = st.sampled_from(["/api/v1", "/apis/apps/v1", "/api", "/apis", "", "/api/v1/"])
paths = st.one_of(
    st.lists(PATH_PIECES, max_size=14).map(lambda parts: "/" + "".join(parts)),
    # mostly well-formed API paths with hostile segments: the parse gets far into them
    st.builds(
        lambda root, segs, slash: root + "/" + "/".join(segs) + slash,
        API_ROOTS,
        st.lists(
            st.one_of(segments, st.sampled_from(["namespaces", "services", "proxy"])), max_size=8
        ),
        st.sampled_from(["", "/"]),
    ),
)
METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
names = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,12}[a-z0-9])?", fullmatch=True)
# Any text a client might put in a segment: the renderer percent-encodes it.
segment_text = st.text(min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..") and "\x00" not in s and "\\" not in s and "/" not in s
)
raw_tails = st.lists(PATH_PIECES, max_size=12).map("".join)


def render(prefix: str, group: str, version: str, segments: list[str]) -> str:
    head = [version] if prefix == "api" else [group, version]
    return "/" + "/".join([prefix, *(quote(s, safe="") for s in [*head, *segments])])


@given(METHODS, paths, st.sampled_from(["", "watch=true", "watch=1&x=%zz", "a=b"]))
@example("GET", "/api/v1/namespaces/a%2Fb/services", "")
@example("GET", "/api/v1/namespaces/%2e%2e/services", "")
def test_parse_only_raises_path_error(method: str, path: str, query: str) -> None:
    """Any path either parses or is refused with PathError (a 400), never another error."""
    try:
        parse_request_info(method, path, query)
    except PathError:
        pass


@given(METHODS, paths)
def test_decoded_attributes_are_plain_segments(method: str, path: str) -> None:
    """Every attribute authorization sees is one plain segment: no separator, NUL,
    backslash or dot segment, whatever encoding the client used."""
    try:
        info = parse_request_info(method, path, "")
    except PathError:
        return
    for value in (
        info.api_group,
        info.api_version,
        info.namespace,
        info.resource,
        info.name,
        info.subresource,
    ):
        assert "/" not in value and "\\" not in value and "\x00" not in value
        assert value not in (".", "..")


@given(METHODS, paths)
@example("GET", "/api/%252f/%25")
@example("GET", "/api/%252e/%25")
def test_canonical_rendering_parses_to_the_same_attributes(method: str, path: str) -> None:
    """Re-rendering a parsed resource path from its decoded attributes gives a path that
    parses to the same attributes: there is one reading, so what is authorised is routed."""
    try:
        info = parse_request_info(method, path, "")
    except PathError:
        return
    if not info.is_resource_request:
        return
    segments: list[str] = []
    if info.namespace:
        segments += ["namespaces", info.namespace]
    segments.append(info.resource)
    if info.name:
        segments.append(info.name)
    if info.subresource:
        segments.append(info.subresource)
    canonical = render(info.api_prefix, info.api_group, info.api_version, segments) + info.subpath
    again = parse_request_info(method, canonical, "")
    assert (again.namespace, again.resource, again.name, again.subresource, again.verb) == (
        info.namespace,
        info.resource,
        info.name,
        info.subresource,
        info.verb,
    )
    assert (again.api_group, again.api_version, again.subpath) == (
        info.api_group,
        info.api_version,
        info.subpath,
    )


@given(METHODS, names, segment_text, st.sampled_from(["services", "pods"]), raw_tails)
def test_proxy_tail_never_changes_the_authorised_target(
    method: str, namespace: str, name: str, resource: str, tail: str
) -> None:
    """Whatever follows ``…/proxy/``, the namespace, resource, name and subresource that
    authorization sees are the ones before it (A22)."""
    prefix = f"/api/v1/namespaces/{namespace}/{resource}/{quote(name, safe='')}/proxy/"
    info = parse_request_info(method, prefix + tail, "")
    assert (info.namespace, info.resource, info.name, info.subresource) == (
        namespace,
        resource,
        name,
        "proxy",
    )


@given(raw_tails)
@example("/%2e%2e/%2E./.%2e/../x")
@example("/a%2F..%2F..%2Fb")
def test_backend_path_never_climbs_out_of_the_backend_root(tail: str) -> None:
    """The forwarded path starts with '/', has no empty, '.' or '..' segment — read the way
    the backend reads it, after one percent-decoding — and no encoded slash."""
    subpath = "/" + tail.lstrip("/") if tail else ""
    try:
        result = backend_path(subpath)
    except PathNotAllowed:
        return
    assert result.startswith("/")
    assert "%2f" not in result.lower()
    body = result[1:].removesuffix("/")
    if body:
        for segment in body.split("/"):
            assert segment != ""
            assert unquote(segment) not in (".", "..")


@given(raw_tails)
def test_backend_path_is_idempotent(tail: str) -> None:
    """Cleaning a cleaned path changes nothing."""
    try:
        once = backend_path("/" + tail)
    except PathNotAllowed:
        return
    assert backend_path(once) == once
    assert clean_path(once) == once


@given(st.text(max_size=40))
def test_backend_path_only_refuses_with_path_not_allowed(text: str) -> None:
    """Arbitrary unicode in the tail is escaped or refused with PathNotAllowed (a 400)."""
    try:
        backend_path("/" + text)
    except PathNotAllowed:
        pass


proxy_ids = st.builds(
    ProxyId,
    st.sampled_from(["", "http", "https"]),
    st.text(min_size=1, max_size=12).filter(lambda s: ":" not in s),
    st.text(max_size=8).filter(lambda s: ":" not in s),
)


@given(proxy_ids)
def test_rendered_proxy_id_parses_back(proxy_id: ProxyId) -> None:
    """render then parse gives the same id, for every resource kind."""
    for resource in ("services", "pods", "nodes"):
        assert parse_proxy_id(render_proxy_id(proxy_id), resource) == proxy_id  # type: ignore[arg-type]


@given(st.text(alphabet="abhtps:0123456789-.%", max_size=20))
@example("https:svc")
@example("https:svc:")
@example("ftp:x:80")
@example(":80")
def test_parsed_proxy_id_renders_to_an_equivalent_id(raw: str) -> None:
    """Any id either raises InvalidProxyId or parses; rendering the result parses back to it."""
    try:
        parsed = parse_proxy_id(raw, "services")
    except InvalidProxyId:
        return
    assert parse_proxy_id(render_proxy_id(parsed), "services") == parsed
