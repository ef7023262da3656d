"""The Store contract, run against every backend in conftest.BACKENDS.

Revisions are asserted relative to the store's revision when the test began: a fresh memory or
sqlite store starts at 0, but etcd's revision is cluster-wide (a new etcd is already at 1, and
the etcd cases share one etcd per session).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from storekit import service, take

from kubegate.store import common
from kubegate.store.base import (
    JSON,
    Expired,
    KeyExists,
    KeyNotFound,
    Store,
    StoreUnavailable,
    VersionConflict,
    WatchTooSlow,
    collection_prefix,
    object_key,
)

SERVICES = collection_prefix("services")
DEFAULT = collection_prefix("services", "default")
KEY_A = object_key("services", "default", "a")
KEY_B = object_key("services", "default", "b")


def rv(obj: JSON) -> int:
    return int(obj["metadata"]["resourceVersion"])


# -- create / get ----------------------------------------------------------------------------


async def test_create_then_get_returns_the_stored_object(store: Store) -> None:
    """get returns exactly what create acknowledged."""
    created = await store.create(KEY_A, service("a"))
    assert await store.get(KEY_A) == created


async def test_create_stamps_resource_version_with_the_new_revision(store: Store) -> None:
    """The stored object's resourceVersion is the store revision its write produced."""
    created = await store.create(KEY_A, service("a"))
    assert created["metadata"]["resourceVersion"] == str(store.revision)
    assert created["spec"] == service("a")["spec"]


async def test_create_on_existing_key_raises_key_exists(store: Store) -> None:
    """A second create of the same key fails."""
    await store.create(KEY_A, service("a"))
    with pytest.raises(KeyExists):
        await store.create(KEY_A, service("a"))


async def test_get_missing_key_raises_key_not_found(store: Store) -> None:
    """get of an absent key fails."""
    with pytest.raises(KeyNotFound):
        await store.get(KEY_A)


async def test_create_rejects_non_json_values_without_using_a_revision(store: Store) -> None:
    """Values JSON cannot carry fail the write and leave the revision untouched."""
    base = store.revision
    with pytest.raises(TypeError):
        await store.create(KEY_A, {**service("a"), "bad": object()})
    with pytest.raises(ValueError):
        await store.create(KEY_A, {**service("a"), "bad": math.nan})
    assert store.revision == base
    with pytest.raises(KeyNotFound):
        await store.get(KEY_A)


# -- update ----------------------------------------------------------------------------------


async def test_update_replaces_the_object_at_a_new_revision(store: Store) -> None:
    """update stores the new object and bumps its resourceVersion."""
    created = await store.create(KEY_A, service("a"))
    updated = await store.update(KEY_A, service("a", type="NodePort"))
    assert updated["spec"]["type"] == "NodePort"
    assert rv(updated) == rv(created) + 1
    assert await store.get(KEY_A) == updated


async def test_update_missing_key_raises_key_not_found(store: Store) -> None:
    """update of an absent key fails rather than creating it."""
    with pytest.raises(KeyNotFound):
        await store.update(KEY_A, service("a"))


async def test_update_with_current_resource_version_succeeds(store: Store) -> None:
    """An expected revision equal to the stored one lets the update through."""
    created = await store.create(KEY_A, service("a"))
    updated = await store.update(KEY_A, service("a", type="NodePort"), rv(created))
    assert updated["spec"]["type"] == "NodePort"


async def test_update_with_stale_resource_version_raises_version_conflict(store: Store) -> None:
    """An expected revision older than the stored one fails and changes nothing."""
    created = await store.create(KEY_A, service("a"))
    current = await store.update(KEY_A, service("a", type="NodePort"))
    with pytest.raises(VersionConflict):
        await store.update(KEY_A, service("a", type="LoadBalancer"), rv(created))
    assert await store.get(KEY_A) == current


# -- delete ----------------------------------------------------------------------------------


async def test_delete_returns_last_state_at_the_deletion_revision(store: Store) -> None:
    """delete returns the object as it was, with resourceVersion set to the delete's revision."""
    created = await store.create(KEY_A, service("a"))
    deleted = await store.delete(KEY_A)
    assert rv(deleted) == rv(created) + 1 == store.revision
    assert deleted["spec"] == created["spec"]


