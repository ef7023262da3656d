"""Proxy URLs for services, pods and nodes, built by hand as the proxy docs explain. Pure.

    <base>/api/v1/namespaces/<ns>/services/[https:]<name>[:<port>]/proxy/<path>[?<query>]
    <base>/api/v1/namespaces/<ns>/pods/[https:]<name>[:<port>]/proxy/<path>[?<query>]
    <base>/api/v1/nodes/[https:]<name>[:<port>]/proxy/<path>[?<query>]

The ``{id}`` segment is apimachinery's ``JoinSchemeNamePort``: with a scheme it always has
three parts, so https with no port is ``https:<name>:`` (``https:<name>`` would mean service
``https``, port ``<name>``). The path and query are kept as written, except that characters
a URL cannot carry (space, quotes, non-ASCII ...) are percent-encoded; an existing ``%XX``
escape is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from kubegate.core.names import is_dns1123_label, is_dns1123_subdomain, is_valid_port_name
from kubegate.core.proxy_target import ProxyId, render_proxy_id

__all__ = ["Kind", "ProxyURL", "UrlError", "check_port", "encode_path", "parse_target", "proxy_url"]

Kind = Literal["service", "pod", "node"]

_KINDS: dict[str, Kind] = {
    "service": "service",
    "services": "service",
    "svc": "service",
    "pod": "pod",
    "pods": "pod",
    "po": "pod",
    "node": "node",
    "nodes": "node",
    "no": "node",
}
_PLURAL = {"service": "services", "pod": "pods", "node": "nodes"}
# RFC 3986 characters that may appear as they are (plus "%", checked separately).
_PATH_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/"
)
_QUERY_SAFE = _PATH_SAFE | {"?"}
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


class UrlError(ValueError):
    """The target, port or path cannot make a proxy URL; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class ProxyURL:
    """What a proxy URL points at (the parts ``proxy_url`` joins)."""

    kind: Kind
    name: str
    namespace: str | None  # None for nodes
    port: str = ""  # a number or a port name; "" for the default
    https: bool = False
    path: str = ""  # may carry "?query"

    @property
    def proxy_id(self) -> str:
        return render_proxy_id(ProxyId("https" if self.https else "", self.name, self.port))


def parse_target(text: str) -> tuple[Kind, str]:
    """``service/NAME`` (or svc/, services/, pod/, po/, node/, no/ ...) -> (kind, name)."""
    kind_text, sep, name = text.partition("/")
    kind = _KINDS.get(kind_text.lower())
    if not sep or kind is None:
        raise UrlError(f'"{text}" is not TYPE/NAME; use service/NAME, pod/NAME or node/NAME')
    problems = is_dns1123_subdomain(name) if name else ["a name is required"]
    if problems:
        raise UrlError(f'invalid {kind} name "{name}": {problems[0]}')
    return kind, name


def check_port(port: str) -> str:
    """A port as the id carries it: 1-65535 or an IANA service name (or "")."""
    if port == "":
        return port
    if port.isdigit():
        if not 1 <= int(port) <= 65535 or port.startswith("0"):
            raise UrlError(f'invalid port "{port}": must be between 1 and 65535, inclusive')
        return port
    problems = is_valid_port_name(port)
    if problems:
        raise UrlError(f'invalid port name "{port}": {problems[0]}')
    return port


def proxy_url(base: str, target: ProxyURL) -> str:
    """The full proxy URL of ``target`` under ``base`` (a server URL, or a local proxy's)."""
    check_port(target.port)
    if target.kind == "node":
        collection = "/api/v1/nodes"
    else:
        if not target.namespace:
            raise UrlError(f"a {target.kind} URL needs a namespace")
        problems = is_dns1123_label(target.namespace)
        if problems:
            raise UrlError(f'invalid namespace "{target.namespace}": {problems[0]}')
        collection = f"/api/v1/namespaces/{target.namespace}/{_PLURAL[target.kind]}"
    return f"{base.rstrip('/')}{collection}/{target.proxy_id}/proxy/{encode_path(target.path)}"


def encode_path(path: str) -> str:
    """``path`` without its leading slashes, escaped where a URL needs it; the query is kept."""
    path, sep, query = path.partition("?")
    path = path.lstrip("/")
    if "#" in path or "#" in query:
        raise UrlError("a proxy path cannot carry a #fragment (browsers never send it)")
    return _escape(path, _PATH_SAFE) + (sep + _escape(query, _QUERY_SAFE) if sep else "")


def _escape(text: str, safe: frozenset[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and _ESCAPE.match(text, i):
            out.append(text[i : i + 3])
            i += 3
            continue
        if char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
        i += 1
    return "".join(out)
