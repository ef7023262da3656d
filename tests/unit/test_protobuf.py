"""Kubernetes protobuf decoding (kubegate.core.protobuf) on hand-built wire bytes."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from kubegate.api.protobuf_schema import parse_messages
from kubegate.core.protobuf import (
    MAGIC,
    MAX_DEPTH,
    ProtobufDecodeError,
    SchemaSet,
    UnknownKindError,
    decode,
    decode_message,
)

# --- a tiny encoder, just enough to build test bodies ----------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vf(number: int, value: int) -> bytes:
    """A varint field."""
    return key(number, 0) + varint(value)


def lf(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field."""
    data = payload.encode() if isinstance(payload, str) else payload
    return key(number, 2) + varint(len(data)) + data


def entry(name: str, value: bytes) -> bytes:
    """The payload of one map entry whose value is already an encoded field 2."""
    return lf(1, name) + value


def envelope(api_version: str, kind: str, raw: bytes, *extra: bytes) -> bytes:
    return MAGIC + lf(1, lf(1, api_version) + lf(2, kind)) + lf(2, raw) + b"".join(extra)


SCHEMAS = SchemaSet(
    messages=parse_messages(
        """
        message test.Thing
            1  name      string
            2  count     int32         always
            3  limit     int64         ptr
            4  enabled   bool          ptr
            5  flag      bool
            6  ratio     double
            7  blob      bytes
            8  tags      []string
            9  labels    map[string]
           10  data      map[bytes]
           11  created   time          omitzero
           12  updated   time
           13  seen      microtime     ptr
           14  port      intstr
           15  size      quantity
           16  extra     map[stringlist]
           17  raw       rawextension
           18  fields    fieldsv1      ptr
           19  child     test.Child
           20  children  []test.Child
           21  opt       test.Child    ptr
           22  inline    test.Embedded
           23  numbers   []int64
           24  blobs     []bytes
           25  unsigned  uint32
           26  small     float
           27  limits    map[quantity]
           28  items     []string      always
           29  total     uint64
        message test.Child
            1  name  string  always
            2  port  int32
            3  next  test.Child  ptr   # a pointer may refer to its own type
        message test.Embedded
            1  note  string
        """
    ),
    kinds={("test.example/v1", "Thing"): "test.Thing"},
)

EMPTY_THING = {
    "count": 0,
    "updated": None,
    "port": 0,
    "size": "0",
    "raw": None,
    "child": {"name": ""},
    "items": None,
}


def thing(*fields: bytes) -> dict[str, Any]:
    """Decode a test.Thing from its fields, asserting no unknown field was reported."""
    obj, unknown = decode_message(b"".join(fields), "test.Thing", SCHEMAS)
    assert unknown == []
    return obj


def changed(obj: dict[str, Any]) -> dict[str, Any]:
    """The keys of a decoded test.Thing that differ from the empty one."""
    return {k: v for k, v in obj.items() if EMPTY_THING.get(k, ...) != v}


# --- envelope ------------------------------------------------------------------------------


def test_envelope_sets_kind_and_api_version_first():
    """kind and apiVersion come from typeMeta and lead the object, as Go's JSON prints them."""
    obj, unknown = decode(envelope("test.example/v1", "Thing", lf(1, "a")), SCHEMAS)
    assert list(obj)[:3] == ["kind", "apiVersion", "name"]
    assert obj["kind"] == "Thing" and obj["apiVersion"] == "test.example/v1"
    assert unknown == []


def test_envelope_with_empty_raw_decodes_the_zero_object():
    """An object with every field at its zero value has an empty raw message."""
    obj, _ = decode(envelope("test.example/v1", "Thing", b""), SCHEMAS)
    assert obj == {"kind": "Thing", "apiVersion": "test.example/v1", **EMPTY_THING}


