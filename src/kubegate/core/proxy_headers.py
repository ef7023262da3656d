"""Which headers cross the proxy, in each direction.

Request (client → backend), in this order (security.md §2.3, §2.5, §2.9, A18-A20):

1. **hop-by-hop** headers go: ``Connection``, ``Keep-Alive``, ``Proxy-Connection``, ``TE``,
   ``Trailer``, ``Transfer-Encoding``, ``Upgrade``, ``Proxy-Authorization``,
   ``Proxy-Authenticate``, ``HTTP2-Settings``, plus the framing the client layer recomputes
   (``Content-Length``, ``Expect``), and every header **named in** ``Connection`` — except
   that nominations of headers the proxy strips or sets itself (``Host``, credentials,
   ``X-Forwarded-*``…) are ignored, so a client cannot use them to remove what the proxy
   adds (Davison's hop-by-hop attack);
2. **credentials** go: ``Authorization``, ``Impersonate-*``, ``X-Remote-*`` and the configured
   front-proxy names, and kubegate's own cookies (``kubegate_cookies``: the session, the
   OIDC flow, the app-origin cookies) out of ``Cookie`` (other cookies stay);
3. **client forwarding claims** go: ``X-Forwarded-*``, ``Forwarded``, ``X-Real-IP``, and
   the instructions a client gives kubegate's proxy (``X-Kubegate-Rewrite``: they are for
   kubegate, not the backend);
4. the proxy **adds** its own ``X-Forwarded-For`` (the real peer), ``-Host``, ``-Proto``,
   ``-Uri`` and ``-Prefix``, sets ``Host`` to the backend's, and for a validated upgrade
   re-adds ``Connection: Upgrade`` and the ``Upgrade`` token.

Kube differs on purpose in three places: it forwards the client's ``Host`` (we send the
backend's own, nginx ``$proxy_host`` style), appends to a client ``X-Forwarded-For`` (we
overwrite: no trusted-proxy chain is configured), and allows any upgrade token (we allow
``websocket`` and ``SPDY/3.1`` only, the intent of k/k #72112; ``h2c`` is refused).

Response (backend → client): hop-by-hop and ``Connection``-nominated headers, the framing
(``Content-Length``/``Transfer-Encoding``, recomputed by the server layer; the backend's
length is available from :func:`backend_content_length`), ``Alt-Svc`` (origin-wide state
that is not the backend's to set) and ``Access-Control-*`` (kube's corsRemovingTransport;
A29) go; a ``Set-Cookie`` for one of kubegate's own cookies is dropped (a backend must not
sign the browser in or out, or plant an OIDC flow); the rest passes. Cookie names are
compared exactly, as browsers do.
Header names are lower-case on the way in and out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from typing import Final

from kubegate.core.proxy_target import ProxyError

__all__ = [
    "ALLOWED_UPGRADES",
    "HeaderNotAllowed",
    "UpgradeNotAllowed",
    "backend_content_length",
    "downstream_response_headers",
    "upstream_request_headers",
    "validate_upgrade",
]

Headers = Sequence[tuple[str, str]]

ALLOWED_UPGRADES: Final = frozenset({"websocket", "spdy/3.1"})  # compared case-insensitively

_HOP_BY_HOP: Final = frozenset(
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
# Framing the connection layer recomputes for the other side.
_REQUEST_FRAMING: Final = frozenset({"content-length", "expect"})
_RESPONSE_FRAMING: Final = frozenset({"content-length"})
_CREDENTIALS: Final = frozenset({"authorization", "proxy-authorization"})
_CREDENTIAL_PREFIXES: Final = ("impersonate-", "x-remote-")
_FORWARDING: Final = frozenset({"forwarded", "x-real-ip", "x-kubegate-rewrite"})
_FORWARDING_PREFIXES: Final = ("x-forwarded",)
# Headers a Connection nomination may never remove: stripped or set by the proxy anyway.
_PROTECTED: Final = frozenset({"host", "content-length", "transfer-encoding"})
_RESPONSE_DROPPED: Final = frozenset({"alt-svc"})
_CORS_PREFIX: Final = "access-control-"
# Precomputed unions for the per-request functions.
_DEFAULT_STRIP: Final = _CREDENTIALS | _FORWARDING
_DEFAULT_STRIP_PREFIXES: Final = _CREDENTIAL_PREFIXES + _FORWARDING_PREFIXES
_REQUEST_DROPPED: Final = _HOP_BY_HOP | _REQUEST_FRAMING | _PROTECTED  # host: set by the proxy
_RESPONSE_DROPPED_NAMES: Final = _HOP_BY_HOP | _RESPONSE_FRAMING | _RESPONSE_DROPPED


class UpgradeNotAllowed(ProxyError):
    """An upgrade the proxy does not tunnel (``h2c``, unknown tokens): 400 BadRequest."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


