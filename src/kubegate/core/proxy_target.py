"""The proxy ``{id}`` grammar, and the errors every proxy core module refuses with.

``services|pods|nodes/{id}/proxy`` names its target as ``[scheme:]name[:port]``
(apimachinery ``SplitSchemeNamePort``). This module parses and renders that grammar; which
backend a parsed id reaches is :mod:`kubegate.core.proxy_backends`.

Every refusal made by the proxy core modules is a :class:`ProxyError`, which carries the HTTP
code, the Kubernetes Status reason and the message to answer with, so the server turns all of
them into a Status in one place::

    ProxyError(ValueError)        code, reason, message
      ProxyResolutionError        the target cannot be resolved (400, 503; core.proxy_backends)
        InvalidProxyId            400  invalid service request "<id>"
      AddressNotAllowed           400  address not allowed          (core.addresses)
      PathNotAllowed              400  unusable proxy sub-path      (core.proxy_path)
      UpgradeNotAllowed           400  upgrade token not allowed    (core.proxy_headers)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from kubegate.core.go_strconv import go_quote

__all__ = [
    "InvalidProxyId",
    "ProxyError",
    "ProxyId",
    "ProxyResolutionError",
    "ProxyResource",
    "parse_proxy_id",
    "render_proxy_id",
]

ProxyResource = Literal["services", "pods", "nodes"]

_VALID_SCHEMES: Final = frozenset({"", "http", "https"})
_SINGULAR: Final[Mapping[str, str]] = {"services": "service", "pods": "pod", "nodes": "node"}


# -- errors ----------------------------------------------------------------------------


class ProxyError(ValueError):
    """A proxy request the core refuses, with the HTTP code and Status reason to answer."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


class ProxyResolutionError(ProxyError):
    """The target named by the id cannot be turned into a backend address."""


class InvalidProxyId(ProxyResolutionError):
    """The ``{id}`` segment does not follow ``[scheme:]name[:port]`` (kube: 400 BadRequest)."""

    def __init__(self, raw_id: str, resource: ProxyResource) -> None:
        singular = _SINGULAR.get(resource, resource)
        super().__init__(400, "BadRequest", f"invalid {singular} request {go_quote(raw_id)}")
        self.raw_id = raw_id


# -- the {id} grammar --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProxyId:
    """``[scheme:]name[:port]``: scheme is '', 'http' or 'https'; port may be a name or ''."""

    scheme: str
    name: str
    port: str

    def __post_init__(self) -> None:
        if self.scheme not in _VALID_SCHEMES:
            raise ValueError(f"invalid proxy scheme {self.scheme!r}")
        if not self.name or ":" in self.name or ":" in self.port:
            raise ValueError("a proxy id needs a non-empty name, and no ':' in name or port")


def parse_proxy_id(raw_id: str, resource: ProxyResource) -> ProxyId:
    """Split an id as SplitSchemeNamePort does; raise :class:`InvalidProxyId` if invalid.

    One part is ``name``, two are ``name:port``, three are ``scheme:name:port`` (the port may
    be empty: ``https:svc:``). Kube's meaning is kept for the pitfall ``https:svc``: two
    parts, so it is service ``https`` with port ``svc``.
    """
    parts = raw_id.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, (name, port) = "", parts
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        raise InvalidProxyId(raw_id, resource)
    if not name or scheme not in _VALID_SCHEMES:
        raise InvalidProxyId(raw_id, resource)
    return ProxyId(scheme, name, port)


def render_proxy_id(proxy_id: ProxyId) -> str:
    """JoinSchemeNamePort: the shortest id that parses back to ``proxy_id``."""
    if proxy_id.scheme:
        return f"{proxy_id.scheme}:{proxy_id.name}:{proxy_id.port}"
    if proxy_id.port:
        return f"{proxy_id.name}:{proxy_id.port}"
    return proxy_id.name
