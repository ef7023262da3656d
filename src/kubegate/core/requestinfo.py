"""Request-info parsing: the one canonical reading of an API path.

Mirrors k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: the same parse gives the
router its handler and the authorizer its attributes (security.md §4 rule 1), so nothing
can be routed one way and authorized another. Unlike kube, ambiguous input is refused
rather than cleaned: encoded slashes inside a segment, NUL, ``.``/``..`` segments and empty
segments in the API part raise ``PathError`` (answered 400).

Resource paths::

    /api/{version}/...                          core group
    /apis/{group}/{version}/...
      namespaces/{namespace}/{resource}[/{name}[/{subresource}[/{subpath...}]]]
      {resource}[/{name}[/{subresource}[/{subpath...}]]]

``namespaces/{name}`` itself is the cluster-scoped Namespace object. Anything after the
subresource is kept raw (still percent-encoded) in ``subpath`` for the proxy subresource.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

_WATCH_TRUE = {"1", "true"}
# Subresources of the Namespace object itself: /api/v1/namespaces/{name}/status is the
# namespace's status, not a resource called "status" inside it (as in kube).
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


class PathError(ValueError):
    """The path cannot be read unambiguously."""


@dataclass(frozen=True, slots=True)
class RequestInfo:
    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    subpath: str = ""  # raw remainder after the subresource, '' or starting with '/'

    @property
    def group_version(self) -> str:
        return f"{self.api_group}/{self.api_version}" if self.api_group else self.api_version


def _decode_segment(raw: str) -> str:
    value = unquote(raw, errors="strict")
    if "/" in value or "\x00" in value or "\\" in value:
        raise PathError(f"invalid path segment {raw!r}")
    if value in (".", ".."):
        raise PathError("path segments '.' and '..' are not allowed")
    return value


def query_flag(query: str, name: str) -> str | None:
    """The first value of a query parameter, or None."""
    values = parse_qs(query, keep_blank_values=True).get(name)
    return values[0] if values else None


def parse_request_info(method: str, raw_path: str, query: str) -> RequestInfo:
    """Parse one request into its Kubernetes attributes."""
    method = method.upper()
    plain_verb = method.lower()
    if not raw_path.startswith("/"):
        raise PathError("path must be absolute")
    raw_parts = raw_path[1:].split("/")
    if raw_parts[-1] == "":
        raw_parts = raw_parts[:-1]
    if not raw_parts or raw_parts[0] not in ("api", "apis"):
        return RequestInfo(False, raw_path, plain_verb)

    prefix = raw_parts[0]
    need = 2 if prefix == "api" else 3
    head: list[str] = []
    for raw in raw_parts[:need]:
        if raw == "":
            raise PathError("empty path segment")
        head.append(_decode_segment(raw))
    if len(head) < need:
        return RequestInfo(False, raw_path, plain_verb)
    group = head[1] if prefix == "apis" else ""
    version = head[-1]
    rest_raw = raw_parts[need:]
    if not rest_raw:
        return RequestInfo(False, raw_path, plain_verb, prefix, group, version)

    # Decode the structural part: at most namespaces/{ns}/{resource}/{name}/{subresource};
    # everything beyond stays raw for the proxy.
    namespace_subresource = (
        rest_raw[0] == "namespaces"
        and len(rest_raw) == 3
        and rest_raw[2] in _NAMESPACE_SUBRESOURCES
    )
    structural = (
        5 if rest_raw[0] == "namespaces" and len(rest_raw) > 2 and not namespace_subresource else 3
    )
    decoded: list[str] = []
    for raw in rest_raw[:structural]:
        if raw == "":
            raise PathError("empty path segment")
        decoded.append(_decode_segment(raw))
    tail_raw = rest_raw[structural:]
    subpath = "/" + "/".join(tail_raw) if tail_raw else ""
    if subpath and raw_path.endswith("/"):
        subpath += "/"

    namespace = ""
    parts = decoded
    if parts[0] == "namespaces" and not namespace_subresource:
        if len(parts) > 1:
            namespace = parts[1]
            if len(parts) > 2:
                parts = parts[2:]
            else:
                parts = ["namespaces", namespace]
                namespace = ""
    resource = parts[0]
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 else ""
    if subpath and not subresource:
        raise PathError("unexpected path after resource name")
    verb = _verb(method, name, subresource, query)
    return RequestInfo(
        True,
        raw_path,
        verb,
        prefix,
        group,
        version,
        namespace,
        resource,
        subresource,
        name,
        subpath,
    )


def _verb(method: str, name: str, subresource: str, query: str) -> str:
    if method in ("GET", "HEAD"):
        if subresource:
            return "get"
        if query_flag(query, "watch") in _WATCH_TRUE:
            return "watch"
        return "get" if name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if name or subresource else "deletecollection"
    # kube's requestinfo.go: any other method (OPTIONS) is the empty verb, which only an
    # RBAC rule with verbs ["*"] grants (a rule naming "options" must not).
    return ""