async def test_deleted_key_is_gone(store: Store) -> None:
    """After delete, get fails."""
    await store.create(KEY_A, service("a"))
    await store.delete(KEY_A)
    with pytest.raises(KeyNotFound):
        await store.get(KEY_A)


async def test_delete_missing_key_raises_key_not_found(store: Store) -> None:
    """delete of an absent key fails."""
    with pytest.raises(KeyNotFound):
        await store.delete(KEY_A)


async def test_delete_with_stale_resource_version_raises_version_conflict(store: Store) -> None:
    """A stale expected revision protects the object from deletion."""
    created = await store.create(KEY_A, service("a"))
    await store.update(KEY_A, service("a", type="NodePort"))
    with pytest.raises(VersionConflict):
        await store.delete(KEY_A, rv(created))
    await store.get(KEY_A)


async def test_delete_with_current_resource_version_succeeds(store: Store) -> None:
    """A current expected revision lets the delete through."""
    created = await store.create(KEY_A, service("a"))
    await store.delete(KEY_A, rv(created))
    with pytest.raises(KeyNotFound):
        await store.get(KEY_A)


# -- guaranteed_update -----------------------------------------------------------------------


class Interloper:
    """A view of a store where someone else writes the key just before each of our updates."""

    def __init__(self, store: Store, interruptions: int) -> None:
        self.store = store
        self.interruptions = interruptions

    async def get(self, key: str) -> JSON:
        return await self.store.get(key)

    async def update(self, key: str, obj: JSON, expected_revision: int | None = None) -> JSON:
        if self.interruptions:
            self.interruptions -= 1
            theirs = await self.store.get(key)
            theirs["metadata"].setdefault("labels", {})["touched"] = "yes"
            await self.store.update(key, theirs)
        return await self.store.update(key, obj, expected_revision)


def add_label(obj: JSON) -> JSON:
    obj["metadata"].setdefault("labels", {})["mine"] = "yes"
    return obj


async def test_guaranteed_update_applies_the_mutation(store: Store) -> None:
    """The mutation is applied to the current object and stored."""
    await store.create(KEY_A, service("a"))
    updated = await store.guaranteed_update(KEY_A, add_label)
    assert updated["metadata"]["labels"] == {"mine": "yes"}
    assert await store.get(KEY_A) == updated


async def test_guaranteed_update_retries_after_a_conflicting_write(store: Store) -> None:
    """A write between read and update causes a retry on the fresh object, keeping both."""
    await store.create(KEY_A, service("a"))
    racy: Any = Interloper(store, interruptions=1)
    await common.guaranteed_update(racy, KEY_A, add_label, retries=5)
    assert (await store.get(KEY_A))["metadata"]["labels"] == {"touched": "yes", "mine": "yes"}


async def test_guaranteed_update_gives_up_after_its_retries(store: Store) -> None:
    """Conflicts on every attempt end in VersionConflict after retries + 1 attempts."""
    await store.create(KEY_A, service("a"))
    racy: Any = Interloper(store, interruptions=100)
    attempts = 0

    def count(obj: JSON) -> JSON:
        nonlocal attempts
        attempts += 1
        return obj

    with pytest.raises(VersionConflict):
        await common.guaranteed_update(racy, KEY_A, count, retries=2)
    assert attempts == 3


async def test_guaranteed_update_of_missing_key_raises_key_not_found(store: Store) -> None:
    """There is nothing to mutate when the key is absent."""
    with pytest.raises(KeyNotFound):
        await store.guaranteed_update(KEY_A, add_label)


# -- revisions -------------------------------------------------------------------------------


async def test_every_write_bumps_the_revision_by_one(store: Store) -> None:
    """create, update and delete each advance the store revision by exactly one."""
    base = store.revision
    seen = [store.revision]
    seen.append(rv(await store.create(KEY_A, service("a"))))
    seen.append(rv(await store.update(KEY_A, service("a"))))
    seen.append(rv(await store.create(KEY_B, service("b"))))
    seen.append(rv(await store.delete(KEY_A)))
    assert [revision - base for revision in seen] == [0, 1, 2, 3, 4]
    assert store.revision == base + 4


