"""Crash safety of SqliteStore: kill -9 a writing process, then check every acknowledged write.

Run as a script (``python test_store_crash.py DB``) this module is the victim: it opens the
store and creates objects from several concurrent tasks forever, printing ``KEY RV`` for each
write only after the store acknowledged it.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubegate.store.base import collection_prefix, object_key
from kubegate.store.sqlite import SqliteStore

ACKS_BEFORE_KILL = 200
LANES = 4  # concurrent writers, so the kill can land in the middle of a group commit
PREFIX = collection_prefix("configmaps", "crash")


def payload(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "crash"},
        "data": {"name": name, "filler": name * 40},
    }


async def write_until_killed(path: str) -> None:
    store = SqliteStore(path)
    await store.start()

    async def lane(number: int) -> None:
        for count in itertools.count():
            name = f"lane{number}-{count:06d}"
            stored = await store.create(object_key("configmaps", "crash", name), payload(name))
            print(stored["metadata"]["name"], stored["metadata"]["resourceVersion"], flush=True)

    async with asyncio.TaskGroup() as group:
        for number in range(LANES):
            group.create_task(lane(number), name=f"crash-lane-{number}")


def parse_acks(lines: list[bytes]) -> dict[str, int]:
    """Acknowledged name -> resourceVersion from complete output lines."""
    acked = {}
    for line in lines:
        if line.endswith(b"\n"):  # a line cut by the kill was never fully acknowledged
            name, revision = line.decode().split()
            acked[name] = int(revision)
    return acked


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """Run the victim until it has acknowledged enough writes, SIGKILL it mid-stream."""
    db = tmp_path_factory.mktemp("crash") / "kubegate.db"
    lines: list[bytes] = []
    with subprocess.Popen([sys.executable, __file__, str(db)], stdout=subprocess.PIPE) as victim:
        watchdog = threading.Timer(60, victim.kill)  # a hung victim must not hang the suite
        watchdog.start()
        try:
            assert victim.stdout is not None
            while len(lines) < ACKS_BEFORE_KILL:
                line = victim.stdout.readline()
                assert line, f"victim exited early with {victim.poll()}"
                lines.append(line)
            victim.send_signal(signal.SIGKILL)
            lines += victim.stdout.read().splitlines(keepends=True)  # acked before it landed
        finally:
            watchdog.cancel()
            victim.kill()
    assert victim.returncode == -signal.SIGKILL
    return db, parse_acks(lines)


@pytest.fixture
async def reopened(
    crash: tuple[Path, dict[str, int]], tmp_path: Path
) -> AsyncIterator[tuple[SqliteStore, dict[str, int]]]:
    """The crashed database files, copied for this test and opened as a store."""
    db, acked = crash
    for source in db.parent.glob(db.name + "*"):  # the database and its WAL
        shutil.copy(source, tmp_path / source.name)
    store = SqliteStore(tmp_path / db.name)
    await store.start()
    yield store, acked
    await store.close()


async def test_every_acknowledged_write_is_present_and_intact(
    reopened: tuple[SqliteStore, dict[str, int]],
) -> None:
    """Each object acknowledged before kill -9 reads back whole, at its acknowledged revision."""
    store, acked = reopened
    assert len(acked) >= ACKS_BEFORE_KILL
    for name, revision in acked.items():
        stored = await store.get(object_key("configmaps", "crash", name))
        assert stored["metadata"]["resourceVersion"] == str(revision)
        assert stored["data"] == payload(name)["data"]


async def test_every_stored_row_is_valid_json_at_its_revision(
    reopened: tuple[SqliteStore, dict[str, int]],
) -> None:
    """Nothing half-written survives: every row decodes and carries a unique revision."""
    store, _ = reopened
    page = await store.list(PREFIX)
    revisions = [int(obj["metadata"]["resourceVersion"]) for obj in page.items]
    assert len(set(revisions)) == len(revisions)
    assert max(revisions) <= store.revision


async def test_revision_resumes_at_or_after_the_last_acknowledged(
    reopened: tuple[SqliteStore, dict[str, int]],
) -> None:
    """The reopened store's revision is not behind anything a client was told."""
    store, acked = reopened
    assert store.revision >= max(acked.values())


async def test_store_takes_new_writes_after_the_crash(
    reopened: tuple[SqliteStore, dict[str, int]],
) -> None:
    """New writes succeed after recovery and get revisions above every acknowledged one."""
    store, acked = reopened
    created = await store.create(object_key("configmaps", "crash", "after"), payload("after"))
    assert int(created["metadata"]["resourceVersion"]) > max(acked.values())
    assert await store.get(object_key("configmaps", "crash", "after")) == created


if __name__ == "__main__":
    asyncio.run(write_until_killed(sys.argv[1]))
