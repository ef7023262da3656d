"""The REST operations kubegate serves, described once for both OpenAPI documents.

Built from the resource table (:mod:`kubegate.api.resources`): for every resource its
collection and item paths, the ``status``/``finalize``/``token`` subresources, the query
parameters of each verb, and the ``x-kubernetes-action`` / ``-group-version-kind``
extensions kubectl reads. Of note: PUT, POST and PATCH declare the ``fieldValidation`` query
parameter -- kubectl (cli-runtime's ``queryParamVerifierV3``) looks for it on the PATCH
operation of a kind to decide that the server validates fields itself; without it kubectl
falls back to client-side validation against ``/openapi/v2``.

:mod:`kubegate.api.openapi` renders these as Swagger 2.0 and OpenAPI 3.0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from kubegate.api.resources import RESOURCE_TYPES, ResourceType

__all__ = ["Operation", "Param", "PathItem", "path_items"]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
STATUS = f"{META}.Status"
DELETE_OPTIONS = f"{META}.DeleteOptions"
PATCH_BODY = f"{META}.Patch"

PATCH_CONTENT_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: str  # "path" | "query"
    description: str
    type: str = "string"  # "string" | "boolean" | "integer"
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    method: str  # get | put | post | delete | patch
    operation_id: str
    description: str
    action: str  # x-kubernetes-action
    gvk: tuple[str, str, str]  # group, version, kind
    tag: str
    params: tuple[Param, ...] = ()
    body: str = ""  # definition name of the request body
    consumes: tuple[str, ...] = ("*/*",)
    responses: tuple[tuple[str, str], ...] = ()  # (status code, definition name or "")


@dataclass(frozen=True, slots=True)
class PathItem:
    path: str
    group: str
    version: str
    operations: tuple[Operation, ...]
    params: tuple[Param, ...] = ()


# --- parameters, with kube's descriptions (trimmed) ------------------------------------------

PRETTY = Param(
    "pretty",
    "query",
    "If 'true', then the output is pretty printed. Defaults to "
    "'false' unless the user-agent indicates a browser or command-line HTTP tool "
    "(curl and wget).",
)
DRY_RUN = Param(
    "dryRun",
    "query",
    "When present, indicates that modifications should not be "
    "persisted. An invalid or unrecognized dryRun directive will result in an error "
    "response and no further processing of the request. Valid values are: - All: "
    "all dry run stages will be processed",
)
FIELD_MANAGER = Param(
    "fieldManager",
    "query",
    "fieldManager is a name associated with the "
    "actor or entity that is making these changes. The value must be less "
    "than or 128 characters long, and only contain printable characters, as "
    "defined by https://golang.org/pkg/unicode/#IsPrint.",
)
FIELD_VALIDATION = Param(
    "fieldValidation",
    "query",
    "fieldValidation instructs the server on how to handle objects in the request "
    "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This "
    "will ignore any unknown fields that are silently dropped from the object, and will ignore "
    "all but the last duplicate field that the decoder encounters. This is the default "
    "behavior prior to v1.23. - Warn: This will send a warning via the standard warning "
    "response header for each unknown field that is dropped from the object, and for each "
    "duplicate field that is encountered. The request will still succeed if there are no "
    "other errors, and will only persist the last of any duplicate fields. This is the "
    "default in v1.23+ - Strict: This will fail the request with a BadRequest error if any "
    "unknown fields would be dropped from the object, or if any duplicate fields are present. "
    "The error returned from the server will contain all unknown and duplicate fields "
    "encountered.",
)
FORCE = Param(
    "force",
    "query",
    'Force is going to "force" Apply requests. It means user '
    "will re-acquire conflicting fields owned by other people. Force flag must be "
    "unset for non-apply patch requests.",
    "boolean",
)
GRACE_PERIOD = Param(
    "gracePeriodSeconds",
    "query",
    "The duration in seconds before the object "
    "should be deleted. Value must be non-negative integer. The value zero "
    "indicates delete immediately.",
    "integer",
)
PROPAGATION = Param(
    "propagationPolicy",
    "query",
    "Whether and how garbage collection will be "
    "performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
)
ORPHAN = Param(
    "orphanDependents",
    "query",
    "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.",
    "boolean",
)
LIST_PARAMS = (
    Param(
        "allowWatchBookmarks",
        "query",
        'allowWatchBookmarks requests watch events with type "BOOKMARK".',
        "boolean",
    ),
    Param(
        "continue",
        "query",
        "The continue option should be set when retrieving more results from the server.",
    ),
    Param(
        "fieldSelector",
        "query",
        "A selector to restrict the list of returned objects by "
        "their fields. Defaults to everything.",
    ),
    Param(
        "labelSelector",
        "query",
        "A selector to restrict the list of returned objects by "
        "their labels. Defaults to everything.",
    ),
    Param(
        "limit",
        "query",
        "limit is a maximum number of responses to return for a list call.",
        "integer",
    ),
    Param(
        "resourceVersion",
        "query",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ),
    Param(
        "resourceVersionMatch",
        "query",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ),
    Param(
        "sendInitialEvents",
        "query",
        "`sendInitialEvents=true` may be set together with `watch=true`.",
        "boolean",
    ),
    Param("timeoutSeconds", "query", "Timeout for the list/watch call.", "integer"),
    Param(
        "watch",
        "query",
        "Watch for changes to the described resources and return them as "
        "a stream of add, update, and remove notifications.",
        "boolean",
    ),
)
WRITE_PARAMS = (DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION)
DELETE_PARAMS = (DRY_RUN, GRACE_PERIOD, ORPHAN, PROPAGATION)


def _path_param(name: str, description: str) -> Param:
    return Param(name, "path", description, required=True)


NAMESPACE = _path_param("namespace", "object name and auth scope, such as for teams and projects")


@dataclass(frozen=True, slots=True)
class _Verb:
    """How one API verb of a resource appears as an operation."""

    verb: str  # as in the resource table
    method: str
    id_verb: str  # operationId prefix
    action: str  # x-kubernetes-action
    params: tuple[Param, ...]
    body: str  # "object", "" or a definition name
    returns: str  # "object", "list" or a definition name
    codes: tuple[str, ...]
    description: str


COLLECTION_VERBS = (
    _Verb("list", "get", "list", "list", LIST_PARAMS, "", "list", ("200",),
          "list or watch objects of kind {kind}"),
    _Verb("create", "post", "create", "post", WRITE_PARAMS, "object", "object",
          ("200", "201", "202"), "create a {kind}"),
    _Verb("deletecollection", "delete", "deletecollection", "deletecollection",
          (*DELETE_PARAMS, *LIST_PARAMS), DELETE_OPTIONS, STATUS, ("200",),
          "delete collection of {kind}"),
)  # fmt: skip
ITEM_VERBS = (
    _Verb("get", "get", "read", "get", (), "", "object", ("200",),
          "read {what} the specified {kind}"),
    _Verb("update", "put", "replace", "put", WRITE_PARAMS, "object", "object", ("200", "201"),
          "replace {what} the specified {kind}"),
    _Verb("delete", "delete", "delete", "delete", DELETE_PARAMS, DELETE_OPTIONS, STATUS,
          ("200", "202"), "delete {what} a {kind}"),
    _Verb("patch", "patch", "patch", "patch", (*WRITE_PARAMS, FORCE), PATCH_BODY, "object",
          ("200", "201"), "partially update {what} the specified {kind}"),
    # Only subresources (serviceaccounts/token) are created on an item path.
    _Verb("create", "post", "create", "post", WRITE_PARAMS, "object", "object",
          ("200", "201", "202"), "create {what} a {kind}"),
)  # fmt: skip

KindIndex = dict[tuple[str, str, str], str]


def _tag(rt: ResourceType) -> str:
    """kube's tag: ``core_v1``, ``discovery_v1``, ``rbacAuthorization_v1``."""
    first, *rest = rt.group.removesuffix(".k8s.io").split(".") if rt.group else ["core"]
    return first + "".join(part.capitalize() for part in rest) + "_" + rt.version