async def test_failed_writes_do_not_bump_the_revision(store: Store) -> None:
    """KeyExists, KeyNotFound and VersionConflict leave the revision where it was."""
    await store.create(KEY_A, service("a"))
    before = store.revision
    with pytest.raises(KeyExists):
        await store.create(KEY_A, service("a"))
    with pytest.raises(KeyNotFound):
        await store.update(KEY_B, service("b"))
    with pytest.raises(VersionConflict):
        await store.update(KEY_A, service("a"), expected_revision=before + 10)
    with pytest.raises(KeyNotFound):
        await store.delete(KEY_B)
    assert store.revision == before


async def test_concurrent_writes_get_distinct_consecutive_revisions(store: Store) -> None:
    """Writes racing each other each get their own revision, with no gaps."""
    base = store.revision
    keys = [object_key("services", "default", f"s{i:02}") for i in range(50)]
    created = await asyncio.gather(*(store.create(k, service(k)) for k in keys))
    assert sorted(rv(obj) - base for obj in created) == list(range(1, 51))
    assert store.revision == base + 50


async def test_concurrent_failing_write_fails_alone(store: Store) -> None:
    """A write that fails among concurrent writes does not take the others down with it."""
    base = store.revision
    results = await asyncio.gather(
        store.create(KEY_A, service("a")),
        store.create(KEY_A, service("a")),
        store.create(KEY_B, service("b")),
        return_exceptions=True,
    )
    assert [type(result).__name__ for result in results] == ["dict", "KeyExists", "dict"]
    assert store.revision == base + 2


# -- list ------------------------------------------------------------------------------------


async def fill(store: Store, *names: str, namespace: str = "default") -> list[str]:
    keys = []
    for name in names:
        key = object_key("services", namespace, name)
        await store.create(key, service(name, namespace))
        keys.append(key)
    return keys


def names(items: list[JSON]) -> list[str]:
    return [obj["metadata"]["name"] for obj in items]


async def test_list_returns_objects_under_prefix_in_key_order(store: Store) -> None:
    """Items come back sorted by key whatever the creation order."""
    await fill(store, "c", "a", "b")
    page = await store.list(DEFAULT)
    assert names(page.items) == ["a", "b", "c"]
    assert page.continue_key is None


async def test_namespace_prefix_does_not_match_a_longer_namespace(store: Store) -> None:
    """Listing namespace "def" does not include "default", and vice versa."""
    await fill(store, "in-default")
    await fill(store, "in-def", namespace="def")
    await fill(store, "in-default2", namespace="default2")
    assert names((await store.list(collection_prefix("services", "def"))).items) == ["in-def"]
    assert names((await store.list(DEFAULT)).items) == ["in-default"]


async def test_list_of_resource_spans_namespaces_but_not_other_resources(store: Store) -> None:
    """A cluster-wide prefix includes every namespace and nothing of another resource."""
    await fill(store, "x", namespace="b")
    await fill(store, "y", namespace="a")
    await store.create(object_key("servicesx", "a", "z"), service("z"))
    assert names((await store.list(SERVICES)).items) == ["y", "x"]


async def test_list_limit_cuts_the_page_and_names_the_last_key(store: Store) -> None:
    """With more items than limit, the page holds limit items and continue_key is its last key."""
    keys = await fill(store, "a", "b", "c", "d", "e")
    page = await store.list(DEFAULT, limit=2)
    assert names(page.items) == ["a", "b"]
    assert page.continue_key == keys[1]


async def test_list_start_after_pages_through_everything_once(store: Store) -> None:
    """Following continue_key visits every item exactly once, in order."""
    await fill(store, "a", "b", "c", "d", "e")
    seen: list[str] = []
    start_after = ""
    while True:
        page = await store.list(DEFAULT, limit=2, start_after=start_after)
        seen += names(page.items)
        if page.continue_key is None:
            break
        start_after = page.continue_key
    assert seen == ["a", "b", "c", "d", "e"]


