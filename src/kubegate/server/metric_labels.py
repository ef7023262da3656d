"""The bounded label values of a request's metrics (server/metrics.py says why bounded):
kube's reported verbs and scopes, and only the group, version, resource and subresource of
a type the server serves."""

from __future__ import annotations

from kubegate.api.resources import lookup
from kubegate.core.requestinfo import RequestInfo

COMPONENT = "apiserver"
REQUEST_LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component")

# kube's metrics verbs (endpoints/metrics cleanVerb): the connect-style subresources report
# CONNECT, a server-side-apply patch APPLY; anything outside the known set is "other".
_RESOURCE_VERBS = {
    "get": "GET",
    "list": "LIST",
    "watch": "WATCH",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETECOLLECTION",
}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CONNECT_SUBRESOURCES = frozenset({"proxy", "exec", "attach", "portforward"})
APPLY_PATCH = "application/apply-patch+yaml"

LabelValues = tuple[str, ...]
_UNKNOWN_RESOURCE: LabelValues = ("other", "", "", "", "", "", COMPONENT)


def scope_of(info: RequestInfo) -> str:
    """kube's CleanScope: resource, namespace, cluster, or "" for non-resource requests."""
    if info.name or info.verb == "create":
        return "resource"
    if info.namespace:
        return "namespace"
    if info.is_resource_request:
        return "cluster"
    return ""


def request_labels(info: RequestInfo, method: str, apply: bool = False) -> LabelValues:
    """The bounded label values of one request (REQUEST_LABELS order)."""
    if not info.is_resource_request:
        verb = method if method in _METHODS else "other"
        return (verb, "", "", "", "", "", COMPONENT)
    rt = lookup(info.api_group, info.api_version, info.resource)
    if rt is None:
        return _UNKNOWN_RESOURCE
    sub = info.subresource
    if sub and not rt.has_subresource(sub):
        sub = "other"
    if sub in CONNECT_SUBRESOURCES:
        verb = "CONNECT"
    elif info.verb == "patch" and apply:
        verb = "APPLY"
    else:
        verb = _RESOURCE_VERBS.get(info.verb, "other")
    return (verb, rt.group, rt.version, rt.plural, sub, scope_of(info), COMPONENT)


def cacheable(info: RequestInfo, labels: LabelValues) -> bool:
    """Whether a raw key may be remembered: only for a served resource type and a
    subresource it has, whose raw attributes form a set as bounded as the labels. (A
    non-resource path's group and version are whatever the client wrote; its labels are
    cheap to compute every time.)"""
    if not info.is_resource_request:
        return False
    return labels is not _UNKNOWN_RESOURCE and labels[4] == info.subresource
