"""SqliteStore beyond the shared contract: persistence, restart and the single writer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from storekit import service

from kubegate.store.base import Expired, StoreUnavailable, collection_prefix, object_key
from kubegate.store.sqlite import SqliteStore

KEY_A = object_key("services", "default", "a")
DEFAULT = collection_prefix("services", "default")
Reopen = Callable[[], Awaitable[SqliteStore]]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "kubegate.db"


@pytest.fixture
async def reopen(db: Path) -> AsyncIterator[Reopen]:
    """Open SqliteStores on one file; every store opened is closed at the end."""
    opened: list[SqliteStore] = []

    async def open_store() -> SqliteStore:
        store = SqliteStore(db)
        await store.start()
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


async def test_objects_survive_a_restart(reopen: Reopen) -> None:
    """What was acknowledged before close is there after reopening the file."""
    first = await reopen()
    created = await first.create(KEY_A, service("a"))
    await first.close()
    second = await reopen()
    assert await second.get(KEY_A) == created


async def test_revision_continues_after_a_restart(reopen: Reopen) -> None:
    """The revision resumes from the stored one, deletes included, and never repeats."""
    first = await reopen()
    await first.create(KEY_A, service("a"))
    await first.delete(KEY_A)
    await first.close()
    second = await reopen()
    assert second.revision == 2
    assert (await second.create(KEY_A, service("a")))["metadata"]["resourceVersion"] == "3"


async def test_watch_from_before_a_restart_is_expired(reopen: Reopen) -> None:
    """Watch history is not persisted, so resuming across a restart needs a relist."""
    first = await reopen()
    await first.create(KEY_A, service("a"))
    await first.update(KEY_A, service("a"))
    await first.close()
    second = await reopen()
    with pytest.raises(Expired):
        await anext(second.watch(DEFAULT, 1))


async def test_database_uses_a_wal_journal(reopen: Reopen, db: Path) -> None:
    """The file is in WAL mode, so readers never wait for the writer."""
    await reopen()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_stored_value_is_the_final_json(reopen: Reopen, db: Path) -> None:
    """The row holds the object's JSON with its resourceVersion, and the revision columns."""
    store = await reopen()
    created = await store.create(KEY_A, service("a"))
    with sqlite3.connect(db) as conn:
        value, mod, create = conn.execute(
            "SELECT value, mod_revision, create_revision FROM kv WHERE key = ?", (KEY_A,)
        ).fetchone()
    assert (bytes(value), mod, create) == ((await store.list_raw(DEFAULT)).items[0], 1, 1)
    assert created["metadata"]["resourceVersion"] == "1"


async def test_start_fails_with_store_unavailable_when_the_file_cannot_open(
    tmp_path: Path,
) -> None:
    """An unopenable path is reported as StoreUnavailable."""
    store = SqliteStore(tmp_path / "missing-dir" / "kubegate.db")
    with pytest.raises(StoreUnavailable):
        await store.start()


async def test_cancelled_writer_does_not_break_later_writes(reopen: Reopen) -> None:
    """A caller that stops waiting for its write leaves the store working."""
    store = await reopen()
    writing = asyncio.create_task(store.create(KEY_A, service("a")))
    await asyncio.sleep(0)
    writing.cancel()
    other = object_key("services", "default", "b")
    created = await store.create(other, service("b"))
    assert int(created["metadata"]["resourceVersion"]) == store.revision


async def test_second_close_waits_for_the_first(reopen: Reopen) -> None:
    """A close racing another close returns only once the store is fully closed."""
    store = await reopen()
    await store.create(KEY_A, service("a"))
    first = asyncio.create_task(store.close(), name="first-close")
    await asyncio.sleep(0)
    await store.close()
    assert first.done()
