"""The controller's plumbing: the work queue and the never-backwards object cache."""

from __future__ import annotations

import asyncio

import pytest

from kubegate.controllers.workqueue import QueueShutDown, WorkQueue
from kubegate.store.informer import ObjectCache


def obj(name: str, rv: int, ns: str = "default") -> dict:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv)}}


async def test_queue_deduplicates_pending_keys():
    """A key added several times before a worker takes it is handed out once."""
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(3):
        queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_key_added_while_processing_is_requeued_on_done():
    """A change during processing is not lost, and never runs concurrently with it."""
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    assert len(queue) == 0
    queue.done(key)
    assert len(queue) == 1 and await queue.get() == "a"


async def test_delayed_adds_coalesce_to_the_earliest_deadline():
    """Several delayed adds of one key become one pass, no later than the first deadline."""
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a", delay=0.01)
    queue.add("a", delay=10)
    got = await asyncio.wait_for(queue.get(), 1)
    queue.done(got)
    assert got == "a" and queue.idle


async def test_retry_backs_off_exponentially_until_forgotten():
    """Each retry doubles the delay up to the maximum; forget resets it."""
    queue: WorkQueue[str] = WorkQueue(base_delay=0.5, max_delay=1.5)
    assert [queue.retry("a") for _ in range(4)] == [0.5, 1.0, 1.5, 1.5]
    queue.forget("a")
    assert queue.retry("a") == 0.5
    queue.shut_down()


async def test_shut_down_wakes_waiting_getters_and_cancels_timers():
    """Workers blocked in get() end with QueueShutDown; delayed keys are dropped."""
    queue: WorkQueue[str] = WorkQueue()
    queue.add("later", delay=60)
    getter = asyncio.create_task(queue.get(), name="test-getter")
    await asyncio.sleep(0)
    queue.shut_down()
    with pytest.raises(QueueShutDown):
        await getter
    assert queue.idle


def test_cache_ignores_older_versions():
    """An event older than what is cached (e.g. after our own write) changes nothing."""
    cache = ObjectCache()
    assert cache.upsert("k", obj("a", 5)) is not None
    assert cache.upsert("k", obj("a", 4)) is None
    assert cache.upsert("k", obj("a", 5)) is None
    assert cache.get("k")["metadata"]["resourceVersion"] == "5"


def test_cache_tombstone_blocks_late_events_until_passed():
    """After a deletion, a late event from before it cannot resurrect the object."""
    cache = ObjectCache()
    cache.upsert("k", obj("a", 5))
    assert cache.remove("k", 7) is not None
    assert cache.upsert("k", obj("a", 6)) is None
    cache.passed(7)
    assert cache.upsert("k", obj("a", 8)) is not None


def test_cache_indexes_follow_updates():
    """Secondary indexes track an object as it moves between index values."""
    cache = ObjectCache({"ns": lambda o: [o["metadata"]["namespace"]]})
    cache.upsert("k", obj("a", 1, ns="one"))
    cache.upsert("k", obj("a", 2, ns="two"))
    assert cache.by("ns", "one") == []
    assert [o["metadata"]["name"] for o in cache.by("ns", "two")] == ["a"]


def test_cache_replace_reports_changes():
    """A relist reports additions, changes and deletions, but keeps newer own writes."""
    cache = ObjectCache()
    cache.upsert("gone", obj("gone", 2))
    cache.upsert("same", obj("same", 3))
    cache.upsert("mine", obj("mine", 20))  # written by us after the list was taken
    changes = cache.replace({"same": obj("same", 3), "new": obj("new", 4)}, revision=10)
    assert sorted((key, old is not None, new is not None) for key, old, new in changes) == [
        ("gone", True, False),
        ("new", False, True),
    ]
    assert sorted(cache.keys()) == ["mine", "new", "same"]
