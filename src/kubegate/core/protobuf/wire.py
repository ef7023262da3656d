"""The protobuf wire format, just what Kubernetes bodies use: fields, varints, scalars.

https://protobuf.dev/programming-guides/encoding/ -- read strictly: a truncated varint, a length
past the end of the buffer, field number 0 or a group raise ProtobufDecodeError.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

VARINT, I64, LEN, I32 = 0, 1, 2, 5  # 3 and 4 are proto1 groups, unused by Kubernetes
WIRE_NAMES = {VARINT: "varint", I64: "64-bit", LEN: "length-delimited", I32: "32-bit"}
MAX_FIELD_NUMBER = (1 << 29) - 1


class ProtobufDecodeError(ValueError):
    """The body is not a well-formed Kubernetes protobuf object (answer 400 BadRequest)."""


def read_varint(buf: bytes, pos: int, path: str) -> tuple[int, int]:
    """Read a varint at pos; return it and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufDecodeError(f"truncated varint at {show(path)}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if result >> 64:
                raise ProtobufDecodeError(f"varint overflows 64 bits at {show(path)}")
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufDecodeError(f"varint longer than 10 bytes at {show(path)}")


def iter_fields(buf: bytes, path: str) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field of a serialized message."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos, path)
        number, wire = key >> 3, key & 7
        if not 0 < number <= MAX_FIELD_NUMBER:
            raise ProtobufDecodeError(f"invalid field number {number} at {show(path)}")
        value: int | bytes
        if wire == VARINT:
            value, pos = read_varint(buf, pos, path)
        elif wire in (I64, I32):
            size = 8 if wire == I64 else 4
            if end - pos < size:
                raise ProtobufDecodeError(
                    f"truncated {size * 8}-bit field {number} at {show(path)}"
                )
            value, pos = int.from_bytes(buf[pos : pos + size], "little"), pos + size
        elif wire == LEN:
            length, pos = read_varint(buf, pos, path)
            if length > end - pos:
                raise ProtobufDecodeError(
                    f"field {number} at {show(path)} claims {length} bytes, only {end - pos} remain"
                )
            value, pos = buf[pos : pos + length], pos + length
        else:  # groups (3, 4) are proto1 relics no Kubernetes type uses; 6 and 7 are invalid
            raise ProtobufDecodeError(
                f"unsupported wire type {wire} for field {number} at {show(path)}"
            )
        yield number, wire, value


def show(path: str) -> str:
    """A JSON-ish field path for messages: the root is "."."""
    return path or "."


def scalar(type_name: str, value: int | bytes) -> Any:
    """The Go value of a scalar field, in its JSON form (bytes as base64)."""
    if isinstance(value, bytes):
        if type_name == "string":
            # Go keeps invalid UTF-8 in strings and encoding/json prints U+FFFD for it.
            return value.decode("utf-8", errors="replace")
        return base64.b64encode(value).decode("ascii")
    if type_name == "bool":
        return value != 0
    if type_name == "int32":
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value
    if type_name == "int64":
        return value - (1 << 64) if value >= 1 << 63 else value
    if type_name == "uint32":
        return value & 0xFFFFFFFF
    if type_name == "double":
        return struct.unpack("<d", value.to_bytes(8, "little"))[0]
    if type_name == "float":
        return struct.unpack("<f", value.to_bytes(4, "little"))[0]
    return value  # uint64
