"""Throttling of failed password attempts (security.md §2.11, A34).

Two token buckets count failures: one per (source address, user name) and a larger one per
source address (which also catches spraying many user names from one place). Every failure
takes a token from both; tokens come back at a steady rate. While either bucket is empty,
attempts from that source for that user are refused with 429 before the password is even
looked at — so the refusal is no oracle, and it costs the server no hash. There is no
lockout keyed on the user alone: an attacker elsewhere cannot keep the real user out, and a
success resets the (source, user) bucket.

Memory is bounded: at most ``max_keys`` buckets per kind, the least recently touched going
first (a full bucket carries no state worth keeping anyway).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class _Buckets:
    def __init__(self, burst: int, refill_per_second: float, max_keys: int) -> None:
        self.burst = burst
        self.refill = refill_per_second
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def _level(self, key: Hashable, now: float) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.refill)
        bucket.updated = now
        if bucket.tokens >= self.burst:
            del self._buckets[key]  # full again: as good as never seen
            return None
        return bucket

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds until this key may try again (0 if it may now)."""
        bucket = self._level(key, now)
        if bucket is None or bucket.tokens >= 1:
            return 0.0
        return (1 - bucket.tokens) / self.refill

    def take(self, key: Hashable, now: float) -> None:
        bucket = self._level(key, now) or _Bucket(float(self.burst), now)
        bucket.tokens = max(0.0, bucket.tokens - 1)
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        self._buckets.pop(key, None)


class FailureThrottle:
    """Counts failed attempts per (source, user) and per source; see the module docstring."""

    def __init__(
        self,
        *,
        burst: int = 10,
        refill_per_second: float = 1 / 6,
        source_burst: int = 100,
        source_refill_per_second: float = 1.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pairs = _Buckets(burst, refill_per_second, max_keys)
        self._sources = _Buckets(source_burst, source_refill_per_second, max_keys)
        self._clock = clock

    def retry_after(self, source: str, user: str) -> float:
        """Seconds the caller must wait before trying ``user`` from ``source`` (0: go ahead)."""
        now = self._clock()
        return max(self._pairs.wait((source, user), now), self._sources.wait(source, now))

    def failed(self, source: str, user: str) -> None:
        now = self._clock()
        self._pairs.take((source, user), now)
        self._sources.take(source, now)

    def succeeded(self, source: str, user: str) -> None:
        self._pairs.forget((source, user))
