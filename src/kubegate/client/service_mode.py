"""Service mode: one Service served at the root ``/`` of a local port.

``kubegate proxy --service NS/NAME[:PORT]`` forwards every local request ``/<path>`` to the
API server's service proxy ``/api/v1/namespaces/NS/services/NAME[:PORT]/proxy/<path>``. The
API server picks a ready endpoint for each request, so this is load-balanced and survives pod
restarts, unlike ``kubectl port-forward`` (one pod, one stream). Apps that cannot live under
a path prefix work, because they are at ``/`` again.

Every request carries ``X-Kubegate-Rewrite: off`` (:data:`AT_ROOT_HEADER`): a kubegate API
server then leaves HTML and CSS unrewritten, injects no shim and sends no
``X-Forwarded-Prefix`` — the app is at ``/`` here, not under the prefix. (Other API servers
ignore the header; kube never rewrites bodies.) On the way back, the API server has moved the
backend's ``Location``-style headers under the proxy prefix (kube's ``rewriteURL``) and, if it
is kubegate, each ``Set-Cookie`` ``Path`` too (cookie scoping on its shared origin stays on
whatever a client asks); this mode moves them back to ``/``. Pure functions, no IO.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubegate.core.names import is_dns1035_label, is_dns1123_label, is_valid_port_name
from kubegate.core.proxy_target import InvalidProxyId, parse_proxy_id, render_proxy_id

__all__ = [
    "AT_ROOT_HEADER",
    "ServiceTarget",
    "parse_service_target",
    "root_cookie",
    "root_header",
    "root_location",
    "upstream_path",
]

# Asks kubegate not to rewrite for a prefix (proxy/rewrite.py; stripped before the backend).
AT_ROOT_HEADER: Final = ("X-Kubegate-Rewrite", "off")

_HEADERS_WITH_URLS: Final = frozenset({"location", "content-location"})


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    namespace: str
    service_id: str  # kube's {id}: [scheme:]name[:port]

    @property
    def proxy_prefix(self) -> str:
        """The service proxy path, without a trailing slash."""
        return f"/api/v1/namespaces/{self.namespace}/services/{self.service_id}/proxy"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.service_id}"


def parse_service_target(text: str) -> ServiceTarget:
    """``NS/NAME``, ``NS/NAME:PORT`` (a port name or number) or ``NS/https:NAME:PORT``;
    ``ValueError`` with the message to print otherwise."""
    namespace, sep, service_id = text.partition("/")
    if not sep or not namespace or not service_id or "/" in service_id:
        raise ValueError(f"--service {text!r}: expected NAMESPACE/NAME[:PORT]")
    if is_dns1123_label(namespace):
        raise ValueError(f"--service {text!r}: {namespace!r} is not a valid namespace name")
    try:
        proxy_id = parse_proxy_id(service_id, "services")
    except InvalidProxyId as exc:
        raise ValueError(f"--service {text!r}: {exc}") from exc
    if is_dns1035_label(proxy_id.name):
        raise ValueError(f"--service {text!r}: {proxy_id.name!r} is not a valid service name")
    port = proxy_id.port
    if port and not (port.isdigit() and 0 < int(port) < 65536) and is_valid_port_name(port):
        raise ValueError(f"--service {text!r}: {port!r} is not a port number or name")
    return ServiceTarget(namespace, render_proxy_id(proxy_id))


def upstream_path(target: ServiceTarget, raw_path: str) -> str:
    """The API server path for a local request path (still percent-encoded).

    A path that already starts with the proxy prefix (a link the API server or the app built
    with it) is passed as it is instead of being prefixed twice."""
    prefix = target.proxy_prefix
    if raw_path == prefix or raw_path.startswith(prefix + "/"):
        return raw_path
    return prefix + raw_path


def root_location(
    name: str, value: str, target: ServiceTarget, api_authorities: frozenset[str]
) -> str:
    """A response header value with the proxy prefix moved back to ``/``.

    ``Location`` and ``Content-Location`` that point under the prefix — as a path, or as an
    absolute URL on the API server (``api_authorities``: its ``host[:port]`` forms,
    lower-case) — become paths from the local root. Anything else passes unchanged: relative
    references already work, and foreign URLs are the app's business."""
    if name not in _HEADERS_WITH_URLS:
        return value
    prefix = target.proxy_prefix
    path = value
    scheme, sep, rest = value.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        if rest[:end].lower() not in api_authorities:
            return value
        path = rest[end:] or "/"
    elif not value.startswith("/") or value.startswith("//"):
        return value
    if path == prefix:
        return "/"
    if path.startswith(prefix) and path[len(prefix)] in "/?#":
        rest_of_path = path[len(prefix) :]
        return rest_of_path if rest_of_path.startswith("/") else "/" + rest_of_path
    return value


def root_header(
    name: str, value: str, target: ServiceTarget, api_authorities: frozenset[str]
) -> str:
    """A response header value (``name`` lower-case) with the proxy prefix moved back to
    ``/``: :func:`root_cookie` for ``Set-Cookie``, :func:`root_location` otherwise."""
    if name == "set-cookie":
        return root_cookie(value, target)
    return root_location(name, value, target, api_authorities)


def root_cookie(value: str, target: ServiceTarget) -> str:
    """A ``Set-Cookie`` value whose ``Path`` attributes under the proxy prefix (where
    kubegate scopes a backend's cookies, core/rewrite_cookies.py) are moved back to ``/``:
    ``Path=<prefix>/x`` becomes ``Path=/x``. Everything else is kept byte for byte."""
    prefix = target.proxy_prefix
    if prefix not in value:  # (the usual case against an API server that does not scope)
        return value
    parts = value.split(";")
    for i in range(1, len(parts)):
        key, eq, path = parts[i].partition("=")
        if not eq or key.strip().lower() != "path":
            continue
        path = path.strip()
        if path == prefix:
            parts[i] = " Path=/"
        elif path.startswith(prefix + "/"):
            parts[i] = f" Path={path[len(prefix) :]}"
    return ";".join(parts)
