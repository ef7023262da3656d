"""Header policy in both directions (security.md §2.3, §2.5, §2.9; A17-A20, A25, A29)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubegate.core.proxy_headers import (
    HeaderNotAllowed,
    UpgradeNotAllowed,
    backend_content_length,
    downstream_response_headers,
    upstream_request_headers,
    validate_upgrade,
)
from kubegate.core.proxy_target import ProxyError
from kubegate.server.proxywiring import KUBEGATE_COOKIES

Headers = list[tuple[str, str]]

PROXY_VALUES = {
    "host_header": "10.1.0.5:8080",
    "forwarded_for": "192.0.2.10",
    "forwarded_host": "gateway.example:6443",
    "forwarded_proto": "https",
    "forwarded_uri": "/api/v1/namespaces/ns/services/svc/proxy/a?x=1",
    "forwarded_prefix": "/api/v1/namespaces/ns/services/svc/proxy",
}


def upstream(headers: Headers, **overrides: Any) -> Headers:
    kwargs: dict[str, Any] = {
        **PROXY_VALUES,
        "kubegate_cookies": KUBEGATE_COOKIES,
        "is_upgrade": False,
    }
    kwargs.update(overrides)
    return upstream_request_headers(headers, **kwargs)


def names(headers: Headers) -> list[str]:
    return [name for name, _ in headers]


def values(headers: Headers, name: str) -> list[str]:
    return [value for n, value in headers if n == name]


# -- requests: what is removed ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "http2-settings",
        "content-length",
        "expect",
    ],
)
def test_hop_by_hop_request_headers_are_removed(name: str) -> None:
    """Hop-by-hop and framing headers never reach the backend."""
    assert name not in names(upstream([(name, "x"), ("accept", "*/*")]))


def test_connection_nominated_headers_are_removed() -> None:
    """A header named in Connection is removed (A18: X-Foo)."""
    out = upstream([("connection", "close, X-Foo"), ("x-foo", "1"), ("x-bar", "2")])
    assert "x-foo" not in names(out)
    assert values(out, "x-bar") == ["2"]


def test_nominations_across_several_connection_headers() -> None:
    """Every Connection line counts."""
    out = upstream(
        [
            ("connection", "a"),
            ("connection", " B ,c"),
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("d", "4"),
        ]
    )
    assert names(out) == ["host", "d", *[n for n in names(out) if n.startswith("x-forwarded")]]


def test_a18_nominating_proxy_owned_headers_changes_nothing() -> None:
    """A18: nominating X-Forwarded-For, Authorization or Host cannot remove what we add."""
    out = upstream(
        [
            (
                "connection",
                "close, X-Foo, X-Forwarded-For, Authorization, Host, X-Forwarded-Prefix",
            ),
            ("x-foo", "1"),
            ("authorization", "Bearer client"),
        ]
    )
    assert "x-foo" not in names(out)
    assert values(out, "x-forwarded-for") == ["192.0.2.10"]
    assert values(out, "x-forwarded-prefix") == [PROXY_VALUES["forwarded_prefix"]]
    assert values(out, "host") == ["10.1.0.5:8080"]
    assert "authorization" not in names(out)


@pytest.mark.parametrize(
    "name",
    [
        "authorization",
        "proxy-authorization",
        "impersonate-user",
        "impersonate-group",
        "impersonate-uid",
        "impersonate-extra-scopes",
        "x-remote-user",
        "x-remote-group",
        "x-remote-uid",
        "x-remote-extra-acme.com%2Fproject",
    ],
)
def test_a19_credentials_are_removed(name: str) -> None:
    """A19: the caller's credentials and identity assertions never reach the backend."""
    out = upstream([(name, "admin"), ("accept", "*/*")])
    assert name not in names(out)
    assert values(out, "accept") == ["*/*"]


