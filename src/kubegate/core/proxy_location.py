"""Rewriting URLs a backend sends back (``Location``, ``Content-Location``, ``Refresh``).

Kube's rule (apimachinery ``proxy.Transport.rewriteURL``): a URL that points at the backend
itself — an absolute path, or an absolute URL whose host is the backend's — is moved under the
proxy prefix (``/login`` → ``/api/v1/namespaces/ns/services/svc/proxy/login``); a relative
reference (``login``) and a foreign host are left alone; a path that already starts with the
prefix is not prefixed twice. Redirects are relayed, never followed.

kubegate reads the URL the way a **browser** will (WHATWG URL), not the way Go does, because
the browser is who follows it:

* ``\\`` counts as ``/`` for http(s), so ``/\\evil.com`` is the network-path ``//evil.com``;
* a network-path reference (``//host/...``) to the backend is rewritten like any same-host
  URL; one to **another** host is turned into a path under the prefix
  (``//evil.com/x`` → ``<prefix>/evil.com/x``) so the result is never a protocol-relative
  open redirect (A27-style). Absolute foreign URLs (``https://other.example/``) pass
  unchanged, as in kube: the service proxy relays foreign redirects, it does not follow them;
* the rewritten path is cleaned like a backend path (core.proxy_path.clean_path): dot
  segments cannot climb out of the prefix, and "already prefixed" is decided on segment
  boundaries after cleaning, not by a string-prefix test;
* a value with control characters (a browser silently drops a TAB, so ``/\\t/evil.com``
  becomes ``//evil.com``), a malformed escape or an unparsable authority is not
  rewritable: :func:`rewrite_location` returns ``None`` and the caller drops the header.

Same-host means same scheme and same host and port (default ports filled in), compared with
``backend_host`` — the Host header the backend was sent — or, when ``public_origin`` is
given, with that origin (a backend that built an absolute URL from X-Forwarded-Host).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

from kubegate.core.proxy_path import PathNotAllowed, clean_path

__all__ = ["rewrite_location", "rewrite_refresh"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_PORT_RE: Final = re.compile(r"[0-9]{0,5}")
# WHATWG "shared declarative refresh steps": <time>[;,] [url=]['"]<url>['"]
_REFRESH_RE: Final = re.compile(
    r"""(?P<time>\s*[0-9]+(?:\.[0-9.]*)?)(?P<sep>\s*[;,]\s*)"""
    r"""(?P<key>url\s*=\s*)?(?P<url>.*)""",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class _Authority:
    userinfo: bool
    host: str  # lower-case; IPv6 without brackets, canonical
    port: int | None


def rewrite_location(
    location: str,
    *,
    backend_host: str,
    backend_scheme: str,
    proxy_prefix: str,
    public_origin: str | None,
) -> str | None:
    """Rewrite one URL from a backend response; None means drop the header.

    ``backend_host`` is ``host[:port]`` as the backend knows itself (the Host header it was
    sent), ``backend_scheme`` ``http`` or ``https``, ``proxy_prefix`` the raw
    ``…/{id}/proxy`` path, and ``public_origin`` (``https://gateway.example:6443``) makes
    rewritten URLs absolute on that origin; with None they are paths.
    """
    location = location.strip(" ")  # a browser strips leading and trailing spaces too
    if _has_control(location):
        return None
    # How a browser reads it for http(s): a backslash before the query is a slash.
    before, tail = _split_path(location)
    probe = before.replace("\\", "/") + tail
    scheme_match = _SCHEME_RE.match(probe)
    if scheme_match is None and not probe.startswith("/"):
        return location  # relative reference (login, ?x, #y, ''): the browser keeps it here
    backend = _parse_authority(backend_host, backend_scheme)
    if backend is None:
        raise ValueError(f"invalid backend host {backend_host!r}")
    origin = _parse_origin(public_origin) if public_origin is not None else None
    if scheme_match is not None:
        scheme = scheme_match.group(1).lower()
        if scheme not in _DEFAULT_PORTS:
            return location  # mailto:, javascript:, … : not a location on the backend
        rest = probe[scheme_match.end() :]
        authority_text, path_etc = _split_authority(rest.lstrip("/"))
        authority = _parse_authority(authority_text, scheme)
        if authority is None:
            return None
        same = not authority.userinfo and (
            (scheme == backend_scheme and _same(authority, backend))
            or (origin is not None and scheme == origin[0] and _same(authority, origin[1]))
        )
        if not same:
            return location  # foreign: relayed unchanged, as kube does
        return _under_prefix(path_etc, proxy_prefix, public_origin)
    if probe.startswith("//"):
        authority_text, path_etc = _split_authority(probe.lstrip("/"))
        authority = _parse_authority(authority_text, backend_scheme)
        if authority is not None and not authority.userinfo and _same(authority, backend):
            return _under_prefix(path_etc, proxy_prefix, public_origin)
        # Another host, protocol-relative: never relay an open redirect; keep it a path.
        return _under_prefix("/" + probe.lstrip("/"), proxy_prefix, public_origin)
    return _under_prefix(probe, proxy_prefix, public_origin)


def rewrite_refresh(
    refresh: str,
    *,
    backend_host: str,
    backend_scheme: str,
    proxy_prefix: str,
    public_origin: str | None,
) -> str | None:
    """Rewrite the URL in a ``Refresh: N; url=...`` header; None means drop the header."""
    if _has_control(refresh.replace("\t", " ")):
        return None
    match = _REFRESH_RE.fullmatch(refresh)
    if match is None:
        return refresh if re.fullmatch(r"\s*[0-9]+(?:\.[0-9.]*)?\s*", refresh) else None
    url = match.group("url").strip()
    if not url:
        return refresh
    quote = url[:1] if url[:1] in ("'", '"') else ""
    if quote:
        url = url[1:]
        end = url.find(quote)
        url = url if end < 0 else url[:end]
    rewritten = rewrite_location(
        url,
        backend_host=backend_host,
        backend_scheme=backend_scheme,
        proxy_prefix=proxy_prefix,
        public_origin=public_origin,
    )
    if rewritten is None:
        return None
    return f"{match.group('time').strip()}; url={rewritten}"


def _under_prefix(path_etc: str, proxy_prefix: str, public_origin: str | None) -> str | None:
    path, tail = _split_path(path_etc)
    try:
        cleaned = clean_path(path or "/")
    except PathNotAllowed:
        return None
    prefixed = cleaned == proxy_prefix or cleaned.startswith(proxy_prefix + "/")
    result = (cleaned if prefixed else proxy_prefix + cleaned) + tail
    if public_origin is not None:
        return public_origin.rstrip("/") + result
    return result


def _split_authority(text: str) -> tuple[str, str]:
    # The authority ends at the first '/', '?' or '#' (backslashes were made '/').
    for index, char in enumerate(text):
        if char in "/?#":
            return text[:index], text[index:]
    return text, ""


def _split_path(path_etc: str) -> tuple[str, str]:
    for index, char in enumerate(path_etc):
        if char in "?#":
            return path_etc[:index], path_etc[index:]
    return path_etc, ""


def _parse_authority(text: str, scheme: str) -> _Authority | None:
    userinfo, at, hostport = text.rpartition("@")
    del userinfo
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
        port_text = rest[1:] if rest else None
    elif hostport.count(":") > 1:  # a bare IPv6 address (a Host header built without brackets)
        try:
            host = str(ipaddress.IPv6Address(hostport))
        except ValueError:
            return None
        port_text = None
    else:
        host, colon, port_text_raw = hostport.partition(":")
        port_text = port_text_raw if colon else None
        host = host.lower().removesuffix(".")
    if not host:
        return None
    port = _DEFAULT_PORTS.get(scheme)
    if port_text:
        if not _PORT_RE.fullmatch(port_text) or int(port_text) > 65535:
            return None
        port = int(port_text)
    return _Authority(bool(at), host, port)


def _parse_origin(public_origin: str) -> tuple[str, _Authority]:
    match = _SCHEME_RE.match(public_origin)
    scheme = match.group(1).lower() if match else ""
    authority = None
    if scheme in _DEFAULT_PORTS and public_origin[len(scheme) + 1 :].startswith("//"):
        authority = _parse_authority(public_origin[len(scheme) + 3 :].rstrip("/"), scheme)
    if authority is None or authority.userinfo:
        raise ValueError(f"invalid public origin {public_origin!r}")
    return scheme, authority


def _same(a: _Authority, b: _Authority) -> bool:
    return a.host == b.host and a.port == b.port


def _has_control(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)
