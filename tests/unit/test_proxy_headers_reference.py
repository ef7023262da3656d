"""The per-request header functions equal their original (slower) definitions.

``upstream_request_headers`` and ``downstream_response_headers`` were rewritten for speed
(precomputed sets, Connection parsed only when present); the originals are kept here as the
reference and compared on random header lists, upgrades, front-proxy names and bad values.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from hypothesis import given, settings
from hypothesis import strategies as st

from kubegate.core.proxy_headers import (
    HeaderNotAllowed,
    UpgradeNotAllowed,
    downstream_response_headers,
    upstream_request_headers,
    validate_upgrade,
)
from kubegate.core.proxy_target import ProxyError

Headers = list[tuple[str, str]]

# -- the reference: the definitions before the rewrite, verbatim in behaviour ------------------

_HOP_BY_HOP = frozenset(
    {
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
    }
)
_REQUEST_FRAMING = frozenset({"content-length", "expect"})
_RESPONSE_FRAMING = frozenset({"content-length"})
_CREDENTIALS = frozenset({"authorization", "proxy-authorization"})
_CREDENTIAL_PREFIXES = ("impersonate-", "x-remote-")
_FORWARDING = frozenset({"forwarded", "x-real-ip", "x-kubegate-rewrite"})  # (+ kubegate's own)
_FORWARDING_PREFIXES = ("x-forwarded",)
_PROTECTED = frozenset({"host", "content-length", "transfer-encoding"})
_RESPONSE_DROPPED = frozenset({"alt-svc"})
_CORS_PREFIX = "access-control-"
_BAD_VALUE_CHARS = frozenset("\r\n\x00")


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    }


def _without_cookies(value: str, names: Set[str]) -> str:
    kept = []
    for pair in value.split(";"):
        pair = pair.strip()
        if pair and pair.split("=", 1)[0].strip() not in names:
            kept.append(pair)
    return "; ".join(kept)


def _checked(value: str) -> str:
    if _BAD_VALUE_CHARS.intersection(value):
        raise HeaderNotAllowed("a forwarded header value may not contain CR, LF or NUL")
    return value


def _cookie_name(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[0].strip()


def reference_upstream_request_headers(
    client_headers: Headers,
    *,
    host_header: str,
    forwarded_for: str,
    forwarded_host: str,
    forwarded_proto: str,
    forwarded_uri: str,
    forwarded_prefix: str,
    kubegate_cookies: Set[str],
    is_upgrade: bool,
    extra_strip: frozenset[str] = frozenset(),
    extra_strip_prefixes: frozenset[str] = frozenset(),
) -> Headers:
    strip_names = extra_strip | _CREDENTIALS | _FORWARDING
    strip_prefixes = tuple(extra_strip_prefixes) + _CREDENTIAL_PREFIXES + _FORWARDING_PREFIXES
    token = validate_upgrade(client_headers) if is_upgrade else None
    if is_upgrade and token is None:
        raise UpgradeNotAllowed("not an upgrade request")

    def proxy_owned(name: str) -> bool:
        return name in _PROTECTED or name in strip_names or name.startswith(strip_prefixes)

    nominated = {n for n in _connection_tokens(client_headers) if not proxy_owned(n)}
    out: Headers = [("host", _checked(host_header))]
    for raw_name, value in client_headers:
        name = raw_name.lower()
        if name in _HOP_BY_HOP or name in _REQUEST_FRAMING or name in nominated:
            continue
        if name == "host" or proxy_owned(name):
            continue
        if name == "cookie" and kubegate_cookies:
            value = _without_cookies(value, kubegate_cookies)
            if not value:
                continue
        out.append((name, value))
    for name, value in (
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-host", forwarded_host),
        ("x-forwarded-proto", forwarded_proto),
        ("x-forwarded-uri", forwarded_uri),
        ("x-forwarded-prefix", forwarded_prefix),
    ):
        if value:
            out.append((name, _checked(value)))
    if token is not None:
        out.append(("connection", "Upgrade"))
        out.append(("upgrade", token))
    return out


def reference_downstream_response_headers(
    backend_headers: Headers, *, is_upgrade: bool, kubegate_cookies: Set[str] = frozenset()
) -> Headers:
    nominated = _connection_tokens(backend_headers)
    out: Headers = []
    upgrade_value: str | None = None
    for raw_name, value in backend_headers:
        name = raw_name.lower()
        if name == "upgrade" and is_upgrade:
            upgrade_value = upgrade_value or value
            continue
        if name in _HOP_BY_HOP or name in _RESPONSE_FRAMING or name in nominated:
            continue
        if name in _RESPONSE_DROPPED or name.startswith(_CORS_PREFIX):
            continue
        if name == "set-cookie" and kubegate_cookies and _cookie_name(value) in kubegate_cookies:
            continue
        out.append((name, value))
    if is_upgrade:
        out.append(("connection", "Upgrade"))
        if upgrade_value is not None:
            out.append(("upgrade", upgrade_value))
    return out


# -- strategies ----------------------------------------------------------------------------------

_NAMES = [
    "host",
    "Host",
    "connection",
    "Connection",
    "keep-alive",
    "upgrade",
    "Upgrade",
    "te",
    "transfer-encoding",
    "content-length",
    "expect",
    "authorization",
    "Proxy-Authorization",
    "impersonate-user",
    "X-Remote-Group",
    "x-forwarded-for",
    "X-Forwarded-Prefix",
    "forwarded",
    "x-real-ip",
    "X-Kubegate-Rewrite",
    "cookie",
    "Cookie",
    "set-cookie",
    "x-foo",
    "X-Foo",
    "accept",
    "alt-svc",
    "access-control-allow-origin",
    "x-front-user",
    "x-front-extra-a",
    "user-agent",
]
_TOKENS = [
    "close",
    "keep-alive",
    "upgrade",
    "Upgrade",
    "x-foo",
    "X-Foo",
    "host",
    "authorization",
    "x-forwarded-for",
    "cookie",
    "set-cookie",
    "accept",
    "x-front-user",
    "content-length",
    "alt-svc",
    "user-agent",
    "websocket",
    "SPDY/3.1",
    "h2c",
    " ",
    "",
]
_names = st.one_of(
    st.sampled_from(_NAMES), st.sampled_from(_NAMES), st.text("abcXY-", min_size=1, max_size=6)
)
_connection_values = st.lists(st.sampled_from(_TOKENS + _NAMES), max_size=4).map(", ".join)
_values = st.one_of(
    _connection_values,
    st.sampled_from(["kubegate_session=a; b=c", "b=c", "kubegate_session=x; Path=/", ""]),
    st.text(max_size=8),
)


@st.composite
def _header_lists(draw: st.DrawFn) -> Headers:
    """Random headers, usually with a Connection header nominating some of them."""
    headers = draw(st.lists(st.tuples(_names, _values), max_size=10))
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(["connection", "Connection"]))
        headers.insert(draw(st.integers(0, len(headers))), (name, draw(_connection_values)))
    return headers


_forwarded = st.one_of(
    st.sampled_from(["", "10.0.0.1", "/api/x?y=1", "a\r\nb", "x\x00"]), st.text(max_size=4)
)
_cookies = st.sampled_from([frozenset(), frozenset({"kubegate_session", "b"})])


def _outcome(call: object, *args: object, **kwargs: object) -> object:
    try:
        return call(*args, **kwargs)  # type: ignore[operator]
    except ProxyError as exc:
        return (type(exc), exc.code, str(exc))


@settings(max_examples=400)
@given(
    _header_lists(),
    st.fixed_dictionaries(
        {
            "host_header": _forwarded,
            "forwarded_for": _forwarded,
            "forwarded_host": _forwarded,
            "forwarded_proto": _forwarded,
            "forwarded_uri": _forwarded,
            "forwarded_prefix": _forwarded,
            "kubegate_cookies": _cookies,
            "is_upgrade": st.booleans(),
            "extra_strip": st.sampled_from([frozenset(), frozenset({"x-front-user"})]),
            "extra_strip_prefixes": st.sampled_from([frozenset(), frozenset({"x-front-extra-"})]),
        }
    ),
)
def test_upstream_request_headers_equal_the_reference(
    headers: Headers, kwargs: dict[str, object]
) -> None:
    """The rewritten request filter returns (or refuses) exactly what the original did."""
    assert _outcome(upstream_request_headers, headers, **kwargs) == _outcome(
        reference_upstream_request_headers, headers, **kwargs
    )


@settings(max_examples=400)
@given(_header_lists(), st.booleans(), _cookies)
def test_downstream_response_headers_equal_the_reference(
    headers: Headers, is_upgrade: bool, cookies: frozenset[str]
) -> None:
    """The rewritten response filter returns exactly what the original did."""
    assert downstream_response_headers(
        headers, is_upgrade=is_upgrade, kubegate_cookies=cookies
    ) == reference_downstream_response_headers(
        headers, is_upgrade=is_upgrade, kubegate_cookies=cookies
    )
