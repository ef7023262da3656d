"""How objects and keys look inside etcd: pure functions, no IO.

Keys: the Store's ``/registry/{resource}/...`` keys with ``/registry`` replaced by the
configured prefix, UTF-8 encoded (etcd orders keys bytewise, which for UTF-8 is code point
order, the order the Store contract lists in).

Values: the object's compact JSON *without* ``metadata.resourceVersion``, as kube-apiserver
stores them: the revision a write gets is only known once etcd has applied it, so it cannot be
inside the value. Reads put it back from the key's ``mod_revision`` (or a deletion's revision).

To put it back without decoding (``list_raw`` serves 10,000 stored objects by joining bytes),
``encode`` places the top-level ``metadata`` before any other object- or array-valued member.
Everything before it is then a scalar, and a JSON string cannot contain the bytes
``"metadata":{`` (its inner quotes are escaped), so the first occurrence of those bytes opens
the top-level metadata and ``stamp`` inserts ``"resourceVersion":"N"`` right after it.
Typical objects (apiVersion, kind, metadata, spec, status) keep their member order.
"""

from __future__ import annotations

import json
from typing import Any

from kubegate.store.base import JSON

STORE_ROOT = "/registry"
_METADATA = b'"metadata":{'
_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


class KeyCodec:
    """Store keys <-> etcd keys under one prefix."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def to_etcd(self, key: str) -> bytes:
        if not key.startswith(STORE_ROOT):
            raise ValueError(f"store key {key!r} is not under {STORE_ROOT}")
        return (self.prefix + key[len(STORE_ROOT) :]).encode()

    def from_etcd(self, key: bytes) -> str:
        return STORE_ROOT + key.decode()[len(self.prefix) :]

    def range_after(self, prefix: str, start_after: str) -> tuple[bytes, bytes]:
        """The etcd [start, end) range of keys under ``prefix`` that sort after ``start_after``."""
        start = self.to_etcd(prefix)
        end = prefix_end(start)
        if start_after:
            # The smallest key greater than start_after is start_after + NUL.
            start = max(start, self.to_etcd(start_after) + b"\0")
        return start, end


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for "every key starting with prefix" (clientv3.GetPrefixRangeEnd)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"  # etcd: no upper bound
    return stripped[:-1] + bytes([stripped[-1] + 1])


def encode(obj: JSON) -> bytes:
    """The etcd value of ``obj``: compact JSON, no resourceVersion, metadata before containers.

    Raise TypeError or ValueError for something that is not a JSON object, before any IO."""
    if not isinstance(obj, dict):
        raise TypeError(f"a stored object must be a JSON object, not {type(obj).__name__}")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise TypeError("metadata must be a JSON object")
    meta = {name: value for name, value in metadata.items() if name != "resourceVersion"}
    ordered: dict[str, Any] = {}
    for name, value in obj.items():
        if name == "metadata":
            continue
        if "metadata" not in ordered and isinstance(value, dict | list):
            ordered["metadata"] = meta
        ordered[name] = value
    ordered.setdefault("metadata", meta)
    # ensure_ascii (the default) keeps the bytes plain ASCII, as the other backends do.
    return _encoder.encode(ordered).encode("ascii")


def stamp(value: bytes, revision: int) -> bytes:
    """The object's JSON with ``metadata.resourceVersion`` = ``revision``, spliced into the
    stored bytes: ~1.7 us for an 840-byte Service, against ~36 us to decode and re-encode it
    (measured on the 2-core dev VM), so stamping a 10,000-item list_raw costs ~17 ms."""
    at = value.find(_METADATA)
    if at < 0:  # not written by encode(): take the slow, general way
        obj = json.loads(value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return _encoder.encode(obj).encode("ascii")
    at += len(_METADATA)
    version = b'"resourceVersion":"%d"' % revision
    if value[at : at + 1] != b"}":
        version += b","
    return b"".join((value[:at], version, value[at:]))


def decode(raw: bytes) -> JSON:
    """A fresh object from stamped bytes."""
    obj: JSON = json.loads(raw)
    return obj