def test_a19_configured_front_proxy_names_are_removed() -> None:
    """Custom --requestheader names and prefixes are stripped too (NCC-YVU)."""
    out = upstream(
        [
            ("x-user", "admin"),
            ("x-groups", "system:masters"),
            ("x-extra-scope", "all"),
            ("x-keep", "1"),
        ],
        extra_strip=frozenset({"x-user", "x-groups"}),
        extra_strip_prefixes=frozenset({"x-extra-"}),
    )
    assert [n for n in names(out) if not n.startswith("x-forwarded")] == ["host", "x-keep"]


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("__Host-kubegate_session=secret", None),
        ("a=1; __Host-kubegate_session=secret; b=2", "a=1; b=2"),
        ("a=1;__Host-kubegate_session=secret", "a=1"),
        ("__Host-kubegate_session=s1; __Host-kubegate_session=s2", None),
        (" __Host-kubegate_session = secret ; theme=dark", "theme=dark"),
        ("__Host-kubegate_oidc=flow; a=1", "a=1"),
        ("a=1; __Host-kubegate_app_session=s", "a=1"),
        ("__Host-kubegate_app_state=st; a=1; __Host-kubegate_app_session=s", "a=1"),
        ("__Host-kubegate_session", None),  # a nameless cookie of that value reads the same
        # Names are compared exactly, as browsers do: these are the backend's own.
        ("__host-kubegate_session=not-ours; a=1", "__host-kubegate_session=not-ours; a=1"),
        ("kubegate_session=theirs", "kubegate_session=theirs"),
        ("kubegate_oidc=theirs", "kubegate_oidc=theirs"),
        ("__Host-kubegate_session_other=1", "__Host-kubegate_session_other=1"),
        ("a=1", "a=1"),
        ("; ;", None),
    ],
)
def test_a19_kubegate_cookies_are_removed(cookie: str, expected: str | None) -> None:
    """kubegate's own cookies are cut out of Cookie; other cookies stay."""
    out = upstream([("cookie", cookie)])
    assert values(out, "cookie") == ([] if expected is None else [expected])


def test_kubegate_cookies_name_every_cookie_kubegate_sets() -> None:
    """The proxy's set is the session, OIDC-flow and both app-origin cookies."""
    assert frozenset(KUBEGATE_COOKIES) == {
        "__Host-kubegate_session",
        "__Host-kubegate_oidc",
        "__Host-kubegate_app_session",
        "__Host-kubegate_app_state",
    }


def test_cookie_is_untouched_without_kubegate_cookies() -> None:
    """With no kubegate cookie names configured, Cookie passes unchanged."""
    cookie = "a=1; __Host-kubegate_session=x"
    assert values(upstream([("cookie", cookie)], kubegate_cookies=frozenset()), "cookie") == [
        cookie
    ]


@pytest.mark.parametrize(
    "name",
    [
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-uri",
        "x-forwarded-prefix",
        "x-forwarded-port",
        "x-forwarded-server",
        "forwarded",
        "x-real-ip",
    ],
)
def test_a20_client_forwarding_claims_are_replaced(name: str) -> None:
    """A20: client X-Forwarded-*, Forwarded and X-Real-IP are dropped, ours are set."""
    out = upstream([(name, "evil"), ("x-forwarded-for", "6.6.6.6")])
    assert "evil" not in values(out, name)
    assert values(out, "x-forwarded-for") == ["192.0.2.10"]


# -- requests: what is added and kept -----------------------------------------------------------


