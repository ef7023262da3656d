"""Every Store backend behind one fixture, so the same contract runs on each.

To add a backend, add one entry to BACKENDS: an async factory that builds and starts the store
in the given Place with the given watch history and per-watcher buffer sizes.

The etcd backend runs on a real etcd (the ``etcd`` binary from Debian's etcd-server) started
once per session on free loopback ports; each store gets its own key prefix, so tests do not
see each other's objects (revisions are etcd-wide, so the contract counts them relatively).
Without the binary the etcd cases are skipped, saying why.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from etcdkit import ETCD, MISSING, EtcdServer
from kubegate.store.base import Store
from kubegate.store.etcd import EtcdStore
from kubegate.store.etcd_config import EtcdConfig
from kubegate.store.memory import MemoryStore
from kubegate.store.sqlite import SqliteStore


class StoreFactory(Protocol):
    def __call__(self, *, history: int = ..., watch_queue_size: int = ...) -> Awaitable[Store]: ...


@dataclass(frozen=True, slots=True)
class Place:
    """Where a backend may keep its state: a fresh directory, and the session's etcd."""

    directory: Path
    etcd: EtcdServer | None = None


async def _memory(place: Place, **options: int) -> Store:
    store = MemoryStore(**options)
    await store.start()
    return store


async def _sqlite(place: Place, **options: int) -> Store:
    store = SqliteStore(place.directory / "kubegate.db", **options)
    await store.start()
    return store


_prefixes = itertools.count()


async def _etcd(place: Place, **options: int) -> Store:
    assert place.etcd is not None
    config = EtcdConfig((place.etcd.endpoint,), prefix=f"/contract-{next(_prefixes)}")
    store = EtcdStore(config, **options)
    await store.start()
    return store


BACKENDS: dict[str, Callable[..., Awaitable[Store]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "etcd": _etcd,
}
NEEDS_ETCD = {"etcd"}


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """One real etcd for the whole session (started only if an etcd case runs)."""
    if ETCD is None:
        pytest.skip(MISSING)
    server = EtcdServer(tmp_path_factory.mktemp("etcd") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=sorted(BACKENDS))
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Build started stores of one backend; closes them and fails on leaked tasks afterwards."""
    etcd = request.getfixturevalue("etcd_server") if request.param in NEEDS_ETCD else None
    opened: list[Store] = []

    async def make(**options: int) -> Store:
        directory = tmp_path / f"store{len(opened)}"
        directory.mkdir()
        store = await BACKENDS[request.param](Place(directory, etcd), **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
    assert not await _running_tasks(), f"tasks left running: {await _running_tasks()}"


async def _running_tasks(grace: float = 1.0) -> list[asyncio.Task[object]]:
    """Tasks other than the caller's still running after ``grace`` seconds. (gRPC settles a
    cancelled call on a task of its own a few milliseconds after the store has let go.)"""
    current = asyncio.current_task()
    deadline = asyncio.get_running_loop().time() + grace
    while True:
        running = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
        if not running or asyncio.get_running_loop().time() > deadline:
            return running
        await asyncio.sleep(0.001)


@pytest.fixture
async def store(make_store: StoreFactory) -> Store:
    """A started store with default settings."""
    return await make_store()