def test_envelope_reports_its_own_unknown_fields():
    """Fields past contentType in runtime.Unknown are reported, not fatal."""
    body = envelope("test.example/v1", "Thing", b"", lf(9, "x"))
    assert decode(body, SCHEMAS)[1] == ["unknown field 9 in the protobuf envelope"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "magic"),
        (b"k8s", "magic"),
        (b'{"kind":"Thing"}', "magic"),
        (b"k8s\x01" + lf(2, b""), "magic"),
        (MAGIC + lf(2, b""), "no kind"),
        (MAGIC + lf(1, lf(1, "test.example/v1")), "no kind"),
        (envelope("test.example/v1", "Thing", b"", lf(3, "gzip")), "contentEncoding"),
        (envelope("test.example/v1", "Thing", b"", lf(4, "application/json")), "contentType"),
        (MAGIC + vf(1, 5), "wire type"),
        (MAGIC + lf(1, vf(2, 5)), "wire type"),
        (MAGIC + b"\x0a\x05ab", "remain"),
    ],
)
def test_malformed_envelope_is_rejected(body: bytes, message: str):
    """A body that is not a well-formed envelope raises ProtobufDecodeError."""
    with pytest.raises(ProtobufDecodeError, match=message):
        decode(body, SCHEMAS)


def test_unknown_kind_has_its_own_error():
    """A well-formed envelope of an unserved kind raises UnknownKindError, a ProtobufDecodeError."""
    with pytest.raises(UnknownKindError, match=r"'Widget' in version 'test\.example/v1'"):
        decode(envelope("test.example/v1", "Widget", b""), SCHEMAS)
    assert issubclass(UnknownKindError, ProtobufDecodeError)
    assert issubclass(ProtobufDecodeError, ValueError)


# --- malformed wire data -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x10", "truncated varint"),
        (b"\x10\x80\x80", "truncated varint"),
        (b"\x80", "truncated varint"),
        (b"\x10" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),
        (b"\x10" + b"\xff" * 9 + b"\x81\x00", "longer than 10 bytes"),
        (b"\x10" + b"\xff" * 9 + b"\x02", "overflows 64 bits"),
        (b"\x0a\x05abc", "claims 5 bytes, only 3 remain"),
        (b"\x0a\xff\xff\xff\xff\x0f", "only 0 remain"),
        (b"\x00\x00", "invalid field number 0"),
        (key(1, 3), "wire type 3"),
        (key(1, 4), "wire type 4"),
        (key(1, 6), "wire type 6"),
        (key(1, 7), "wire type 7"),
        (key(6, 1) + b"\x00" * 7, "truncated 64-bit"),
        (key(26, 5) + b"\x00" * 3, "truncated 32-bit"),
        (vf(1, 3), r"field 1 \(\.name\) has wire type 0, expected length-delimited"),
        (lf(2, b"\x01"), r"field 2 \(\.count\) has wire type 2, expected varint"),
        (key(6, 5) + b"\x00" * 4, "expected 64-bit"),
        (vf(19, 1), r"\.child\) has wire type 0"),
        (lf(20, lf(2, b"x")), r"\.children\[0\]\.port"),
        (lf(9, lf(1, "k") + vf(2, 1)), r"map value in \.labels has wire type 0"),
        (lf(9, vf(1, 1)), r"map key in \.labels"),
        (lf(14, vf(1, 7)), "IntOrString at .port has invalid type 7"),
        (lf(15, lf(1, "12 apples")), "invalid quantity '12 apples' at .size"),
        (lf(15, lf(1, "")), "invalid quantity '' at .size"),
        (lf(11, vf(1, 300_000_000_000)), "timestamp 300000000000s at .created is out of range"),
        (lf(11, vf(1, -(1 << 62))), "out of range"),
        (lf(11, lf(1, b"x")), "field 1 of time at .created has wire type 2"),
        (lf(17, lf(1, b"{not json")), "embedded JSON at .raw is invalid"),
        (lf(19, b"\x0a\x09short"), r"at \.child"),
    ],
)
def test_malformed_message_is_rejected(data: bytes, message: str):
    """Truncated, overlong or mistyped wire data raises ProtobufDecodeError naming the place."""
    with pytest.raises(ProtobufDecodeError, match=message):
        decode_message(data, "test.Thing", SCHEMAS)