def test_proxy_owned_headers_are_added() -> None:
    """Host is the backend's; X-Forwarded-* carry the real peer and the public request."""
    out = upstream([("host", "gateway.example:6443"), ("accept", "text/html")])
    assert out == [
        ("host", "10.1.0.5:8080"),
        ("accept", "text/html"),
        ("x-forwarded-for", "192.0.2.10"),
        ("x-forwarded-host", "gateway.example:6443"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-uri", PROXY_VALUES["forwarded_uri"]),
        ("x-forwarded-prefix", PROXY_VALUES["forwarded_prefix"]),
    ]


def test_empty_forwarded_values_are_not_sent() -> None:
    """An empty forwarded value is omitted rather than sent empty (kube PR #15784)."""
    out = upstream([], forwarded_host="", forwarded_prefix="")
    assert "x-forwarded-host" not in names(out)
    assert "x-forwarded-prefix" not in names(out)


def test_end_to_end_headers_pass_in_order() -> None:
    """Everything else passes unchanged and in order, duplicates included."""
    client = [
        ("accept-encoding", "gzip, br"),
        ("user-agent", "curl/8"),
        ("x-custom", "1"),
        ("x-custom", "2"),
        ("content-type", "application/json"),
        ("sec-websocket-protocol", "v5.channel.k8s.io"),
    ]
    out = upstream(client)
    assert out[1 : 1 + len(client)] == client


def test_header_names_come_out_lower_case() -> None:
    """Names are normalised to lower case even if a caller passes mixed case."""
    out = upstream([("X-Custom", "1"), ("Authorization", "Bearer x"), ("Connection", "X-Custom")])
    assert names(out)[0] == "host"
    assert "x-custom" not in names(out) and "authorization" not in names(out)


@pytest.mark.parametrize("field", ["host_header", "forwarded_uri", "forwarded_host"])
def test_proxy_owned_values_cannot_inject(field: str) -> None:
    """CR, LF or NUL in a value the proxy sets is refused (no header injection)."""
    with pytest.raises(HeaderNotAllowed):
        upstream([], **{field: "x\r\nInjected: 1"})


# -- upgrades ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ([("connection", "Upgrade"), ("upgrade", "websocket")], "websocket"),
        ([("connection", "keep-alive, upgrade"), ("upgrade", "WebSocket")], "WebSocket"),
        ([("connection", "Upgrade"), ("upgrade", "SPDY/3.1")], "SPDY/3.1"),
        ([("connection", "upgrade"), ("upgrade", "spdy/3.1")], "spdy/3.1"),
        ([("upgrade", "websocket")], None),  # not nominated: not an upgrade
        ([("upgrade", "h2c")], None),
        ([("connection", "keep-alive")], None),
        ([("connection", "upgrade-insecure-requests")], None),  # a token, not a substring
        ([], None),
    ],
)
def test_validate_upgrade(headers: Headers, token: str | None) -> None:
    """Only websocket and SPDY/3.1 upgrades are recognised, as the client spelt them."""
    assert validate_upgrade(headers) == token


@pytest.mark.parametrize(
    "headers",
    [
        [
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
            ("http2-settings", "AAMAAABkAAQAAP__"),
        ],
        [("connection", "upgrade"), ("upgrade", "foo")],
        [("connection", "upgrade"), ("upgrade", "websocket, h2c")],
        [("connection", "upgrade"), ("upgrade", "websocket"), ("upgrade", "SPDY/3.1")],
        [("connection", "upgrade"), ("upgrade", "SPDY/3")],
        [("connection", "upgrade"), ("upgrade", "websocket/13")],
        [("connection", "upgrade"), ("upgrade", "")],
        [("connection", "upgrade")],
    ],
)
def test_a25_unvalidated_upgrades_are_refused(headers: Headers) -> None:
    """A25: h2c, unknown or several protocols, or no Upgrade at all: 400."""
    with pytest.raises(UpgradeNotAllowed) as caught:
        validate_upgrade(headers)
    assert isinstance(caught.value, ProxyError)
    assert caught.value.code == 400


