"""A per-process memo of rewritten bodies: the same page, rewritten the same way, is
rewritten once.

Rewriting is a pure function of the body's bytes and the transformer's inputs
(:class:`~kubegate.proxy.rewrite_stream.TransformParams`: kind, URL rule, content coding,
injected shim, cap), and many rewritten bodies come back byte-identical request after
request (an SPA's ``index.html``, stylesheets, documentation pages). So the proxy keeps
(params, original body) -> the bytes it sent, and a later body with equal params and equal
bytes is answered from it.

* **Exact.** Entries are found by (params, length, a hash of the body), and a hit also
  requires the stored original to equal the body byte for byte: a hash collision is a miss,
  never somebody else's output. A body differing in one byte (a CSRF token, a nonce) is a
  miss and is rewritten anew.
* **What is kept** is what was sent: for a compressed body, the re-encoded bytes (or the
  backend's own, when the rewrite changed nothing), keyed with the coding; whether the
  rewrite stopped at the cap, so a hit reports it as the rewrite did.
* **Bounded.** Only bodies of at most :data:`ENTRY_MAX` bytes are kept; the originals and
  outputs together stay within ``capacity`` bytes (32 MiB by default, ``kubegate serve
  --proxy-rewrite-memo-bytes``; 0 turns the memo off), the least recently used entries
  going first.

It runs on the event loop, between awaits: a lookup and the store after a miss see no
other request in between.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from kubegate.proxy.rewrite_stream import BodyTransformer, TransformParams

__all__ = ["DEFAULT_CAPACITY", "ENTRY_MAX", "MemoStats", "RewriteMemo", "body_digest"]

DEFAULT_CAPACITY: Final = 32 * 1024 * 1024  # bytes of originals and outputs together
ENTRY_MAX: Final = 1024 * 1024  # the largest original body kept


def body_digest(body: bytes) -> int:
    """The hash entries are found by (Python's own: SipHash, about 0.06 ms per 200 KiB, and
    randomised per process, so nobody outside can aim for a collision — which would only
    cost a byte comparison anyway)."""
    return hash(body)


@dataclass(frozen=True, slots=True)
class MemoStats:
    """The memo's counters, for /metrics."""

    hits: int
    misses: int
    entries: int
    bytes: int
    capacity: int


@dataclass(frozen=True, slots=True)
class _Entry:
    original: bytes
    output: bytes
    truncated: bool  # the rewrite stopped at the cap (logged as the rewrite would have)
    size: int  # bytes held: the original, and the output unless it is the original


_Key = tuple[TransformParams, int, int]  # (params, body length, body_digest)


class RewriteMemo:
    """Rewritten whole bodies by (transform params, original bytes); least recently used
    first out."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity <= 0:
            raise ValueError("a memo needs a positive capacity (no memo at all: None)")
        self.capacity = capacity
        # Bodies up to this long are worth reading whole to look up (proxy/rewrite_stream.py).
        self.entry_max = min(ENTRY_MAX, capacity)
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def whole(self, transformer: BodyTransformer, body: bytes) -> bytes:
        """``transformer.whole(body)``, from the memo when this body was rewritten with the
        same params before (``transformer.truncated`` is set as the rewrite would set it)."""
        if len(body) > self.entry_max:
            return transformer.whole(body)
        key = (transformer.params, len(body), body_digest(body))
        entry = self._entries.get(key)
        if entry is not None and entry.original == body:
            self._entries.move_to_end(key)
            self.hits += 1
            transformer.truncated = entry.truncated
            return entry.output
        self.misses += 1
        output = transformer.whole(body)
        self._store(key, _entry(body, output, transformer.truncated))
        return output

    def stats(self) -> MemoStats:
        return MemoStats(self.hits, self.misses, len(self._entries), self._bytes, self.capacity)

    def _store(self, key: _Key, entry: _Entry) -> None:
        if entry.size > self.capacity:
            return
        old = self._entries.pop(key, None)  # a collision's loser, or an equal body's entry
        if old is not None:
            self._bytes -= old.size
        entries = self._entries
        while self._bytes + entry.size > self.capacity:
            _, evicted = entries.popitem(last=False)
            self._bytes -= evicted.size
        entries[key] = entry
        self._bytes += entry.size


def _entry(original: bytes, output: bytes, truncated: bool) -> _Entry:
    size = len(original) + (0 if output is original else len(output))
    return _Entry(original, output, truncated, size)