# --- scalars -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (lf(1, "héllo"), {"name": "héllo"}),
        (lf(1, b"bad \xff byte"), {"name": "bad \ufffd byte"}),
        (vf(2, 7), {"count": 7}),
        (vf(2, -1), {"count": -1}),
        (vf(2, 1 << 32 | 5), {"count": 5}),  # int32 keeps the low 32 bits, as Go does
        (vf(3, -(1 << 63)), {"limit": -(1 << 63)}),
        (vf(3, 1 << 40), {"limit": 1 << 40}),
        (vf(5, 2), {"flag": True}),
        (key(6, 1) + struct.pack("<d", 0.25), {"ratio": 0.25}),
        (key(26, 5) + struct.pack("<f", 1.5), {"small": 1.5}),
        (vf(25, (1 << 32) + 9), {"unsigned": 9}),
        (vf(29, (1 << 64) - 1), {"total": (1 << 64) - 1}),
        (lf(7, b"\x00\xffhi"), {"blob": "AP9oaQ=="}),
        (lf(24, b"ab") + lf(24, b""), {"blobs": ["YWI=", ""]}),
        (lf(8, "a") + lf(8, "b"), {"tags": ["a", "b"]}),
        (vf(23, 1) + vf(23, -2), {"numbers": [1, -2]}),
        (lf(23, varint(3) + varint(4) + varint(-5)), {"numbers": [3, 4, -5]}),
        (vf(23, 1) + lf(23, varint(2)), {"numbers": [1, 2]}),
    ],
)
def test_scalar_values(field: bytes, expected: dict[str, Any]):
    """Scalars decode to their Go value and JSON form; repeated numbers may be packed or not."""
    assert changed(thing(field)) == expected


def test_last_scalar_wins():
    """A singular scalar sent twice keeps the last value, as every protobuf decoder does."""
    assert thing(lf(1, "a"), lf(1, "b"))["name"] == "b"


def test_split_message_merges():
    """A singular message sent in two pieces is merged, as protobuf requires."""
    assert thing(lf(19, lf(1, "a")), lf(19, vf(2, 8)))["child"] == {"name": "a", "port": 8}


# --- presence: which fields the JSON form prints --------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (vf(3, 0), {"limit": 0}),  # pointer sent with zero: printed
        (vf(4, 0), {"enabled": False}),
        (lf(1, ""), {}),  # omitempty value at zero: dropped
        (vf(5, 0), {}),
        (lf(7, b""), {}),
        (lf(21, b""), {"opt": {"name": ""}}),  # pointer to an empty struct: printed
        (lf(28, "x"), {"items": ["x"]}),
        (lf(22, lf(1, "hi")), {"note": "hi"}),  # inline struct: flattened
    ],
)
def test_presence(field: bytes, expected: dict[str, Any]):
    """Pointers print when sent, omitempty values print when non-zero, inline structs flatten."""
    assert changed(thing(field)) == expected


def test_absent_fields_print_go_zero_values():
    """Without omitempty a field prints its zero value; omitempty never drops a struct."""
    assert thing() == EMPTY_THING


def test_empty_struct_keeps_its_always_fields():
    """A struct sent empty still prints its fields that have no omitempty."""
    assert thing(lf(20, b""))["children"] == [{"name": ""}]


def test_json_key_order_follows_the_schema():
    """Keys come out in Go struct order, whatever order the wire had them in."""
    assert list(thing(lf(8, "t"), lf(1, "n"))) == ["name", "count", "tags", *list(EMPTY_THING)[1:]]


