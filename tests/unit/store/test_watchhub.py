"""WatchHub: fan-out, history replay and overflow, driven with hand-made events."""

from __future__ import annotations

import gc

import pytest
from storekit import take

from kubegate.store.base import Expired, WatchEvent, WatchTooSlow
from kubegate.store.common import decode, encode
from kubegate.store.watchhub import WatchHub

PREFIX = "/registry/services/default/"


def event(revision: int, name: str = "a", prefix: str = PREFIX) -> WatchEvent:
    obj = {"metadata": {"name": name}}
    raw = encode(obj, revision)
    return WatchEvent("ADDED", prefix + name, decode(raw), revision, raw)


def hub_with(*revisions: int, history: int = 100, queue_size: int = 100) -> WatchHub:
    hub = WatchHub(history=history, queue_size=queue_size)
    for revision in revisions:
        hub.publish(event(revision))
    return hub


async def test_publish_reaches_only_watchers_whose_prefix_matches() -> None:
    """An event goes to every matching watcher and to no other."""
    hub = WatchHub()
    mine, also_mine = hub.watch(PREFIX, 0), hub.watch("/registry/services/", 0)
    other = hub.watch("/registry/services/def/", 0)
    hub.publish(event(1))
    hub.publish(event(2, prefix="/registry/services/def/"))
    assert [e.revision for e in await take(mine, 1)] == [1]
    assert [e.revision for e in await take(also_mine, 2)] == [1, 2]
    assert [e.revision for e in await take(other, 1)] == [2]


async def test_publish_rejects_an_event_that_is_not_newer() -> None:
    """Events must arrive in strictly increasing revision order."""
    hub = hub_with(1, 2)
    with pytest.raises(ValueError):
        hub.publish(event(2))


async def test_expired_boundary_is_the_last_revision_dropped_from_history() -> None:
    """With history 3 after revisions 1-5, resuming from 2 works and from 1 is Expired."""
    hub = hub_with(1, 2, 3, 4, 5, history=3)
    assert hub.oldest_available == 2
    assert [e.revision for e in await take(hub.watch(PREFIX, 2), 3)] == [3, 4, 5]
    with pytest.raises(Expired):
        await anext(hub.watch(PREFIX, 1))


async def test_history_before_the_starting_revision_is_expired() -> None:
    """A hub started at revision 10 (a reopened store) cannot replay 9."""
    hub = WatchHub(10)
    with pytest.raises(Expired):
        await anext(hub.watch(PREFIX, 9))


async def test_expired_watch_is_not_registered() -> None:
    """A watch that failed with Expired does not take events."""
    hub = hub_with(1, 2, 3, history=1)
    expired = hub.watch(PREFIX, 1)
    assert hub.watcher_count == 0
    with pytest.raises(Expired):
        await anext(expired)


async def test_watch_from_a_future_revision_skips_events_up_to_it() -> None:
    """Only events after the requested revision are delivered."""
    hub = WatchHub()
    watch = hub.watch(PREFIX, 2)
    for revision in (1, 2, 3):
        hub.publish(event(revision))
    assert [e.revision for e in await take(watch, 1)] == [3]
    assert watch.revision == 3


async def test_replay_longer_than_the_buffer_does_not_overflow() -> None:
    """Replayed history does not count against the live buffer limit."""
    hub = hub_with(*range(1, 11), queue_size=2)
    watch = hub.watch(PREFIX, 1)
    hub.publish(event(11))
    assert [e.revision for e in await take(watch, 10)] == list(range(2, 12))


async def test_replay_rebuilds_objects_from_stored_bytes() -> None:
    """History keeps bytes; a replayed event equals the published one in a fresh object."""
    hub = WatchHub()
    hub.publish(event(1))
    published = event(2)
    hub.publish(published)
    [replayed] = await take(hub.watch(PREFIX, 1), 1)
    assert replayed == published
    assert replayed.object is not published.object


async def test_overflowing_watcher_fails_with_watch_too_slow_and_is_dropped() -> None:
    """A watcher whose buffer is full is failed and unregistered; others keep receiving."""
    hub = WatchHub(queue_size=2)
    slow, fast = hub.watch(PREFIX, 0), hub.watch(PREFIX, 0)
    for revision in (1, 2):
        hub.publish(event(revision))
    await take(fast, 2)
    hub.publish(event(3))
    assert hub.watcher_count == 1
    assert [e.revision for e in await take(fast, 1)] == [3]
    with pytest.raises(WatchTooSlow):
        await anext(slow)
    with pytest.raises(StopAsyncIteration):
        await anext(slow)


async def test_revision_is_the_last_handed_out_event_while_events_are_pending() -> None:
    """A watch with undelivered events reports only what it has handed out."""
    hub = WatchHub()
    watch = hub.watch(PREFIX, 0)
    hub.publish(event(1))
    hub.publish(event(2))
    await take(watch, 1)
    assert watch.revision == 1


async def test_revision_follows_the_hub_when_nothing_is_pending() -> None:
    """Events under other prefixes still move an idle watch's revision forward."""
    hub = WatchHub()
    watch = hub.watch(PREFIX, 0)
    hub.publish(event(1, prefix="/registry/pods/default/"))
    assert watch.revision == 1


async def test_dropped_watch_unregisters_itself() -> None:
    """A stream nobody references any more stops being fed."""
    hub = WatchHub()
    watch = hub.watch(PREFIX, 0)
    assert hub.watcher_count == 1
    del watch
    gc.collect()
    assert hub.watcher_count == 0


async def test_aclose_unregisters_and_ends_iteration() -> None:
    """After aclose the watcher is gone from the hub and iteration stops."""
    hub = WatchHub()
    watch = hub.watch(PREFIX, 0)
    await watch.aclose()
    hub.publish(event(1))
    assert hub.watcher_count == 0
    with pytest.raises(StopAsyncIteration):
        await anext(watch)


async def test_close_ends_current_and_later_watches() -> None:
    """Closing the hub ends open watches, and watches opened afterwards end at once."""
    hub = WatchHub()
    before = hub.watch(PREFIX, 0)
    hub.close()
    after = hub.watch(PREFIX, 0)
    for watch in (before, after):
        with pytest.raises(StopAsyncIteration):
            await anext(watch)


def test_history_and_queue_size_must_be_positive() -> None:
    """A hub without room for one event is a configuration error."""
    with pytest.raises(ValueError):
        WatchHub(history=0)
