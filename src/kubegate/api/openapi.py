"""The OpenAPI documents kubectl needs: ``/openapi/v2`` and ``/openapi/v3[/<group-version>]``.

What kubectl (1.37, checked against the real binary) does with them:

* ``apply``/``create``/``replace`` (``--validate`` defaults to strict) first ask the v3
  document of the object's group-version whether the kind's PATCH operation declares the
  ``fieldValidation`` query parameter. If it does, kubectl leaves validation to the server
  and sends ``?fieldValidation=Strict`` (or Warn). If not, it validates client-side against
  ``/openapi/v2`` -- fetched as protobuf only (see :mod:`kubegate.api.openapi_proto`) -- and
  fails with "failed to download openapi" when that is missing.
* ``apply`` computes its strategic merge patch from the v3 document's
  ``x-kubernetes-patch-strategy`` / ``-patch-merge-key`` extensions (v2 as a fallback).
* ``explain`` renders the v3 schema of the kind, found by ``x-kubernetes-group-version-kind``.

Documents are built once from the generated definitions (:mod:`kubegate.api.schema`) and the
resource table, encoded, and cached as bytes. Each v3 group-version document is addressed
from the ``/openapi/v3`` index by ``?hash=<SHA-512, upper-case hex>`` as kube does, and every
response carries that hash as its ETag.

The HTTP layer calls :func:`openapi_response` for any path under ``/openapi/``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from kubegate.api import schema as schemas
from kubegate.api.discovery import version_info
from kubegate.api.openapi_paths import Operation, Param, PathItem, path_items
from kubegate.api.openapi_proto import encode_document

__all__ = [
    "OpenAPIResponse",
    "openapi_etag",
    "openapi_response",
    "openapi_v2",
    "openapi_v2_protobuf",
    "openapi_v3_group",
    "openapi_v3_index",
]

JSON_TYPE = "application/json"
# client-go asks for "...spec.v2@v1.0+protobuf", but "@" is not allowed in a media type and
# client-go's own mime.ParseMediaType rejects it in a response; kube-openapi accepts the "@"
# spelling in Accept and answers with the dotted one, and so do we.
V2_PROTOBUF_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V2_PROTOBUF_PREFIX = "application/com.github.proto-openapi.spec.v2"
PRODUCES = ("application/json", "application/yaml")
SECURITY_NAME = "BearerToken"
SECURITY_SCHEME = {
    "type": "apiKey",
    "name": "authorization",
    "in": "header",
    "description": "Bearer Token authentication",
}

Doc = dict[str, Any]


def _info() -> Doc:
    return {"title": "Kubernetes", "version": version_info()["gitVersion"]}


def _encode(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _hash(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest().upper()


@functools.cache
def _paths() -> tuple[PathItem, ...]:
    kinds = {
        (gvk["group"], gvk["version"], gvk["kind"]): name
        for name, definition in schemas.all_definitions().items()
        for gvk in definition.get("x-kubernetes-group-version-kind", ())
        if not name.startswith("io.k8s.apimachinery.")  # DeleteOptions etc. list every group
    }
    return tuple(path_items(kinds))


def _gvk_extension(op: Operation) -> dict[str, str]:
    group, version, kind = op.gvk
    return {"group": group, "kind": kind, "version": version}


def _referenced(names: Iterable[str]) -> list[str]:
    """``names`` and every definition they reach through ``$ref``, in a stable order."""
    seen: dict[str, None] = {}
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen or schemas.definition(name) is None:
            continue
        seen[name] = None
        stack.extend(_refs_in(schemas.definition(name)))
    return sorted(seen)


def _refs_in(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        target = schemas.ref_name(node)
        if target is not None:
            yield target
        for value in node.values():
            yield from _refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs_in(value)


def _operation_definitions(items: Iterable[PathItem]) -> set[str]:
    names: set[str] = set()
    for item in items:
        for op in item.operations:
            if op.body:
                names.add(op.body)
            names.update(name for _code, name in op.responses if name)
    return names


# --- Swagger 2.0 ------------------------------------------------------------------------------


def _v2_param(param: Param) -> Doc:
    out: Doc = {
        "name": param.name,
        "in": param.location,
        "type": param.type,
        "description": param.description,
        "uniqueItems": True,
    }
    if param.required:
        out["required"] = True
    return out


def _v2_operation(op: Operation) -> Doc:
    params = [_v2_param(p) for p in op.params]
    if op.body:
        params.insert(
            0,
            {
                "name": "body",
                "in": "body",
                "required": op.method != "delete",
                "schema": {"$ref": schemas.REF_PREFIX + op.body},
            },
        )
    responses: Doc = {}
    for code, name in op.responses:
        response: Doc = {"description": _status_text(code)}
        if name:
            response["schema"] = {"$ref": schemas.REF_PREFIX + name}
        responses[code] = response
    return {
        "description": op.description,
        "consumes": list(op.consumes),
        "produces": list(PRODUCES),
        "schemes": ["https"],
        "tags": [op.tag],
        "operationId": op.operation_id,
        "parameters": params,
        "responses": responses,
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": _gvk_extension(op),
    }


def _status_text(code: str) -> str:
    return {"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"}[code]


@functools.cache
def openapi_v2_document() -> Mapping[str, Any]:
    """The Swagger 2.0 document as a mapping (shared: do not mutate)."""
    paths: Doc = {}
    for item in _paths():
        entry: Doc = {op.method: _v2_operation(op) for op in item.operations}
        entry["parameters"] = [_v2_param(p) for p in item.params]
        paths[item.path] = entry
    return {
        "swagger": "2.0",
        "info": _info(),
        "paths": paths,
        "definitions": dict(sorted(schemas.all_definitions().items())),
        "securityDefinitions": {SECURITY_NAME: SECURITY_SCHEME},
        "security": [{SECURITY_NAME: []}],
    }


@functools.cache
def openapi_v2() -> bytes:
    """``/openapi/v2`` as JSON."""
    return _encode(openapi_v2_document())


@functools.cache
def openapi_v2_protobuf() -> bytes:
    """``/openapi/v2`` as gnostic protobuf, the form client-go asks for."""
    return encode_document(openapi_v2_document())


# --- OpenAPI 3.0 ------------------------------------------------------------------------------

V3_REF_PREFIX = "#/components/schemas/"
# kube-openapi publishes these two with OpenAPIV3OneOfTypes instead of a single type; that
# is also what makes `kubectl explain` print <IntOrString> and <Quantity> for such fields.
V3_ONE_OF_TYPES = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": ("integer", "string"),
    "io.k8s.apimachinery.pkg.api.resource.Quantity": ("string", "number"),
}


def _v3_definition(name: str) -> Any:
    converted = _v3_schema(schemas.definition(name))
    if name in V3_ONE_OF_TYPES:
        converted.pop("type", None)
        converted["oneOf"] = [{"type": t} for t in V3_ONE_OF_TYPES[name]]
    return converted


def _v3_schema(node: Any) -> Any:
    """A v2 schema in v3 form: refs point into ``components``, and a ``$ref`` with siblings
    (a field's description) becomes ``allOf: [{$ref}]`` as in kube's v3 documents."""
    if isinstance(node, list):
        return [_v3_schema(v) for v in node]
    if not isinstance(node, Mapping):
        return node
    out: Doc = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "properties":
            out[key] = {name: _v3_schema(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = _v3_schema(value)
        else:
            out[key] = value
    target = schemas.ref_name(node)
    if target is None:
        return out
    ref = {"$ref": V3_REF_PREFIX + target}
    return {"allOf": [ref], **out} if out else ref


def _v3_param(param: Param) -> Doc:
    out: Doc = {
        "name": param.name,
        "in": param.location,
        "description": param.description,
        "schema": {"type": param.type, "uniqueItems": True},
    }
    if param.required:
        out["required"] = True
    return out


def _v3_operation(op: Operation) -> Doc:
    out: Doc = {
        "tags": [op.tag],
        "description": op.description,
        "operationId": op.operation_id,
        "parameters": [_v3_param(p) for p in op.params],
    }
    if op.body:
        ref = {"$ref": V3_REF_PREFIX + op.body}
        out["requestBody"] = {
            "content": {content_type: {"schema": ref} for content_type in op.consumes},
            "required": op.method != "delete",
        }
    responses: Doc = {}
    for code, name in op.responses:
        response: Doc = {"description": _status_text(code)}
        if name:
            ref = {"$ref": V3_REF_PREFIX + name}
            response["content"] = {t: {"schema": ref} for t in PRODUCES}
        responses[code] = response
    out["responses"] = responses
    out["x-kubernetes-action"] = op.action
    out["x-kubernetes-group-version-kind"] = _gvk_extension(op)
    return out


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


@functools.cache
def _v3_groups() -> Mapping[str, tuple[PathItem, ...]]:
    groups: dict[str, list[PathItem]] = {}
    for item in _paths():
        groups.setdefault(_gv_path(item.group, item.version), []).append(item)
    return {path: tuple(items) for path, items in groups.items()}


@functools.cache
def _v3_group_bytes(gv_path: str) -> bytes | None:
    items = _v3_groups().get(gv_path)
    if items is None:
        return None
    paths: Doc = {}
    for item in items:
        entry: Doc = {op.method: _v3_operation(op) for op in item.operations}
        entry["parameters"] = [_v3_param(p) for p in item.params]
        paths["/" + item.path.lstrip("/")] = entry
    names = _referenced(_operation_definitions(items))
    doc = {
        "openapi": "3.0.0",
        "info": _info(),
        "paths": paths,
        "components": {
            "schemas": {name: _v3_definition(name) for name in names},
            "securitySchemes": {SECURITY_NAME: SECURITY_SCHEME},
        },
        "security": [{SECURITY_NAME: []}],
    }
    return _encode(doc)


def openapi_v3_group(path: str) -> bytes | None:
    """The v3 document of one group-version: ``api/v1`` or ``apis/<group>/<version>``
    (with or without the ``/openapi/v3/`` prefix); None for an unknown group-version."""
    key = path.split("?", 1)[0].removeprefix("/").removeprefix("openapi/v3/").strip("/")
    return _v3_group_bytes(key)


@functools.cache
def openapi_v3_index() -> bytes:
    """``/openapi/v3``: where each group-version document lives, addressed by its hash."""
    entries = {}
    for gv_path in sorted(_v3_groups()):
        body = _v3_group_bytes(gv_path)
        assert body is not None
        entries[gv_path] = {"serverRelativeURL": f"/openapi/v3/{gv_path}?hash={_hash(body)}"}
    return _encode({"paths": entries})


# --- HTTP ---------------------------------------------------------------------------------------


class OpenAPIResponse(NamedTuple):
    """What to answer: unpacks as ``status, content_type, body``; see :attr:`etag`."""

    status: int
    content_type: str
    body: bytes

    @property
    def etag(self) -> str:
        """The quoted ETag kube sends: the upper-case hex SHA-512 of the document."""
        return openapi_etag(self.body)


@functools.lru_cache(maxsize=64)
def openapi_etag(body: bytes) -> str:
    """The quoted ETag of a document body (bytes objects cache their hash, so repeated calls
    with the cached document bytes are cheap)."""
    return f'"{_hash(body)}"'


def openapi_response(
    path: str, accept: str = "", if_none_match: str = ""
) -> OpenAPIResponse | None:
    """Answer a GET under ``/openapi/``: ``/openapi/v2``, ``/openapi/v3`` or
    ``/openapi/v3/<group-version>``. None when the path is not an OpenAPI document.

    ``/openapi/v2`` is protobuf when the client asks for it (kubectl always does), else JSON.
    A matching ``If-None-Match`` gets 304 with an empty body.
    """
    path = path.split("?", 1)[0].rstrip("/")
    if path == "/openapi/v2":
        if V2_PROTOBUF_PREFIX in accept:
            found = OpenAPIResponse(200, V2_PROTOBUF_TYPE, openapi_v2_protobuf())
        else:
            found = OpenAPIResponse(200, JSON_TYPE, openapi_v2())
    elif path == "/openapi/v3":
        found = OpenAPIResponse(200, JSON_TYPE, openapi_v3_index())
    elif path.startswith("/openapi/v3/"):
        body = openapi_v3_group(path)
        if body is None:
            return None
        found = OpenAPIResponse(200, JSON_TYPE, body)
    else:
        return None
    if if_none_match and found.etag in (t.strip() for t in if_none_match.split(",")):
        return OpenAPIResponse(304, found.content_type, b"")
    return found