# --- special encodings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (lf(12, vf(1, 1767323045)), {"updated": "2026-01-02T03:04:05Z"}),
        (lf(12, vf(1, 1767323045) + vf(2, 999)), {"updated": "2026-01-02T03:04:05Z"}),
        (lf(12, vf(1, -1)), {"updated": "1969-12-31T23:59:59Z"}),
        (lf(12, vf(1, -62135596800)), {}),  # Go's zero time.Time prints null
        (lf(12, vf(1, 0)), {"updated": "1970-01-01T00:00:00Z"}),
        (lf(11, vf(1, 1767323045)), {"created": "2026-01-02T03:04:05Z"}),
        (lf(11, b""), {}),  # omitzero: the zero time is dropped
        (lf(13, vf(1, 1767323045) + vf(2, 123456789)), {"seen": "2026-01-02T03:04:05.123456Z"}),
        (lf(13, vf(1, 1767323045) + vf(2, 999999999)), {"seen": "2026-01-02T03:04:05.999999Z"}),
        (lf(13, vf(1, 1767323045)), {"seen": "2026-01-02T03:04:05.000000Z"}),
        (lf(13, b""), {"seen": None}),  # a pointer to the zero time prints null
        (lf(14, vf(2, 8080)), {"port": 8080}),
        (lf(14, vf(1, 0) + vf(2, -3)), {"port": -3}),
        (lf(14, vf(1, 1) + lf(3, "http")), {"port": "http"}),
        (lf(14, vf(1, 1)), {"port": ""}),
        (lf(15, lf(1, "250m")), {"size": "250m"}),
        (lf(15, lf(1, "1.5Gi")), {"size": "1.5Gi"}),
        (lf(15, lf(1, "-1e3")), {"size": "-1e3"}),
        (lf(15, b""), {}),  # the zero Quantity prints "0"
        (lf(17, lf(1, b'{"a": [1]}')), {"raw": {"a": [1]}}),
        (lf(17, b""), {}),
        (lf(18, lf(1, b'{"f:data":{}}')), {"fields": {"f:data": {}}}),
        (lf(18, b""), {"fields": None}),
    ],
)
def test_special_encodings(field: bytes, expected: dict[str, Any]):
    """Time, MicroTime, IntOrString, Quantity, RawExtension and FieldsV1 print their JSON forms."""
    assert changed(thing(field)) == expected


def test_raw_extension_may_hold_a_nested_protobuf_object():
    """A RawExtension whose raw bytes are a k8s protobuf envelope decodes that object."""
    nested = envelope("test.example/v1", "Thing", lf(1, "inner") + lf(99, "x"))
    obj, unknown = decode_message(lf(17, lf(1, nested)), "test.Thing", SCHEMAS)
    assert obj["raw"]["name"] == "inner" and obj["raw"]["kind"] == "Thing"
    assert unknown == ["unknown field 99 in . (embedded at .raw)"]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            lf(9, entry("b", lf(2, "2"))) + lf(9, entry("a", lf(2, "1"))),
            {"labels": {"a": "1", "b": "2"}},
        ),
        (lf(9, entry("a", lf(2, "1"))) + lf(9, entry("a", lf(2, "3"))), {"labels": {"a": "3"}}),
        (lf(9, lf(1, "empty")), {"labels": {"empty": ""}}),
        (lf(9, lf(2, "no key")), {"labels": {"": "no key"}}),
        (lf(10, entry("k", lf(2, b"\x01\x02"))), {"data": {"k": "AQI="}}),
        (lf(10, entry("k", lf(2, b""))), {"data": {"k": ""}}),
        (lf(10, lf(1, "k")), {"data": {"k": None}}),
        (lf(27, entry("cpu", lf(2, lf(1, "100m")))), {"limits": {"cpu": "100m"}}),
        (
            lf(16, entry("scopes", lf(2, lf(1, "a") + lf(1, "b")))),
            {"extra": {"scopes": ["a", "b"]}},
        ),
        (lf(16, entry("none", lf(2, b""))), {"extra": {"none": None}}),
    ],
)
def test_maps(field: bytes, expected: dict[str, Any]):
    """map<string, T> entries decode to a dict sorted by key, the last entry for a key winning."""
    assert changed(thing(field)) == expected


