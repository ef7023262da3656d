"""Authorization attributes from the canonical request info (the same parse the router uses)."""

from __future__ import annotations

from kubegate.auth.types import Attributes, UserInfo
from kubegate.core.requestinfo import RequestInfo

# Subresources whose WebSocket upgrade runs commands or opens tunnels (KEP-4006).
_EXEC_LIKE = frozenset({"exec", "attach", "portforward"})


def attributes_for(user: UserInfo, info: RequestInfo, *, verb: str | None = None) -> Attributes:
    return Attributes(
        user=user,
        verb=verb or info.verb,
        resource_request=info.is_resource_request,
        path=info.path,
        namespace=info.namespace,
        api_group=info.api_group,
        api_version=info.api_version,
        resource=info.resource,
        subresource=info.subresource,
        name=info.name,
    )


def needs_create_for_upgrade(info: RequestInfo) -> bool:
    """Upgrades that must also be allowed ``create``: exec-like pod subresources (kube's
    KEP-4006) and — stricter than kube — every node proxy upgrade (the 2026
    ``get nodes/proxy`` remote-execution finding)."""
    if not info.is_resource_request or info.verb == "create":
        return False
    if info.resource == "pods" and info.subresource in _EXEC_LIKE:
        return True
    return info.resource == "nodes" and info.subresource == "proxy"
