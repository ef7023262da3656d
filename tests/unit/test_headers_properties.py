"""Property tests: request heads, header values and the proxy's header and Location rules
never crash on hostile input, strip idempotently, and never send a redirect outside the
proxy prefix for the backend's own URLs (security.md §2.1, §2.3, A18-A20, A27)."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import example, given
from hypothesis import strategies as st

from kubegate.core.proxy_headers import (
    ProxyError,
    downstream_response_headers,
    upstream_request_headers,
)
from kubegate.core.proxy_location import rewrite_location
from kubegate.http.framing import parse_content_length, split_target
from kubegate.http.head import HeadParser
from kubegate.http.limits import Limits
from kubegate.http.types import HTTPError

# -- request heads ---------------------------------------------------------------------------

HEAD_PIECES = st.sampled_from(
    [
        b"GET ",
        b"POST ",
        b"CONNECT ",
        b"G=T ",
        b"/",
        b"/api/v1",
        b"?a=b",
        b"#f",
        b"*",
        b"http://h/",
        b" HTTP/1.1",
        b" HTTP/1.0",
        b" HTTP/1.32",
        b"\r\n",
        b"\n",
        b"\r",
        b"Host: h",
        b"Host: ",
        b"Host: a b",
        b"Content-Length: 5",
        b"Content-Length: +1_0",
        b"Content-Length: 1, 1",
        b"Transfer-Encoding: chunked",
        b"Transfer-Encoding: ,chunked",
        b"Connection: close, X-Foo",
        b"Connection: upgrade",
        b"Upgrade: websocket",
        b"Expect: 100-continue",
        b" folded",
        b"\t",
        b":",
        b": v",
        b"X: \x00",
        b"X\x85: v",
        b"\xff",
        b"\x7f",
        b"x" * 40,
    ]
)
raw_heads = st.lists(HEAD_PIECES, max_size=16).map(b"".join)
TEST_LIMITS = Limits(max_request_line=256, max_header_line=128, max_header_bytes=512, max_headers=8)


@given(raw_heads)
@example(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 0\r\n\r\n")
def test_head_parser_only_raises_http_error(data: bytes) -> None:
    """Any bytes either parse into a head, wait for more, or raise HTTPError (400/414/431…)."""
    parser = HeadParser(TEST_LIMITS)
    try:
        parser.feed(data + b"\r\n\r\n", 0)
    except HTTPError as exc:
        assert 400 <= exc.status < 600


@given(st.lists(st.binary(max_size=20), max_size=6))
def test_head_parser_survives_arbitrary_chunks(chunks: list[bytes]) -> None:
    """Feeding arbitrary bytes in arbitrary pieces never raises anything but HTTPError."""
    parser = HeadParser(TEST_LIMITS)
    try:
        for chunk in chunks:
            _, head = parser.feed(chunk, 0)
            if head is not None:
                break
    except HTTPError:
        pass


field_names = st.from_regex(r"X-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", fullmatch=True)
field_values = st.from_regex(r"[\x21-\x7e]([\x20-\x7e\t]{0,20}[\x21-\x7e])?", fullmatch=True)


@given(st.lists(st.tuples(field_names, field_values), max_size=6))
def test_valid_fields_reach_the_application_as_sent(fields: list[tuple[str, str]]) -> None:
    """Valid header fields arrive in order, names lower-cased, values byte for byte."""
    lines = b"".join(f"{n}: {v}\r\n".encode() for n, v in fields)
    parser = HeadParser(Limits())
    _, head = parser.feed(b"GET /x?y HTTP/1.1\r\nHost: h\r\n" + lines + b"\r\n", 0)
    assert head is not None
    received = [(n, v) for n, v in head.headers if n != "host"]
    assert received == [(n.lower(), v) for n, v in fields]


@given(st.binary(max_size=24))
@example(b"+1_0")
@example("\u0661".encode())
def test_content_length_is_digits_only(value: bytes) -> None:
    """Content-Length parses exactly when it is ASCII digits, to their decimal value."""
    try:
        parsed = parse_content_length(value)
    except HTTPError as exc:
        assert exc.status == 400
        assert not (value and value.isdigit())
    else:
        assert value.isdigit() and parsed == int(value.decode("ascii"))


@given(
    st.lists(HEAD_PIECES, max_size=6).map(b"".join),
    st.sampled_from(["GET", "OPTIONS"]),
    st.sampled_from([None, b"h", b"H:80"]),
)
def test_split_target_yields_a_path_or_refuses(
    target: bytes, method: str, host: bytes | None
) -> None:
    """A request target becomes an absolute path (or ``*`` for OPTIONS) or a 400."""
    try:
        path, _ = split_target(target, method, host)
    except HTTPError as exc:
        assert exc.status == 400
    else:
        assert path.startswith("/") or (path == "*" and method == "OPTIONS")


# -- proxy header policy ------------------------------------------------------------------------

HEADER_NAMES = st.sampled_from(
    [
        "Connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
        "Authorization",
        "Proxy-Authorization",
        "Impersonate-User",
        "X-Remote-User",
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "Forwarded",
        "Cookie",
        "X-Foo",
        "Accept",
        "Set-Cookie",
        "Access-Control-Allow-Origin",
        "Alt-Svc",
        "HTTP2-Settings",
    ]
)
HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            "close",
            "upgrade",
            "keep-alive, X-Foo",
            "X-Forwarded-For, Authorization",
            "websocket",
            "h2c",
            "kubegate-session=s; a=b",
            "1",
            "",
        ]
    ),
    st.text(max_size=12),
)
header_lists = st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=10)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "http2-settings",
    "proxy-connection",
}


def upstream(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return upstream_request_headers(
        headers,
        host_header="backend.ns.svc:80",
        forwarded_for="10.0.0.1",
        forwarded_host="gateway:6443",
        forwarded_proto="https",
        forwarded_uri="/api/v1/namespaces/ns/services/s/proxy/x",
        forwarded_prefix="/api/v1/namespaces/ns/services/s/proxy",
        kubegate_cookies=frozenset({"kubegate-session"}),
        is_upgrade=False,
    )


@given(header_lists)
def test_upstream_headers_only_raise_proxy_errors(headers: list[tuple[str, str]]) -> None:
    """Any client header list is turned into backend headers or refused with a ProxyError."""
    try:
        upstream(headers)
    except ProxyError as exc:
        assert exc.code == 400


@given(header_lists)
def test_upstream_headers_carry_no_hop_by_hop_credential_or_nominated_header(
    headers: list[tuple[str, str]],
) -> None:
    """No hop-by-hop header, credential, client forwarding claim or Connection-nominated
    header reaches the backend; the proxy's own X-Forwarded-For does."""
    try:
        out = upstream(headers)
    except ProxyError:
        return
    names = [name for name, _ in out]
    nominated = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    for name in names:
        assert name not in HOP_BY_HOP
        assert name not in ("authorization", "content-length", "forwarded")
        assert not name.startswith(("impersonate-", "x-remote-"))
        if name not in ("host",) and not name.startswith("x-forwarded"):
            assert name not in nominated
    assert ("x-forwarded-for", "10.0.0.1") in out
    assert names.count("x-forwarded-for") == 1 and names.count("host") == 1
    assert all("kubegate-session" not in v for n, v in out if n == "cookie")