def test_validated_upgrade_re_adds_connection_and_upgrade() -> None:
    """For a validated upgrade the proxy sends Connection: Upgrade and the token itself."""
    client = [
        ("connection", "Upgrade, X-Foo"),
        ("upgrade", "websocket"),
        ("x-foo", "1"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
        ("http2-settings", "x"),
        ("authorization", "Bearer t"),
    ]
    out = upstream(client, is_upgrade=True)
    assert out[-2:] == [("connection", "Upgrade"), ("upgrade", "websocket")]
    assert values(out, "sec-websocket-key") == ["dGhlIHNhbXBsZSBub25jZQ=="]
    for name in ("x-foo", "http2-settings", "authorization"):
        assert name not in names(out)
    assert names(out).count("connection") == 1 and names(out).count("upgrade") == 1


def test_upgrade_flag_requires_an_upgrade_request() -> None:
    """is_upgrade on a request that is not a valid upgrade is refused."""
    with pytest.raises(UpgradeNotAllowed):
        upstream([("upgrade", "websocket")], is_upgrade=True)
    with pytest.raises(UpgradeNotAllowed):
        upstream([("connection", "upgrade"), ("upgrade", "h2c")], is_upgrade=True)


def test_plain_request_never_carries_upgrade() -> None:
    """Without is_upgrade, Upgrade and Connection are stripped even if the client sent them."""
    out = upstream([("connection", "Upgrade"), ("upgrade", "websocket")])
    assert "upgrade" not in names(out) and "connection" not in names(out)


# -- responses ------------------------------------------------------------------------------------


def test_response_hop_by_hop_and_framing_are_removed() -> None:
    """Hop-by-hop, nominated and framing headers do not reach the client."""
    backend = [
        ("content-type", "text/plain"),
        ("connection", "keep-alive, X-Internal"),
        ("keep-alive", "timeout=5"),
        ("x-internal", "secret"),
        ("transfer-encoding", "chunked"),
        ("content-length", "12"),
        ("trailer", "x-checksum"),
        ("upgrade", "h2c"),
        ("proxy-authenticate", "Basic"),
        ("set-cookie", "a=1; Path=/"),
        ("cache-control", "no-store"),
        ("www-authenticate", 'Bearer realm="app"'),
    ]
    assert downstream_response_headers(backend, is_upgrade=False) == [
        ("content-type", "text/plain"),
        ("set-cookie", "a=1; Path=/"),
        ("cache-control", "no-store"),
        ("www-authenticate", 'Bearer realm="app"'),
    ]


def test_response_cors_and_alt_svc_are_removed() -> None:
    """Backend CORS headers (kube's corsRemovingTransport, A29) and Alt-Svc are dropped."""
    backend = [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-headers", "*"),
        ("access-control-allow-methods", "*"),
        ("access-control-expose-headers", "x"),
        ("alt-svc", 'h2="evil.example:443"'),
        ("etag", '"1"'),
    ]
    assert downstream_response_headers(backend, is_upgrade=False) == [("etag", '"1"')]


@pytest.mark.parametrize(
    "set_cookie",
    [
        "__Host-kubegate_session=evil; Path=/; Secure; HttpOnly",
        " __Host-kubegate_session =x",
        "__Host-kubegate_session=; Path=/; Max-Age=0; Secure",  # signing the browser out
        "__Host-kubegate_session",  # nameless: reads back as that name
        "__Host-kubegate_oidc=planted-flow; Path=/; Secure; SameSite=Lax",
        "__Host-kubegate_app_session=planted; Path=/; Secure",
        "__Host-kubegate_app_state=planted; Path=/; Secure",
    ],
)
def test_response_kubegate_cookies_are_dropped(set_cookie: str) -> None:
    """A backend cannot set or clear any of kubegate's own cookies (A29)."""
    backend = [("set-cookie", set_cookie), ("set-cookie", "app=1")]
    out = downstream_response_headers(backend, is_upgrade=False, kubegate_cookies=KUBEGATE_COOKIES)
    assert out == [("set-cookie", "app=1")]


def test_response_keeps_cookies_named_like_but_not_kubegates() -> None:
    """Names that only resemble kubegate's (other case, no prefix) are the backend's."""
    backend = [
        ("set-cookie", "kubegate_oidc=1"),
        ("set-cookie", "__host-kubegate_session=2"),
        ("set-cookie", "__Host-kubegate_app_session_x=3; Path=/; Secure"),
    ]
    out = downstream_response_headers(backend, is_upgrade=False, kubegate_cookies=KUBEGATE_COOKIES)
    assert out == backend


def test_response_upgrade_keeps_the_protocol() -> None:
    """Relaying a 101 keeps Upgrade and re-adds Connection: Upgrade."""
    backend = [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("sec-websocket-protocol", "v5.channel.k8s.io"),
    ]
    assert downstream_response_headers(backend, is_upgrade=True) == [
        ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("sec-websocket-protocol", "v5.channel.k8s.io"),
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
    ]


@pytest.mark.parametrize(
    ("headers", "length"),
    [
        ([("content-length", "12")], 12),
        ([("content-length", "0")], 0),
        ([("content-length", "12"), ("content-length", "12")], 12),
        ([("content-length", "12, 12")], 12),
        ([], None),
        ([("content-length", "12"), ("transfer-encoding", "chunked")], None),
        ([("content-length", "12"), ("content-length", "13")], None),
        ([("content-length", "-1")], None),
        ([("content-length", "+1")], None),
        ([("content-length", "0x10")], None),
        ([("content-length", "")], None),
        ([("content-length", "1_0")], None),
        ([("content-length", "\u0661")], None),  # ARABIC-INDIC DIGIT ONE
        ([("content-length", "9" * 30)], None),
    ],
)
def test_backend_content_length(headers: Headers, length: int | None) -> None:
    """The backend's length is reported only when it is unambiguous."""
    assert backend_content_length(headers) == length


# -- properties -------------------------------------------------------------------------------------

FORBIDDEN_OUT = (
    "authorization",
    "proxy-authorization",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "content-length",
    "http2-settings",
    "forwarded",
    "x-real-ip",
)
HEADER_NAMES = [
    *FORBIDDEN_OUT,
    "connection",
    "upgrade",
    "impersonate-user",
    "impersonate-extra-x",
    "x-remote-user",
    "x-remote-extra-y",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-uri",
    "cookie",
    "accept",
    "x-foo",
    "host",
]
header_values = st.sampled_from(
    [
        "1",
        "evil",
        "x-foo",
        "close, x-foo",
        "authorization, x-forwarded-for",
        "__Host-kubegate_session=s; a=1; __Host-kubegate_oidc=f",
        "upgrade",
    ]
)
header_lists = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=12)