def _operation_id(verb: str, rt: ResourceType, suffix: str = "", scoped: bool = True) -> str:
    camel = "".join(part[:1].upper() + part[1:] for part in _tag(rt).split("_"))
    scope = "Namespaced" if rt.namespaced and scoped else ""
    return f"{verb}{camel}{scope}{rt.kind}{suffix}"


def _operations(
    table: tuple[_Verb, ...],
    verbs: Iterable[str],
    rt: ResourceType,
    returns: tuple[tuple[str, str, str], str],
    list_def: str = "",
    sub: str = "",
) -> tuple[Operation, ...]:
    """The operations of ``table`` whose verb is in ``verbs``; ``returns`` is the (gvk,
    definition) of the object the path serves (the resource, or a subresource's kind)."""
    gvk, object_def = returns
    wanted = set(verbs)
    ops = []
    for v in table:
        result = {"object": object_def, "list": list_def}.get(v.returns, v.returns)
        if (
            v.verb not in wanted
            or not result
            or (v.verb == "create" and table is ITEM_VERBS and not sub)
        ):
            continue
        what = f"{sub} of" if sub else ""
        ops.append(Operation(
            method=v.method,
            operation_id=_operation_id(v.id_verb, rt, sub.capitalize()),
            description=" ".join(v.description.format(kind=rt.kind, what=what).split()),
            action=v.action,
            gvk=gvk,
            tag=_tag(rt),
            params=v.params,
            body=object_def if v.body == "object" else v.body,
            consumes=PATCH_CONTENT_TYPES if v.method == "patch" else ("*/*",),
            responses=(*((code, result) for code in v.codes), ("401", "")),
        ))  # fmt: skip
    return tuple(ops)


