"""The run-once lifecycle every controller shares: ``run()`` until ``stop()`` (or
cancellation), every task owned by one TaskGroup, the work queue shut down on the way out."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class _Queue(Protocol):
    def shut_down(self) -> None: ...


class ControllerLifecycle:
    def __init__(self, queue: _Queue) -> None:
        self._lifecycle_queue = queue
        self._stop_requested = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False

    def _start_tasks(self, group: asyncio.TaskGroup) -> list[asyncio.Task[Any]]:
        """Create the controller's tasks in ``group`` (informers, workers)."""
        raise NotImplementedError

    async def run(self) -> None:
        """Run until cancelled or ``stop()``; a controller runs once."""
        if self._running or self._finished.is_set():
            raise RuntimeError(f"a {type(self).__name__} runs only once")
        self._running = True
        try:
            async with asyncio.TaskGroup() as group:
                tasks = self._start_tasks(group)
                await self._stop_requested.wait()
                self._lifecycle_queue.shut_down()
                for task in tasks:
                    task.cancel()
        finally:
            self._lifecycle_queue.shut_down()
            self._running = False
            self._finished.set()

    async def stop(self) -> None:
        """Ask ``run`` to finish and wait until it has (no-op if it is not running)."""
        self._stop_requested.set()
        if self._running:
            await self._finished.wait()
