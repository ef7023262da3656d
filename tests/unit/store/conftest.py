"""Every Store backend behind one fixture, so the same contract runs on each.

To add a backend (etcd), add one entry to BACKENDS: an async factory that builds and starts
the store with the given watch history and per-watcher buffer sizes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

import pytest

from kubegate.store.base import Store
from kubegate.store.memory import MemoryStore
from kubegate.store.sqlite import SqliteStore


class StoreFactory(Protocol):
    def __call__(self, *, history: int = ..., watch_queue_size: int = ...) -> Awaitable[Store]: ...


async def _memory(tmp_path: Path, **options: int) -> Store:
    store = MemoryStore(**options)
    await store.start()
    return store


async def _sqlite(tmp_path: Path, **options: int) -> Store:
    store = SqliteStore(tmp_path / "kubegate.db", **options)
    await store.start()
    return store


BACKENDS: dict[str, Callable[..., Awaitable[Store]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
}


@pytest.fixture(params=sorted(BACKENDS))
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Build started stores of one backend; closes them and fails on leaked tasks afterwards."""
    opened: list[Store] = []

    async def make(**options: int) -> Store:
        directory = tmp_path / f"store{len(opened)}"
        directory.mkdir()
        store = await BACKENDS[request.param](directory, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
    current = asyncio.current_task()
    leaked = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    assert not leaked, f"tasks left running: {leaked}"


@pytest.fixture
async def store(make_store: StoreFactory) -> Store:
    """A started store with default settings."""
    return await make_store()
