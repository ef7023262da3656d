"""A deduplicating, delaying work queue: client-go's rate-limited workqueue in miniature.

A key is queued at most once however often it is added; a key added while a worker holds it
is queued again when that worker calls ``done``, so two workers never process the same key at
once and no change is lost. ``add(key, delay)`` coalesces a burst of changes into one pass
(the earliest pending deadline wins), and ``retry`` re-adds with per-key exponential backoff
until ``forget``. Delays are event-loop timers, not tasks, so nothing outlives ``shut_down``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class QueueShutDown(Exception):
    """``get`` was called on (or was waiting in) a queue that has been shut down."""


class WorkQueue(Generic[K]):
    """Keys waiting for a worker; see the module docstring for the guarantees."""

    def __init__(self, *, base_delay: float = 0.05, max_delay: float = 30.0) -> None:
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()  # queued, or re-added while processing
        self._processing: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._failures: dict[K, int] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shut_down = False

    def __len__(self) -> int:
        """Keys queued and ready for a worker (not counting delayed or in-flight ones)."""
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Nothing queued, delayed, or being processed."""
        return not (self._queue or self._timers or self._processing)

    def add(self, key: K, delay: float = 0.0) -> None:
        """Queue ``key``, now or after ``delay`` seconds."""
        if self._shut_down:
            return
        if delay <= 0:
            self._cancel_timer(key)
            self._add_now(key)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None and pending.when() <= deadline:
            return
        self._cancel_timer(key)
        self._timers[key] = loop.call_at(deadline, self._fire, key)

    def retry(self, key: K) -> float:
        """Re-add ``key`` after its next backoff delay; returns that delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay: float = min(self._base_delay * 2.0**failures, self._max_delay)
        self.add(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff after a success."""
        self._failures.pop(key, None)

    async def get(self) -> K:
        """Wait for a key and hand it to the caller, who must call ``done`` with it."""
        while not self._queue:
            if self._shut_down:
                raise QueueShutDown
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._getters:
                    self._getters.remove(waiter)
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """The worker finished ``key``; queue it again if it changed in the meantime."""
        self._processing.discard(key)
        if key in self._dirty and not self._shut_down:
            self._queue.append(key)
            self._wake_one()

    def shut_down(self) -> None:
        """Drop delayed keys and wake every waiting ``get`` with QueueShutDown."""
        self._shut_down = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._queue.clear()
        self._dirty.clear()
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # -- internals ---------------------------------------------------------------------------

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self._add_now(key)

    def _add_now(self, key: K) -> None:
        if self._shut_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._wake_one()

    def _cancel_timer(self, key: K) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