async def test_list_page_ending_exactly_at_the_last_item_has_no_continue_key(
    store: Store,
) -> None:
    """When limit equals what is left, nothing remains and continue_key is None."""
    await fill(store, "a", "b")
    page = await store.list(DEFAULT, limit=2)
    assert names(page.items) == ["a", "b"]
    assert page.continue_key is None


async def test_list_reports_the_current_revision(store: Store) -> None:
    """A list is consistent with the store revision at the time it ran."""
    base = store.revision
    await fill(store, "a", "b")
    await store.create(object_key("services", "other", "c"), service("c", "other"))
    assert (await store.list(DEFAULT)).revision == store.revision == base + 3


async def test_list_raw_items_are_the_stored_encodings(store: Store) -> None:
    """list_raw returns the same objects as list, as JSON bytes, with the same paging."""
    await fill(store, "a", "b", "c")
    page = await store.list(DEFAULT, limit=2)
    raw = await store.list_raw(DEFAULT, limit=2)
    assert [common.decode(item) for item in raw.items] == page.items
    assert (raw.revision, raw.continue_key) == (page.revision, page.continue_key)


# -- no aliasing -----------------------------------------------------------------------------


async def test_mutating_the_input_after_create_does_not_change_the_store(store: Store) -> None:
    """The store keeps its own copy of what it was given, even while the write is in flight."""
    obj = service("a")
    writing = asyncio.create_task(store.create(KEY_A, obj))
    await asyncio.sleep(0)
    obj["spec"]["ports"].append({"port": 443})
    created = await writing
    obj["metadata"]["name"] = "changed"
    assert created["spec"]["ports"] == [{"port": 80}]
    assert await store.get(KEY_A) == created


async def test_mutating_returned_objects_does_not_change_the_store(store: Store) -> None:
    """Objects from create, get and list are the caller's own copies."""
    created = await store.create(KEY_A, service("a"))
    expected = await store.get(KEY_A)
    created["spec"]["ports"].append({"port": 1})
    (await store.get(KEY_A))["spec"]["ports"].append({"port": 2})
    (await store.list(DEFAULT)).items[0]["spec"]["ports"].append({"port": 3})
    assert await store.get(KEY_A) == expected


async def test_mutating_a_watch_event_does_not_change_the_store(store: Store) -> None:
    """Watch event objects are not the stored state."""
    watch = store.watch(DEFAULT, 0)
    await store.create(KEY_A, service("a"))
    [event] = await take(watch, 1)
    assert event.object is not None
    event.object["spec"]["ports"].clear()
    assert (await store.get(KEY_A))["spec"]["ports"] == [{"port": 80}]


# -- watch -----------------------------------------------------------------------------------


async def test_watch_from_zero_sees_changes_made_after_it_started(store: Store) -> None:
    """A watch from 0 skips existing objects and reports later writes in order."""
    base = store.revision
    await fill(store, "old")
    watch = store.watch(DEFAULT, 0)
    await store.create(KEY_A, service("a"))
    await store.update(KEY_A, service("a", type="NodePort"))
    await store.delete(KEY_A)
    events = await take(watch, 3)
    assert [(e.type, e.key, e.revision - base) for e in events] == [
        ("ADDED", KEY_A, 2),
        ("MODIFIED", KEY_A, 3),
        ("DELETED", KEY_A, 4),
    ]
    assert [rv(e.object) - base for e in events if e.object is not None] == [2, 3, 4]


async def test_watch_sees_only_keys_under_its_prefix(store: Store) -> None:
    """Writes in a namespace sharing a name prefix are not delivered."""
    watch = store.watch(collection_prefix("services", "def"), 0)
    await fill(store, "not-mine")
    await fill(store, "mine", namespace="def")
    [event] = await take(watch, 1)
    assert event.object is not None and event.object["metadata"]["name"] == "mine"


async def test_watch_event_raw_is_the_encoding_of_its_object(store: Store) -> None:
    """Events carry the stored bytes of their object, ready for the wire."""
    watch = store.watch(DEFAULT, 0)
    await store.create(KEY_A, service("a"))
    await store.delete(KEY_A)
    for event in await take(watch, 2):
        assert event.raw is not None and common.decode(event.raw) == event.object