def test_map_keys_come_out_sorted():
    """Map keys are sorted, as Go's encoding/json prints them, whatever the wire order."""
    labels = thing(lf(9, entry("b", lf(2, "2"))), lf(9, entry("a", lf(2, "1"))))["labels"]
    assert list(labels) == ["a", "b"]


def test_hostile_nesting_is_refused():
    """A self-referencing body nested past MAX_DEPTH is an error, not a RecursionError."""
    data = b""
    for _ in range(MAX_DEPTH + 1):
        data = lf(3, data)
    with pytest.raises(ProtobufDecodeError, match="nests deeper than"):
        decode_message(lf(21, data), "test.Thing", SCHEMAS)


def test_nested_envelopes_count_towards_depth():
    """RawExtension envelopes inside envelopes are bounded by the same depth limit."""
    body = envelope("test.example/v1", "Thing", b"")
    for _ in range(MAX_DEPTH + 1):
        body = envelope("test.example/v1", "Thing", lf(17, lf(1, body)))
    with pytest.raises(ProtobufDecodeError, match="nests deeper than"):
        decode(body, SCHEMAS)


# --- unknown fields ------------------------------------------------------------------------


def test_unknown_fields_are_reported_with_their_path_and_skipped():
    """Unknown field numbers anywhere are skipped and reported with a JSON-ish path."""
    data = b"".join(
        [
            lf(1, "n"),
            vf(40, 1),
            lf(19, lf(1, "c") + key(12, 5) + b"\x00" * 4),
            lf(20, b"") + lf(20, key(7, 1) + b"\x00" * 8),
            lf(9, entry("a", lf(2, "1")) + lf(3, "x")),
            lf(12, vf(1, 0) + vf(3, 1)),
            lf(21, lf(3, lf(5, "deep"))),
        ]
    )
    obj, unknown = decode_message(data, "test.Thing", SCHEMAS)
    assert obj["name"] == "n" and obj["child"] == {"name": "c"} and obj["labels"] == {"a": "1"}
    assert unknown == [
        "unknown field 40 in .",
        "unknown field 3 in .labels",
        "unknown field 3 in .updated",
        "unknown field 12 in .child",
        "unknown field 7 in .children[1]",
        "unknown field 5 in .opt.next",
    ]


def test_unknown_field_in_an_object_body():
    """decode() reports unknown fields of the object with paths from its root."""
    body = envelope("test.example/v1", "Thing", lf(19, lf(4, "x")))
    assert decode(body, SCHEMAS)[1] == ["unknown field 4 in .child"]


# --- schema checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("message t.A\n 1 x t.Missing", "unknown type 't.Missing'"),
        ("message t.A\n 1 inline string", "only a singular message can be inline"),
        ("message t.A\n 1 inline []t.B\nmessage t.B\n 1 y string", "only a singular message"),
        ("message t.A\n 1 b t.B\nmessage t.B\n 1 a t.A", "contains itself by value"),
        ("message t.A\n 1 a t.A always", "contains itself by value"),
    ],
)
def test_invalid_schema_is_refused(table: str, message: str):
    """A SchemaSet cannot be built with unresolved types, bad inline fields or value cycles."""
    with pytest.raises(ValueError, match=message):
        SchemaSet(messages=parse_messages(table), kinds={})


def test_kind_must_name_a_known_message():
    """Every registered kind points at a message of the set."""
    with pytest.raises(ValueError, match=r"unknown message 't\.Nope'"):
        SchemaSet(
            messages=parse_messages("message t.A\n 1 a string"), kinds={("v1", "A"): "t.Nope"}
        )
