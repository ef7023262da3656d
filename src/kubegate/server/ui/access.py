"""Which proxy targets a user may reach: ``get`` on ``services|pods|nodes/proxy`` asked of the
real authorizer, with the same attributes a request for the link would be authorized with.

A proxy link's RBAC name is the whole ``{id}`` segment as the request carries it
(``web:http``, ``https:web:443``), exactly as kube's RequestInfo reads it, so each link is
checked with the attributes parsed from its own path (core.requestinfo) — a role limited
by ``resourceNames: [web]`` allows ``…/services/web/proxy/`` and not ``…/web:http/proxy/``.

Asking per link would cost one decision per port of every object. Whole-scope decisions
come first: an RBAC rule matches a request without a name only when it has no
``resourceNames`` (kube's ResourceNameMatches), so "allowed with an empty name" means
"allowed for every name" — cluster-wide (no namespace) covers every namespace, and
namespace-wide covers that namespace. Only when both are denied are names asked one by one.
"""

from __future__ import annotations

from kubegate.auth.attributes import attributes_for
from kubegate.auth.types import Attributes, Authorizer, UserInfo
from kubegate.core.requestinfo import PathError, parse_request_info

_PLURAL = {"service": "services", "pod": "pods", "node": "nodes"}


class ProxyAccess:
    """Memoised ``get <kind>s/proxy`` decisions for one user and one page."""

    def __init__(self, authorizer: Authorizer, user: UserInfo) -> None:
        self.authorizer = authorizer
        self.user = user
        self._scopes: dict[tuple[str, str], bool] = {}

    def _scope_allowed(self, resource: str, namespace: str) -> bool:
        key = (resource, namespace)
        found = self._scopes.get(key)
        if found is None:
            attrs = Attributes(
                user=self.user,
                verb="get",
                resource_request=True,
                path=_collection_path(resource, namespace),
                namespace=namespace,
                api_version="v1",
                resource=resource,
                subresource="proxy",
            )
            found = self._scopes[key] = self.authorizer.authorize(attrs).allowed
        return found

    def whole_namespace(self, kind: str, namespace: str) -> bool:
        """Whether every ``kind`` in ``namespace`` (cluster-wide for nodes) is allowed."""
        resource = _PLURAL[kind]
        if self._scope_allowed(resource, ""):
            return True
        return bool(namespace) and self._scope_allowed(resource, namespace)

    def may_proxy(self, kind: str, namespace: str, proxy_id: str) -> bool:
        """Whether a GET of the proxy link for ``proxy_id`` would be authorized."""
        if self.whole_namespace(kind, namespace):
            return True
        path = f"{_collection_path(_PLURAL[kind], namespace)}/{proxy_id}/proxy/"
        try:
            info = parse_request_info("GET", path, "")
        except PathError:
            return False
        return self.authorizer.authorize(attributes_for(self.user, info)).allowed


def _collection_path(resource: str, namespace: str) -> str:
    if namespace:
        return f"/api/v1/namespaces/{namespace}/{resource}"
    return f"/api/v1/{resource}"
