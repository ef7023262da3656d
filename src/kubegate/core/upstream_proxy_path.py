"""The path mirror mode's via-apiserver proxy asks the upstream API server for.

A local ``services|pods|nodes/{id}/proxy[/{path}]`` request was routed and authorized from
its parsed parts (namespace, resource, id). The upstream request is **rebuilt from those
parts**, never copied from the raw request path, so whatever the upstream makes of an odd
encoding it reaches the object that was authorized here; the sub-path is cleaned exactly as
the local proxy cleans it for a backend (``core.proxy_path.backend_path``)::

    /api/v1/namespaces/{ns}/{resource}/{id}/proxy            …/proxy (non-GET: no redirect)
    /api/v1/namespaces/{ns}/{resource}/{id}/proxy/           …/proxy/
    /api/v1/namespaces/{ns}/{resource}/{id}/proxy/a/b/       …/proxy/a//./b/
    /api/v1/nodes/{id}/proxy/metrics                         nodes are cluster-scoped

prefixed by the upstream server URL's own path (``https://host/k8s/clusters/c-1``).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from kubegate.core.proxy_path import backend_path

__all__ = ["PROXY_RESOURCES", "upstream_proxy_path"]

PROXY_RESOURCES: Final = frozenset({"services", "pods", "nodes"})
_SAFE: Final = "-._~:@!$&'()*+,;="  # RFC 3986 pchar without '/' and '%'


def upstream_proxy_path(
    base_path: str,
    namespace: str,
    resource: str,
    proxy_id: str,
    raw_subpath: str,
    *,
    trailing_slash: bool,
) -> str:
    """The upstream path (without query) for a proxy request.

    ``raw_subpath`` is RequestInfo.subpath ('' or a raw path starting with '/');
    ``trailing_slash`` says whether the request path ended in '/', which matters only when
    the sub-path is empty (``…/proxy`` and ``…/proxy/`` differ). Raises ValueError for a
    resource without a proxy subresource, a missing id, or a namespaced resource without a
    namespace; ``core.proxy_path.PathNotAllowed`` for a sub-path that cannot be forwarded.
    """
    if resource not in PROXY_RESOURCES:
        raise ValueError(f"{resource} has no proxy subresource")
    if not proxy_id or (resource != "nodes") != bool(namespace):
        raise ValueError("a proxy request names its object (and namespace unless a node)")
    parts = ["api", "v1"]
    if namespace:
        parts += ["namespaces", namespace]
    parts += [resource, proxy_id, "proxy"]
    path = base_path.rstrip("/") + "/" + "/".join(quote(p, safe=_SAFE) for p in parts)
    if raw_subpath or trailing_slash:
        path += backend_path(raw_subpath)
    return path