async def test_watch_resumed_from_a_past_revision_replays_exactly_the_missed_events(
    store: Store,
) -> None:
    """Resuming from revision N delivers every event after N once, then live events."""
    base = store.revision
    await fill(store, "a", "b")
    resume_from = store.revision
    await fill(store, "c")
    await store.update(KEY_A, service("a", type="NodePort"))
    await store.delete(KEY_B)
    watch = store.watch(DEFAULT, resume_from)
    await fill(store, "d")
    events = await take(watch, 4)
    assert [(e.type, e.revision - base) for e in events] == [
        ("ADDED", 3),
        ("MODIFIED", 4),
        ("DELETED", 5),
        ("ADDED", 6),
    ]


async def test_watch_from_before_the_history_raises_expired(make_store: Any) -> None:
    """Resuming from a revision that fell off the history fails with Expired."""
    store = await make_store(history=3)
    base = store.revision
    await fill(store, "a", "b", "c", "d", "e")
    with pytest.raises(Expired):
        await anext(store.watch(DEFAULT, base + 1))


async def test_watch_from_the_oldest_kept_revision_replays(make_store: Any) -> None:
    """The oldest revision still resumable replays the whole history."""
    store = await make_store(history=3)
    base = store.revision
    await fill(store, "a", "b", "c", "d", "e")
    events = await take(store.watch(DEFAULT, base + 2), 3)
    assert [e.revision - base for e in events] == [3, 4, 5]


async def test_watch_from_the_current_revision_is_not_expired(make_store: Any) -> None:
    """Even with a tiny history, watching from now works and sees the next write."""
    store = await make_store(history=1)
    base = store.revision
    await fill(store, "a", "b", "c")
    watch = store.watch(DEFAULT, store.revision)
    await fill(store, "d")
    assert [e.revision - base for e in await take(watch, 1)] == [4]


async def test_slow_watcher_ends_with_watch_too_slow_while_others_get_everything(
    make_store: Any,
) -> None:
    """An unread watch overflows and fails; a watch that keeps up sees every event."""
    store = await make_store(watch_queue_size=3)
    base = store.revision
    slow = store.watch(DEFAULT, 0)
    fast = store.watch(DEFAULT, 0)
    received = []
    for index in range(10):
        await fill(store, f"s{index}")
        received += await take(fast, 1)
    assert [e.revision - base for e in received] == list(range(1, 11))
    with pytest.raises(WatchTooSlow):
        await anext(slow)


async def test_watch_revision_reports_how_far_the_consumer_has_caught_up(store: Store) -> None:
    """Once a watch has handed out everything, its revision is the store's."""
    base = store.revision
    watch = store.watch(DEFAULT, 0)
    await fill(store, "a")
    await fill(store, "elsewhere", namespace="other")
    await take(watch, 1)
    assert watch.revision == store.revision == base + 2


async def test_close_ends_watches_cleanly(store: Store) -> None:
    """A watch waiting for events stops iterating when the store closes."""
    watch = store.watch(DEFAULT, 0)

    async def drain() -> list[Any]:
        return [event async for event in watch]

    reader = asyncio.create_task(drain(), name="drain-watch")
    await asyncio.sleep(0)
    await store.close()
    assert await asyncio.wait_for(reader, 5) == []


async def test_aclose_ends_the_watch(store: Store) -> None:
    """A watch closed by its consumer ends and receives nothing more."""
    watch = store.watch(DEFAULT, 0)
    await watch.aclose()
    await fill(store, "a")
    with pytest.raises(StopAsyncIteration):
        await anext(watch)


async def test_store_refuses_work_after_close(store: Store) -> None:
    """Every operation on a closed store raises StoreUnavailable."""
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.get(KEY_A)
    with pytest.raises(StoreUnavailable):
        await store.create(KEY_A, service("a"))
    with pytest.raises(StoreUnavailable):
        await store.list(DEFAULT)
    with pytest.raises(StoreUnavailable):
        store.watch(DEFAULT, 0)
