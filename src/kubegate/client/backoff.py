"""Exponential backoff with jitter, bounded, for retry loops against an API server.

The shape of client-go's reflector backoff (``wait.NewExponentialBackoffManager(800ms,
30s, 2m, 2.0, 1.0)``): each failure doubles the base delay from ``initial`` up to
``maximum``; jitter adds up to ``jitter`` times the base at random, so replicas that lost
the same upstream at the same moment do not retry in lockstep; and a quiet spell of
``reset_after`` seconds since the last failure starts again from ``initial``. Unlike
client-go, the jittered delay is also capped at ``maximum``: every wait is bounded.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays for consecutive failures; ``await wait()`` sleeps the next one."""

    def __init__(
        self,
        *,
        initial: float = 0.8,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if initial <= 0 or maximum < initial or factor < 1 or jitter < 0:
            raise ValueError("backoff needs 0 < initial <= maximum, factor >= 1, jitter >= 0")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self._rng = rng
        self._clock = clock
        self._failures = 0
        self._last_failure: float | None = None

    def next_delay(self) -> float:
        """Record a failure and return how long to wait before the next attempt."""
        now = self._clock()
        if self._last_failure is not None and now - self._last_failure > self.reset_after:
            self._failures = 0
        self._last_failure = now
        base = min(self.maximum, self.initial * self.factor**self._failures)
        if base < self.maximum:
            self._failures += 1  # stop growing once capped (no float overflow after hours)
        return min(self.maximum, base * (1.0 + self.jitter * self._rng()))

    def reset(self) -> None:
        """Start again from ``initial`` (the upstream has been answering)."""
        self._failures = 0
        self._last_failure = None

    async def wait(self) -> float:
        """Sleep the next delay; returns it."""
        delay = self.next_delay()
        await asyncio.sleep(delay)
        return delay
