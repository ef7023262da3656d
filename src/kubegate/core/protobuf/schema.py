"""The schema vocabulary: message and field descriptions, and the checks a SchemaSet passes.

The tables themselves live in :mod:`kubegate.api.protobuf_schema`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from .wire import I32, I64, LEN, MAX_FIELD_NUMBER, VARINT, ProtobufDecodeError

VARINT_SCALARS = frozenset({"bool", "int32", "int64", "uint32", "uint64"})
SCALAR_TYPES = VARINT_SCALARS | {"string", "bytes", "double", "float"}
SPECIAL_TYPES = frozenset(
    {"time", "microtime", "intstr", "quantity", "rawextension", "fieldsv1", "stringlist"}
)
# Types that are Go structs: `omitempty` never drops them (encoding/json only empties
# false, 0, "", nil and zero-length slices, maps and strings).
STRUCT_SPECIALS = frozenset({"time", "microtime", "intstr", "quantity", "rawextension", "fieldsv1"})


class UnknownKindError(ProtobufDecodeError):
    """The envelope names an (apiVersion, kind) that has no protobuf schema here."""


class Presence(enum.Enum):
    """When a field appears in the JSON form (mirrors the Go field type and json tag)."""

    OMITEMPTY = "omitempty"
    ALWAYS = "always"
    POINTER = "ptr"
    OMITZERO = "omitzero"


class Label(enum.Enum):
    """Cardinality of a field on the wire."""

    SINGULAR = "singular"
    REPEATED = "repeated"
    MAP = "map"  # map<string, type>: entries {1: key, 2: value}


@dataclass(frozen=True, slots=True)
class Field:
    """One protobuf field: its number, JSON name (None for an inline struct) and type."""

    number: int
    json_name: str | None
    type: str  # a SCALAR_TYPES or SPECIAL_TYPES name, or a message name
    label: Label = Label.SINGULAR
    presence: Presence = Presence.OMITEMPTY


@dataclass(frozen=True, slots=True)
class Message:
    """A message type: fields by number, in Go struct order (the JSON key order)."""

    name: str
    fields: Mapping[int, Field]


@dataclass(frozen=True, slots=True)
class SchemaSet:
    """All message types, and the message for each top-level (apiVersion, kind).

    Checked on construction: every field type resolves, inline fields are singular messages,
    and no message contains itself by value (Go forbids that; it would recurse forever here).
    """

    messages: Mapping[str, Message]
    kinds: Mapping[tuple[str, str], str]

    def __post_init__(self) -> None:
        _check_schema(self)

    def message_for(self, api_version: str, kind: str) -> Message:
        """Return the message type of a top-level object, or raise UnknownKindError."""
        name = self.kinds.get((api_version, kind))
        if name is None:
            raise UnknownKindError(
                f"no protobuf decoding for kind {kind!r} in version {api_version!r}"
            )
        return self.messages[name]


def expected_wire(type_name: str) -> int:
    """The wire type a value of the type is sent with."""
    if type_name in VARINT_SCALARS:
        return VARINT
    if type_name == "double":
        return I64
    if type_name == "float":
        return I32
    return LEN


def _check_schema(schemas: SchemaSet) -> None:
    for name, message in schemas.messages.items():
        if name != message.name:
            raise ValueError(f"message {message.name!r} registered as {name!r}")
        for number, field in message.fields.items():
            where = f"{name} field {number}"
            if number != field.number or not 0 < number <= MAX_FIELD_NUMBER:
                raise ValueError(f"{where}: bad field number {field.number}")
            known = field.type in SCALAR_TYPES or field.type in SPECIAL_TYPES
            if not known and field.type not in schemas.messages:
                raise ValueError(f"{where}: unknown type {field.type!r}")
            if field.json_name is None and (known or field.label is not Label.SINGULAR):
                raise ValueError(f"{where}: only a singular message can be inline")
    for (api_version, kind), name in schemas.kinds.items():
        if name not in schemas.messages:
            raise ValueError(f"{api_version} {kind}: unknown message {name!r}")
    _check_no_value_cycles(schemas)


def _check_no_value_cycles(schemas: SchemaSet) -> None:
    """Reject a message that contains itself by value: its zero value would never end."""
    done: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in stack:
            raise ValueError(f"message {name} contains itself by value: {' -> '.join(stack)}")
        if name in done:
            return
        for field in schemas.messages[name].fields.values():
            by_value = field.label is Label.SINGULAR and field.presence is not Presence.POINTER
            if by_value and field.type in schemas.messages:
                visit(field.type, (*stack, name))
        done.add(name)

    for name in schemas.messages:
        visit(name, ())