def _find_kind(kinds: KindIndex, rt: ResourceType, kind: str) -> tuple[tuple[str, str, str], str]:
    """(gvk, definition name) of ``kind``, preferring the resource's own group/version: a
    subresource may return a kind of another group (serviceaccounts/token -> TokenRequest)."""
    own = (rt.group, rt.version, kind)
    if own in kinds:
        return own, kinds[own]
    for gvk, name in kinds.items():
        if gvk[2] == kind:
            return gvk, name
    return own, ""


def _resource_items(rt: ResourceType, kinds: KindIndex) -> list[PathItem]:
    """The paths of one resource: collection, all-namespaces list, item, subresources."""
    this = _find_kind(kinds, rt, rt.kind)
    list_def = kinds.get((rt.group, rt.version, rt.list_kind), "")
    prefix = rt.path_prefix()
    collection = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else (
        f"{prefix}/{rt.plural}")  # fmt: skip
    scope = (NAMESPACE,) if rt.namespaced else ()
    gv = (rt.group, rt.version)
    candidates = [
        PathItem(collection, *gv, _operations(COLLECTION_VERBS, rt.verbs, rt, this, list_def),
                 (*scope, PRETTY)),
        PathItem(f"{collection}/{{name}}", *gv, _operations(ITEM_VERBS, rt.verbs, rt, this),
                 (_path_param("name", f"name of the {rt.kind}"), *scope, PRETTY)),
    ]  # fmt: skip
    if rt.namespaced and "list" in rt.verbs and list_def:
        everywhere = _operations(COLLECTION_VERBS[:1], ["list"], rt, this, list_def)
        everywhere = tuple(
            replace(op, operation_id=_operation_id("list", rt, "ForAllNamespaces", False))
            for op in everywhere
        )
        candidates.insert(1, PathItem(f"{prefix}/{rt.plural}", *gv, everywhere, (PRETTY,)))
    for sub, sub_kind, sub_verbs in rt.subresources:
        returns = _find_kind(kinds, rt, sub_kind)
        if not returns[1]:  # proxy and other connect-style subresources carry no schema
            continue
        candidates.append(PathItem(
            f"{collection}/{{name}}/{sub}", *gv,
            _operations(ITEM_VERBS, sub_verbs, rt, returns, sub=sub),
            (_path_param("name", f"name of the {sub_kind}"), *scope, PRETTY),
        ))  # fmt: skip
    return [item for item in candidates if item.operations]


def path_items(
    kinds: KindIndex, resource_types: tuple[ResourceType, ...] = RESOURCE_TYPES
) -> list[PathItem]:
    """Every path of every resource that has a schema. ``kinds`` maps (group, version, kind)
    to the OpenAPI definition name (the schema's ``x-kubernetes-group-version-kind``)."""
    items: list[PathItem] = []
    for rt in resource_types:
        if (rt.group, rt.version, rt.kind) in kinds:
            items.extend(_resource_items(rt, kinds))
    return items
