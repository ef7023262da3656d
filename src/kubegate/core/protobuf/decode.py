"""Schema-driven decoding of an enveloped object into the JSON form Go would print."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from .schema import (
    SCALAR_TYPES,
    SPECIAL_TYPES,
    STRUCT_SPECIALS,
    VARINT_SCALARS,
    Field,
    Label,
    Message,
    Presence,
    SchemaSet,
    expected_wire,
)
from .wire import (
    LEN,
    VARINT,
    WIRE_NAMES,
    ProtobufDecodeError,
    iter_fields,
    read_varint,
    scalar,
    show,
)

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
# Deeper than any Kubernetes type nests; bounds recursion on hostile self-referencing bodies.
MAX_DEPTH = 100

# metav1.Time of Go's zero time.Time (0001-01-01T00:00:00Z) in Unix seconds.
_GO_ZERO_TIME_SECONDS = -62135596800
_LAST_SECOND_OF_9999 = 253402300799
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# resource.Quantity grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go).
_QUANTITY_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?")


def decode(body: bytes, schemas: SchemaSet) -> tuple[dict[str, Any], list[str]]:
    """Decode a ``k8s\\x00``-prefixed body into its JSON dict and the unknown-field reports."""
    decoder = _Decoder(schemas)
    return decoder.object(body), decoder.unknown


def decode_message(
    data: bytes, message: str, schemas: SchemaSet
) -> tuple[dict[str, Any], list[str]]:
    """Decode a bare message (no envelope) of the named type."""
    decoder = _Decoder(schemas)
    return decoder.message(data, schemas.messages[message], ""), decoder.unknown


def _format_time(seconds: int, nanos: int, micro: bool, path: str) -> str | None:
    seconds, nanos = seconds + nanos // 1_000_000_000, nanos % 1_000_000_000
    if seconds == _GO_ZERO_TIME_SECONDS and nanos == 0:
        return None  # Go's zero time.Time: JSON null
    if not _GO_ZERO_TIME_SECONDS <= seconds <= _LAST_SECOND_OF_9999:
        # Go's Time.MarshalJSON refuses years outside [0, 9999] too.
        raise ProtobufDecodeError(f"timestamp {seconds}s at {show(path)} is out of range")
    moment = _EPOCH + timedelta(seconds=seconds)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if micro:  # metav1.MicroTime: RFC3339Micro, truncated like Go's time.Format
        text += f".{nanos // 1000:06d}"
    return text + "Z"


# --- schema-driven decoding --------------------------------------------------------------------


class _Decoder:
    """One decode run: the schema in use and the unknown fields seen so far."""

    def __init__(self, schemas: SchemaSet, depth: int = 0) -> None:
        self.schemas = schemas
        self.unknown: list[str] = []
        self.depth = depth

    def object(self, body: bytes) -> dict[str, Any]:
        """Decode an enveloped object, typeMeta first as Go's JSON prints it."""
        if not body.startswith(MAGIC):
            raise ProtobufDecodeError(
                "body does not start with the Kubernetes protobuf magic k8s\\x00"
            )
        api_version, kind, raw = self.envelope(body[len(MAGIC) :])
        obj = self.message(raw, self.schemas.message_for(api_version, kind), "")
        typed: dict[str, Any] = {"kind": kind}
        if api_version:
            typed["apiVersion"] = api_version
        typed.update(obj)
        return typed

    def envelope(self, data: bytes) -> tuple[str, str, bytes]:
        api_version = kind = encoding = content_type = ""
        raw = b""
        for number, wire, value in iter_fields(data, "<envelope>"):
            if number > 4:
                self.unknown.append(f"unknown field {number} in the protobuf envelope")
                continue
            if not isinstance(value, bytes):
                raise ProtobufDecodeError(f"envelope field {number} has wire type {wire}")
            if number == 1:
                for sub, sub_wire, sub_value in iter_fields(value, "<envelope>.typeMeta"):
                    if sub > 2:
                        continue
                    if not isinstance(sub_value, bytes):
                        raise ProtobufDecodeError(
                            f"envelope typeMeta field {sub} has wire type {sub_wire}"
                        )
                    if sub == 1:
                        api_version = scalar("string", sub_value)
                    else:
                        kind = scalar("string", sub_value)
            elif number == 2:
                raw = value
            elif number == 3:
                encoding = scalar("string", value)
            else:
                content_type = scalar("string", value)
        if encoding:
            raise ProtobufDecodeError(f"unsupported protobuf contentEncoding {encoding!r}")
        if content_type not in ("", MEDIA_TYPE):
            raise ProtobufDecodeError(f"unsupported protobuf contentType {content_type!r}")
        if not kind:
            raise ProtobufDecodeError("protobuf envelope names no kind")
        return api_version, kind, raw

    def message(self, data: bytes, message: Message, path: str) -> dict[str, Any]:
        self.depth += 1
        try:
            return self._message(data, message, path)
        finally:
            self.depth -= 1

    def _message(self, data: bytes, message: Message, path: str) -> dict[str, Any]:
        if self.depth > MAX_DEPTH:
            raise ProtobufDecodeError(f"object nests deeper than {MAX_DEPTH} at {show(path)}")
        seen: dict[int, list[tuple[int, int | bytes]]] = {}
        for number, wire, value in iter_fields(data, path):
            if number in message.fields:
                seen.setdefault(number, []).append((wire, value))
            else:
                self.unknown.append(f"unknown field {number} in {show(path)}")
        out: dict[str, Any] = {}
        for number, field in message.fields.items():
            occurrences = seen.get(number)
            if field.json_name is None:  # embedded struct: flattened into the parent
                out.update(self._value(field, occurrences or [], path))
                continue
            child = f"{path}.{field.json_name}"
            if occurrences is None:
                if field.presence is Presence.POINTER:
                    continue
                value = self._zero(field)
            else:
                value = self._value(field, occurrences, child)
            if field.presence is Presence.OMITEMPTY and self._is_empty(field, value):
                continue
            if field.presence is Presence.OMITZERO and value == self._zero(field):
                continue
            out[field.json_name] = value
        return out

    def _value(self, field: Field, occurrences: list[tuple[int, int | bytes]], path: str) -> Any:
        if field.label is Label.MAP:
            entries: dict[str, Any] = {}
            for wire, value in occurrences:
                _check_wire(field, wire, LEN, path)
                assert isinstance(value, bytes)
                key, item = self._map_entry(field, value, path)
                entries[key] = item
            return dict(sorted(entries.items()))  # encoding/json sorts map keys
        if field.label is Label.REPEATED:
            items: list[Any] = []
            for wire, value in occurrences:
                if wire == LEN and field.type in VARINT_SCALARS:  # packed encoding
                    assert isinstance(value, bytes)
                    pos = 0
                    while pos < len(value):
                        number, pos = read_varint(value, pos, path)
                        items.append(scalar(field.type, number))
                    continue
                _check_wire(field, wire, expected_wire(field.type), path)
                items.append(self._single(field.type, [value], f"{path}[{len(items)}]"))
            return items
        if field.type in SCALAR_TYPES:
            wire, value = occurrences[-1]  # last one wins, as in every protobuf decoder
            _check_wire(field, wire, expected_wire(field.type), path)
            return scalar(field.type, value)
        for wire, _ in occurrences:
            _check_wire(field, wire, LEN, path)
        return self._single(field.type, [value for _, value in occurrences], path)

    def _single(self, type_name: str, chunks: list[int | bytes], path: str) -> Any:
        """Decode one value of a length-delimited type; repeated chunks of a message merge."""
        if type_name in SCALAR_TYPES:
            return scalar(type_name, chunks[-1])
        data = b"".join(chunk for chunk in chunks if isinstance(chunk, bytes))
        if type_name in SPECIAL_TYPES:
            return self._special(type_name, data, path)
        return self.message(data, self.schemas.messages[type_name], path)

    def _map_entry(self, field: Field, data: bytes, path: str) -> tuple[str, Any]:
        """Decode one map entry message {1: key, 2: value}; the last key or value wins."""
        key = ""
        values: list[int | bytes] = []
        value_wire = expected_wire(field.type)
        for number, wire, value in iter_fields(data, path):
            if number == 1:
                if not isinstance(value, bytes):
                    raise ProtobufDecodeError(f"map key in {path} has wire type {wire}")
                key = scalar("string", value)
            elif number == 2:
                if wire != value_wire:
                    raise ProtobufDecodeError(
                        f"map value in {path} has wire type {wire}, "
                        f"expected {WIRE_NAMES[value_wire]}"
                    )
                values.append(value)
            else:
                self.unknown.append(f"unknown field {number} in {path}")
        if not values:
            return key, _zero_of(field.type, self)
        return key, self._single(field.type, values, f"{path}[{key}]")

    def _special(self, type_name: str, data: bytes, path: str) -> Any:
        fields: dict[int, int | bytes] = {}
        items: list[str] = []
        for number, wire, value in iter_fields(data, path):
            wanted = _SPECIAL_FIELDS[type_name].get(number)
            if wanted is None:
                self.unknown.append(f"unknown field {number} in {show(path)}")
                continue
            if wire != wanted:
                raise ProtobufDecodeError(
                    f"field {number} of {type_name} at {show(path)} has wire type {wire}, "
                    f"expected {WIRE_NAMES[wanted]}"
                )
            if type_name == "stringlist":
                items.append(scalar("string", value))
            fields[number] = value
        if type_name in ("time", "microtime"):
            if not data:
                return None  # metav1.Time marshals the zero time as an empty message
            seconds = scalar("int64", fields.get(1, 0))
            nanos = scalar("int32", fields.get(2, 0)) if type_name == "microtime" else 0
            return _format_time(seconds, nanos, type_name == "microtime", path)
        if type_name == "intstr":
            kind = scalar("int64", fields.get(1, 0))
            if kind == 0:
                return scalar("int32", fields.get(2, 0))
            if kind == 1:
                return scalar("string", fields.get(3, b""))
            raise ProtobufDecodeError(f"IntOrString at {show(path)} has invalid type {kind}")
        if type_name == "quantity":
            text = scalar("string", fields[1]) if 1 in fields else "0"
            if not _QUANTITY_RE.fullmatch(text):
                raise ProtobufDecodeError(f"invalid quantity {text!r} at {show(path)}")
            return text
        if type_name == "stringlist":
            return items or None
        raw = fields.get(1, b"")  # rawextension, fieldsv1
        assert isinstance(raw, bytes)
        return self._embedded_json(raw, path)

    def _embedded_json(self, raw: bytes, path: str) -> Any:
        if not raw:
            return None
        if raw.startswith(MAGIC):  # a nested protobuf object (runtime.RawExtension)
            nested = _Decoder(self.schemas, self.depth)
            obj = nested.object(raw)
            self.unknown.extend(f"{report} (embedded at {show(path)})" for report in nested.unknown)
            return obj
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ProtobufDecodeError(f"embedded JSON at {show(path)} is invalid: {exc}") from exc

    def _zero(self, field: Field) -> Any:
        if field.label is not Label.SINGULAR:
            return None  # a nil slice or map prints as null
        return _zero_of(field.type, self)

    def _is_empty(self, field: Field, value: Any) -> bool:
        if field.label is not Label.SINGULAR or field.type in ("bytes", "stringlist"):
            return not value
        if field.type in STRUCT_SPECIALS or field.type not in SCALAR_TYPES | SPECIAL_TYPES:
            return False  # a struct is never empty to encoding/json
        return value in ("", 0, False)


