"""Protocol-buffer encoding of a Swagger 2.0 document, as gnostic's ``openapi.v2.Document``.

client-go fetches ``/openapi/v2`` only as protobuf (``discovery.OpenAPISchema`` sends
``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and calls
``proto.Unmarshal`` on whatever comes back), and kubectl loads that document for
``--validate`` before it even checks whether the server validates fields itself. So the v2
document must be served as protobuf.

This is a small hand-written encoder for the subset of the schema kubegate's documents use,
with field numbers from google/gnostic ``openapiv2/OpenAPIv2.proto``. Vendor extensions are
``NamedAny`` values whose ``yaml`` holds the value as JSON text (JSON is YAML, and that is
what kube-openapi's parsers read back). Keys the encoder does not know are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["encode_document"]

_VARINT, _LEN = 0, 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _bytes(number: int, payload: bytes) -> bytes:
    return _tag(number, _LEN) + _varint(len(payload)) + payload


def _string(number: int, value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        return b""
    return _bytes(number, value.encode("utf-8"))


def _strings(number: int, values: Any) -> bytes:
    if isinstance(values, str):
        values = [values]
    return b"".join(_bytes(number, v.encode("utf-8")) for v in values or () if isinstance(v, str))


def _bool(number: int, value: Any, *, always: bool = False) -> bytes:
    if not value and not always:
        return b""
    return _tag(number, _VARINT) + _varint(1 if value else 0)


def _message(number: int, payload: bytes) -> bytes:
    """An embedded message; emitted even when empty, since presence is meaningful."""
    return _bytes(number, payload)


def _any(value: Any) -> bytes:
    """gnostic ``Any``: field 2 is the value as YAML text."""
    return _string(2, json.dumps(value, separators=(",", ":"), sort_keys=True))


def _vendor_extensions(number: int, obj: Mapping[str, Any]) -> bytes:
    return b"".join(
        _message(number, _string(1, key) + _message(2, _any(value)))
        for key, value in sorted(obj.items())
        if key.startswith("x-")
    )


def _named(number: int, items: Iterable[tuple[str, bytes]]) -> bytes:
    return b"".join(_message(number, _string(1, name) + _message(2, body)) for name, body in items)


# --- schema -------------------------------------------------------------------------------------


def _schema(schema: Mapping[str, Any]) -> bytes:
    out = [
        _string(1, schema.get("$ref")),
        _string(2, schema.get("format")),
        _string(3, schema.get("title")),
        _string(4, schema.get("description")),
    ]
    if "default" in schema:
        out.append(_message(5, _any(schema["default"])))
    out.append(_strings(19, schema.get("required")))
    for value in schema.get("enum", ()):
        out.append(_message(20, _any(value)))
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        out.append(_message(21, _message(1, _schema(extra))))
    elif isinstance(extra, bool):
        out.append(_message(21, _bool(2, extra, always=True)))
    if "type" in schema:
        out.append(_message(22, _strings(1, schema["type"])))
    items = schema.get("items")
    if isinstance(items, Mapping):
        items = [items]
    if items:
        out.append(_message(23, b"".join(_message(1, _schema(item)) for item in items)))
    for part in schema.get("allOf", ()):
        out.append(_message(24, _schema(part)))
    properties = schema.get("properties")
    if properties:
        out.append(_message(25, _named(1, ((k, _schema(v)) for k, v in properties.items()))))
    out.append(_bool(27, schema.get("readOnly")))
    out.append(_vendor_extensions(31, schema))
    return b"".join(out)


# --- operations ----------------------------------------------------------------------------------


def _parameter(param: Mapping[str, Any]) -> bytes:
    """A ``ParametersItem`` (field 1: ``Parameter``)."""
    location = param.get("in", "")
    if location == "body":
        body = (
            _string(1, param.get("description"))
            + _string(2, param.get("name"))
            + _string(3, location)
            + _bool(4, param.get("required"))
            + _message(5, _schema(param.get("schema", {})))
        )
        return _message(1, _message(1, body))
    common = (
        _bool(1, param.get("required"))
        + _string(2, location)
        + _string(3, param.get("description"))
        + _string(4, param.get("name"))
    )
    if location == "query":  # QueryParameterSubSchema: type 6, uniqueItems 20
        sub = common + _string(6, param.get("type")) + _bool(20, param.get("uniqueItems"))
        choice = 3
    elif location in ("path", "header"):  # Path/HeaderParameterSubSchema: type 5, unique 19
        sub = common + _string(5, param.get("type")) + _bool(19, param.get("uniqueItems"))
        choice = 4 if location == "path" else 1
    else:
        return b""
    return _message(1, _message(2, _message(choice, sub)))


def _parameters(number: int, params: Iterable[Mapping[str, Any]]) -> bytes:
    out = []
    for param in params:
        if "$ref" in param:
            out.append(_message(number, _message(2, _string(1, param["$ref"]))))
        else:
            out.append(_message(number, _parameter(param)))
    return b"".join(out)


def _responses(responses: Mapping[str, Any]) -> bytes:
    out = []
    for code, response in responses.items():
        body = _string(1, response.get("description"))
        if "schema" in response:
            body += _message(2, _message(1, _schema(response["schema"])))
        body += _vendor_extensions(5, response)
        out.append(_message(1, _string(1, code) + _message(2, _message(1, body))))
    return b"".join(out)


def _operation(op: Mapping[str, Any]) -> bytes:
    return b"".join(
        [
            _strings(1, op.get("tags")),
            _string(2, op.get("summary")),
            _string(3, op.get("description")),
            _string(5, op.get("operationId")),
            _strings(6, op.get("produces")),
            _strings(7, op.get("consumes")),
            _parameters(8, op.get("parameters", ())),
            _message(9, _responses(op.get("responses", {}))),
            _strings(10, op.get("schemes")),
            _bool(11, op.get("deprecated")),
            _vendor_extensions(13, op),
        ]
    )


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: Mapping[str, Any]) -> bytes:
    out = [_string(1, item.get("$ref"))]
    for method, number in _METHODS.items():
        if method in item:
            out.append(_message(number, _operation(item[method])))
    out.append(_parameters(9, item.get("parameters", ())))
    out.append(_vendor_extensions(10, item))
    return b"".join(out)


# --- document ------------------------------------------------------------------------------------


def _security_definitions(defs: Mapping[str, Any]) -> bytes:
    out = []
    for name, scheme in defs.items():
        if scheme.get("type") != "apiKey":
            continue
        api_key = (
            _string(1, "apiKey")
            + _string(2, scheme.get("name"))
            + _string(3, scheme.get("in"))
            + _string(4, scheme.get("description"))
        )
        out.append(_message(1, _string(1, name) + _message(2, _message(2, api_key))))
    return b"".join(out)


def _security(requirements: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(
        _message(12, _named(1, ((name, _strings(1, scopes)) for name, scopes in req.items())))
        for req in requirements
    )


def encode_document(doc: Mapping[str, Any]) -> bytes:
    """Encode a Swagger 2.0 document (as a JSON-shaped mapping) as ``openapi.v2.Document``."""
    info = doc.get("info", {})
    paths = doc.get("paths", {})
    definitions = doc.get("definitions", {})
    return b"".join(
        [
            _string(1, doc.get("swagger")),
            _message(
                2,
                _string(1, info.get("title"))
                + _string(2, info.get("version"))
                + _string(3, info.get("description")),
            ),
            _string(3, doc.get("host")),
            _string(4, doc.get("basePath")),
            _strings(5, doc.get("schemes")),
            _strings(6, doc.get("consumes")),
            _strings(7, doc.get("produces")),
            _message(8, _named(2, ((p, _path_item(item)) for p, item in paths.items()))),
            _message(9, _named(1, ((n, _schema(s)) for n, s in definitions.items()))),
            _security(doc.get("security", ())),
            _message(13, _security_definitions(doc.get("securityDefinitions", {}))),
            _vendor_extensions(16, doc),
        ]
    )