@given(header_lists)
def test_upstream_header_filtering_is_idempotent(headers: list[tuple[str, str]]) -> None:
    """Filtering the proxy's own output again changes nothing."""
    try:
        once = upstream(headers)
    except ProxyError:
        return
    assert upstream(once) == once


@given(header_lists)
def test_downstream_header_filtering_is_idempotent(headers: list[tuple[str, str]]) -> None:
    """Filtering backend response headers twice equals filtering them once, and the result
    has no hop-by-hop, CORS, Alt-Svc or gateway-cookie header."""
    gateway = frozenset({"kubegate-session"})
    once = downstream_response_headers(headers, is_upgrade=False, kubegate_cookies=gateway)
    twice = downstream_response_headers(once, is_upgrade=False, kubegate_cookies=gateway)
    assert twice == once
    for name, value in once:
        assert name not in HOP_BY_HOP and name != "content-length" and name != "alt-svc"
        assert not name.startswith("access-control-")
        if name == "set-cookie":
            assert value.split(";")[0].split("=")[0].strip() != "kubegate-session"


# -- Location rewriting -------------------------------------------------------------------------

PREFIX = "/api/v1/namespaces/ns/services/web/proxy"
BACKEND = "web.ns.svc:8080"
LOCATION_PIECES = st.sampled_from(
    [
        "/",
        "//",
        "\\",
        "/\\",
        ".",
        "..",
        "%2e",
        "%2e%2e",
        "%2f",
        "%2F",
        "%5c",
        "%00",
        "%zz",
        "?",
        "#",
        "@",
        ":",
        "evil.com",
        "web.ns.svc:8080",
        "WEB.NS.SVC:8080",
        "web.ns.svc",
        "login",
        "api",
        "v1",
        "namespaces",
        "proxy",
        "\t",
        " ",
        "é",
    ]
)
same_host_locations = st.builds(
    lambda form, path: form + path,
    st.sampled_from(
        [
            "",
            "http://web.ns.svc:8080",
            "HTTP://web.ns.svc:8080",
            "//web.ns.svc:8080",
            "http://web.ns.svc:8080/",
        ]
    ),
    st.lists(LOCATION_PIECES, max_size=10).map(lambda parts: "/" + "".join(parts)),
)


def under_prefix(url: str) -> bool:
    path = url.split("?", 1)[0].split("#", 1)[0]
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return False
    tail = path[len(PREFIX) :]
    return all(unquote(s) not in (".", "..") for s in tail.split("/") if s)


@given(same_host_locations)
@example("/../../../../api/v1/namespaces/other/services/x/proxy/")
@example("//evil.com/x")
@example("/\\evil.com")
@example("http://web.ns.svc:8080/%2e%2e/%2e%2e/x")
def test_same_host_location_stays_under_the_prefix(location: str) -> None:
    """A Location naming the backend itself (a path, or its own host) is rewritten to a
    path under the proxy prefix, or dropped; never anything a browser reads elsewhere."""
    result = rewrite_location(
        location,
        backend_host=BACKEND,
        backend_scheme="http",
        proxy_prefix=PREFIX,
        public_origin=None,
    )
    if result is None:
        return
    assert under_prefix(result), result


@given(st.text(max_size=30))
def test_location_rewriting_never_crashes(location: str) -> None:
    """Arbitrary text is rewritten, relayed or dropped (None); it never raises."""
    rewrite_location(
        location,
        backend_host=BACKEND,
        backend_scheme="http",
        proxy_prefix=PREFIX,
        public_origin="https://gateway.example:6443",
    )