def _zero_of(type_name: str, decoder: _Decoder) -> Any:
    """The JSON form of a Go zero value of the type."""
    if type_name == "string":
        return ""
    if type_name == "bool":
        return False
    if type_name in ("double", "float"):
        return 0.0
    if type_name in VARINT_SCALARS or type_name == "intstr":
        return 0
    if type_name == "quantity":
        return "0"
    if type_name in SCALAR_TYPES | SPECIAL_TYPES:
        return None  # bytes, time, microtime, rawextension, fieldsv1, stringlist
    return decoder.message(b"", decoder.schemas.messages[type_name], "")


def _check_wire(field: Field, wire: int, expected: int, path: str) -> None:
    if wire != expected:
        raise ProtobufDecodeError(
            f"field {field.number} ({show(path)}) has wire type {wire}, "
            f"expected {WIRE_NAMES[expected]}"
        )


_SPECIAL_FIELDS: dict[str, dict[int, int]] = {
    "time": {1: VARINT, 2: VARINT},  # seconds, nanos
    "microtime": {1: VARINT, 2: VARINT},
    "intstr": {1: VARINT, 2: VARINT, 3: LEN},  # type, intVal, strVal
    "quantity": {1: LEN},  # string
    "rawextension": {1: LEN},  # raw
    "fieldsv1": {1: LEN},  # Raw
    "stringlist": {1: LEN},  # items
}
