"""Authorization attributes from the canonical request info (the same parse the router uses)."""

from __future__ import annotations

from kubegate.auth.types import Attributes, UserInfo
from kubegate.core.requestinfo import RequestInfo

# Subresources whose WebSocket upgrade runs commands or opens tunnels (KEP-4006).
_EXEC_LIKE = frozenset({"exec", "attach", "portforward"})

# (id(user), id(info)) -> (user, info, their Attributes). A client repeats one user object
# (the token memos hand back the same UserInfo) and one RequestInfo (server/context.py's
# memo), and building the frozen 10-field Attributes costs more than the rest of an RBAC
# check. The entry holds both objects, so their ids cannot be reused while it lives, and
# all three are immutable: an entry is right for as long as it exists. Bounded.
_MEMO: dict[tuple[int, int], tuple[UserInfo, RequestInfo, Attributes]] = {}
_MEMO_MAX = 1024  # entries; all dropped when full


def attributes_for(user: UserInfo, info: RequestInfo, *, verb: str | None = None) -> Attributes:
    if verb:  # (the rare second check of an upgrade: not remembered)
        return _build(user, info, verb)
    key = (id(user), id(info))
    entry = _MEMO.get(key)
    if entry is not None and entry[0] is user and entry[1] is info:
        return entry[2]
    attrs = _build(user, info, info.verb)
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[key] = (user, info, attrs)
    return attrs


def _build(user: UserInfo, info: RequestInfo, verb: str) -> Attributes:
    return Attributes(
        user=user,
        verb=verb,
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