@given(header_lists)
def test_upstream_never_leaks(headers: Headers) -> None:
    """No credentials, hop-by-hop names or client forwarding values ever go upstream."""
    out = upstream(headers)
    out_names = names(out)
    for name in (*FORBIDDEN_OUT, "connection", "upgrade"):
        assert name not in out_names
    assert not any(n.startswith(("impersonate-", "x-remote-")) for n in out_names)
    assert values(out, "x-forwarded-for") == ["192.0.2.10"]
    assert values(out, "x-forwarded-host") == [PROXY_VALUES["forwarded_host"]]
    assert values(out, "x-forwarded-uri") == [PROXY_VALUES["forwarded_uri"]]
    assert values(out, "host") == ["10.1.0.5:8080"]
    assert all("__Host-kubegate" not in v for v in values(out, "cookie"))


@given(header_lists)
def test_upstream_drops_every_nominated_header(headers: Headers) -> None:
    """Any client header named in Connection is gone, unless the proxy owns that name."""
    nominated = {
        token.strip()
        for name, value in headers
        if name == "connection"
        for token in value.split(",")
    }
    out = upstream(headers)
    for name in nominated - {"host", "x-forwarded-for", "x-forwarded-host", "x-forwarded-uri"}:
        assert name not in names(out)


@given(header_lists, st.booleans())
def test_downstream_never_passes_hop_by_hop(headers: Headers, is_upgrade: bool) -> None:
    """Backend hop-by-hop and framing headers never reach the client."""
    out_names = names(downstream_response_headers(headers, is_upgrade=is_upgrade))
    for name in (
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "content-length",
    ):
        assert name not in out_names
    assert out_names.count("connection") == (1 if is_upgrade else 0)