class HeaderNotAllowed(ProxyError):
    """A header value the proxy would have to forward but cannot (CR, LF or NUL): 400."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


# -- upgrades ------------------------------------------------------------------------------


def validate_upgrade(headers: Headers) -> str | None:
    """The Upgrade token of an upgrade request, None if it is not one; refuse the rest.

    A request is an upgrade when ``Connection`` lists the ``upgrade`` token (RFC 9110 §7.8;
    an ``Upgrade`` header without it is ignored, and stripped as hop-by-hop). It must then
    carry exactly one ``Upgrade`` protocol, ``websocket`` or ``SPDY/3.1`` in any case; it is
    returned as the client spelt it. ``h2c``, unknown tokens, a list of protocols or a
    missing ``Upgrade`` raise :class:`UpgradeNotAllowed`.
    """
    if "upgrade" not in _connection_tokens(headers):
        return None
    values = [value for name, value in headers if name.lower() == "upgrade"]
    if not values:
        raise UpgradeNotAllowed("Connection: upgrade without an Upgrade header")
    tokens = [token.strip() for value in values for token in value.split(",") if token.strip()]
    if len(tokens) != 1:
        raise UpgradeNotAllowed("exactly one Upgrade protocol is allowed")
    token = tokens[0]
    if token.lower() not in ALLOWED_UPGRADES:
        raise UpgradeNotAllowed(f"upgrade to {token[:40]!r} is not allowed")
    return token


# -- requests ------------------------------------------------------------------------------


def upstream_request_headers(
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
) -> list[tuple[str, str]]:
    """The headers to send to the backend for a client request (see the module docstring).

    ``extra_strip`` and ``extra_strip_prefixes`` name configured front-proxy headers
    (``--requestheader-username-headers``, ``…-extra-headers-prefix``), lower-case.
    ``kubegate_cookies`` names the cookies taken out of ``Cookie`` (empty: none).
    ``is_upgrade`` must only be set for a request :func:`validate_upgrade` accepted.
    Empty ``forwarded_*`` values are not sent.
    """
    # Runs once per proxied request: the sets are precomputed and Connection is only
    # parsed when present (tests/unit/test_proxy_headers_reference.py pins the old behaviour).
    if extra_strip or extra_strip_prefixes:
        strip_names = extra_strip | _DEFAULT_STRIP
        strip_prefixes = tuple(extra_strip_prefixes) + _DEFAULT_STRIP_PREFIXES
    else:
        strip_names, strip_prefixes = _DEFAULT_STRIP, _DEFAULT_STRIP_PREFIXES
    token = validate_upgrade(client_headers) if is_upgrade else None
    if is_upgrade and token is None:
        raise UpgradeNotAllowed("not an upgrade request")
    if _has_bad_value_chars(
        host_header
        + forwarded_for
        + forwarded_host
        + forwarded_proto
        + forwarded_uri
        + forwarded_prefix
    ):
        raise HeaderNotAllowed("a forwarded header value may not contain CR, LF or NUL")
    out: list[tuple[str, str]] = [("host", host_header)]
    nominates = False  # whether a Connection header names something not dropped anyway
    for raw_name, value in client_headers:
        name = raw_name.lower()
        if name in _REQUEST_DROPPED:
            if name == "connection" and value.lower() not in _REQUEST_DROPPED:
                nominates = True  # (the usual "keep-alive" or "close" is not parsed)
            continue
        if name in strip_names or name.startswith(strip_prefixes):
            continue
        if name == "cookie" and kubegate_cookies:
            value = _without_cookies(value, kubegate_cookies)
            if not value:
                continue
        out.append((name, value))
    if nominates:
        # A nominated name the proxy owns is dropped or re-set anyway, so dropping every
        # nominated client header cannot remove what the proxy adds (host is out[0]).
        nominated = _connection_tokens(client_headers)
        out[1:] = [header for header in out[1:] if header[0] not in nominated]
    if forwarded_for:
        out.append(("x-forwarded-for", forwarded_for))
    if forwarded_host:
        out.append(("x-forwarded-host", forwarded_host))
    if forwarded_proto:
        out.append(("x-forwarded-proto", forwarded_proto))
    if forwarded_uri:
        out.append(("x-forwarded-uri", forwarded_uri))
    if forwarded_prefix:
        out.append(("x-forwarded-prefix", forwarded_prefix))
    if token is not None:
        out.append(("connection", "Upgrade"))
        out.append(("upgrade", token))
    return out


def _without_cookies(value: str, names: Set[str]) -> str:
    kept = []
    for pair in value.split(";"):
        pair = pair.strip()
        if pair and pair.split("=", 1)[0].strip() not in names:
            kept.append(pair)
    return "; ".join(kept)


def _has_bad_value_chars(value: str) -> bool:
    return "\r" in value or "\n" in value or "\x00" in value


# -- responses -----------------------------------------------------------------------------


def downstream_response_headers(
    backend_headers: Headers, *, is_upgrade: bool, kubegate_cookies: Set[str] = frozenset()
) -> list[tuple[str, str]]:
    """The backend response headers to pass to the client (see the module docstring);
    a ``Set-Cookie`` for a name in ``kubegate_cookies`` is dropped.

    For an upgrade (a 101 being relayed) the backend's ``Upgrade`` value is kept and
    ``Connection: Upgrade`` re-added; nothing else about the tunnel is decided here.
    """
    out: list[tuple[str, str]] = []
    upgrade_value: str | None = None
    nominates = False  # whether a Connection header names something not dropped anyway
    for raw_name, value in backend_headers:
        name = raw_name.lower()
        if name == "upgrade" and is_upgrade:
            upgrade_value = upgrade_value or value
            continue
        if name in _RESPONSE_DROPPED_NAMES:
            if name == "connection" and value.lower() not in _RESPONSE_DROPPED_NAMES:
                nominates = True  # (the usual "keep-alive" or "close" is not parsed)
            continue
        if name.startswith(_CORS_PREFIX):
            continue
        if name == "set-cookie" and kubegate_cookies and _cookie_name(value) in kubegate_cookies:
            continue
        out.append((name, value))
    if nominates:
        nominated = _connection_tokens(backend_headers)
        out = [header for header in out if header[0] not in nominated]
    if is_upgrade:
        out.append(("connection", "Upgrade"))
        if upgrade_value is not None:
            out.append(("upgrade", upgrade_value))
    return out


def backend_content_length(backend_headers: Headers) -> int | None:
    """The backend's body length when its framing states one unambiguously, else None.

    None when there is no ``Content-Length``, when ``Transfer-Encoding`` is present (it
    overrides), or when the values are not one non-negative decimal (RFC 9110 §8.6 allows
    a repeated identical value).
    """
    lengths: set[str] = set()
    for raw_name, value in backend_headers:
        name = raw_name.lower()
        if name == "transfer-encoding":
            return None
        if name == "content-length":
            lengths.update(part.strip() for part in value.split(","))
    if len(lengths) != 1:
        return None
    (text,) = lengths
    if not text or not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _cookie_name(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[0].strip()


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    }
