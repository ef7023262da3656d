"""What every backend shares: the stored encoding of an object and the generic read-modify-write.

The stored form of an object is its compact JSON encoding (UTF-8) with
``metadata.resourceVersion`` already set to the write's revision. Backends keep exactly these
bytes, so ``get`` and ``list`` decode them into fresh dicts (nothing returned aliases stored
state) and ``list_raw`` and watch events can hand them to the wire untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from kubegate.store.base import JSON, Store, VersionConflict

_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def encode(obj: JSON, revision: int) -> bytes:
    """The stored bytes of ``obj`` at ``revision``; ``obj`` itself is left untouched.

    Raise TypeError or ValueError for something that is not a JSON object (the write then
    fails before it consumes a revision)."""
    if not isinstance(obj, dict):
        raise TypeError(f"a stored object must be a JSON object, not {type(obj).__name__}")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise TypeError("metadata must be a JSON object")
    stamped = {**obj, "metadata": {**metadata, "resourceVersion": str(revision)}}
    # ensure_ascii (the default) keeps the bytes plain ASCII, so a lone surrogate in a string
    # cannot make the UTF-8 step fail after the JSON step succeeded.
    return _encoder.encode(stamped).encode("ascii")


def decode(raw: bytes) -> JSON:
    """A fresh object from stored bytes."""
    obj: JSON = json.loads(raw)
    return obj


def resource_version(obj: JSON) -> int:
    """The integer resourceVersion a stored object carries."""
    return int(obj["metadata"]["resourceVersion"])


def check_revision(key: str, expected: int | None, current: int) -> None:
    """Raise VersionConflict unless ``expected`` is None or the stored revision ``current``."""
    if expected is not None and expected != current:
        raise VersionConflict(f"{key}: resourceVersion {expected} is stale (current {current})")


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound).

    Python compares strings by code point, the same order as SQLite's BINARY collation over
    UTF-8, so this bound works for both in-memory and SQL range scans."""
    stripped = prefix.rstrip(chr(0x10FFFF))
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


async def guaranteed_update(
    store: Store, key: str, mutate: Callable[[JSON], JSON], *, retries: int
) -> JSON:
    """Read, ``mutate`` a fresh copy, write back only if nobody wrote in between; on a conflict
    re-read and try again, up to ``retries`` more times (kube-apiserver's GuaranteedUpdate)."""
    retries_left = retries
    while True:
        current = await store.get(key)  # KeyNotFound propagates
        expected = resource_version(current)
        try:
            return await store.update(key, mutate(current), expected_revision=expected)
        except VersionConflict:
            if retries_left == 0:
                raise
            retries_left -= 1
