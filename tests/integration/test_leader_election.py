"""LeaderElector on real stores: several electors sharing one store play the replicas, and
the Lease they contend for is a real stored object with optimistic concurrency."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubegate.controllers.leaderelection import ElectionConfig, LeaderElector
from kubegate.store.base import JSON, KeyNotFound, StoreUnavailable
from kubegate.store.memory import MemoryStore
from kubegate.store.sqlite import SqliteStore

T = TypeVar("T")
FAST = ElectionConfig(lease_duration=2, renew_deadline=1.0, retry_period=0.1)
LEASE_KEY = "/registry/leases/kube-system/kubegate-controller-manager"


async def eventually(check: Callable[[], Awaitable[T] | T], within: float = 5.0) -> T:
    """Poll ``check`` until it stops raising AssertionError (or the timeout passes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            return result  # type: ignore[return-value]
        except AssertionError:
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.02)


class Replica:
    """One elector plus a record of whether its ``lead`` is running right now."""

    def __init__(self, store: Any, identity: str, config: ElectionConfig = FAST) -> None:
        self.leading = False
        self.terms = 0
        self.elector = LeaderElector(
            store, ElectionConfig(**{**_fields(config), "identity": identity}), self._lead
        )
        self.task: asyncio.Task[None] | None = None

    async def _lead(self) -> None:
        self.leading = True
        self.terms += 1
        try:
            await asyncio.Event().wait()
        finally:
            self.leading = False

    def start(self) -> Replica:
        self.task = asyncio.create_task(self.elector.run(), name=f"elector:{self.elector.identity}")
        return self

    async def stop(self) -> None:
        await self.elector.stop()
        assert self.task is not None
        await self.task

    async def kill(self) -> None:
        """Vanish without releasing anything, like a process killed with SIGKILL."""
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def _fields(config: ElectionConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__slots__}  # type: ignore[attr-defined]


class FlakyStore:
    """A store whose every call fails with StoreUnavailable while ``down`` is set."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.down = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailable("store is down")
            return await attribute(*args, **kwargs)

        return call


async def lease_spec(store: Any) -> JSON:
    return dict((await store.get(LEASE_KEY)).get("spec") or {})


async def test_exactly_one_of_three_replicas_leads(store: MemoryStore) -> None:
    """Three electors on one store: one runs ``lead`` and the Lease names it."""
    replicas = [Replica(store, f"r{n}").start() for n in range(3)]
    try:
        leader = await eventually(lambda: _only_leader(replicas))
        await asyncio.sleep(FAST.lease_duration)  # past a lease duration, still just one
        assert _only_leader(replicas) is leader
        assert (await lease_spec(store))["holderIdentity"] == leader.elector.identity
    finally:
        for replica in replicas:
            await replica.stop()


def _only_leader(replicas: list[Replica]) -> Replica:
    leading = [r for r in replicas if r.leading]
    assert len(leading) == 1, [r.elector.identity for r in leading]
    assert leading[0].elector.is_leader
    return leading[0]


async def test_the_lease_carries_kube_fields(store: MemoryStore) -> None:
    """The stored Lease is a coordination.k8s.io/v1 object with client-go's spec fields."""
    replica = Replica(store, "solo").start()
    try:
        await eventually(lambda: _only_leader([replica]))
        lease = await store.get(LEASE_KEY)
    finally:
        await replica.stop()
    assert (lease["apiVersion"], lease["kind"]) == ("coordination.k8s.io/v1", "Lease")
    assert lease["metadata"]["namespace"] == "kube-system" and lease["metadata"]["uid"]
    spec = lease["spec"]
    assert spec["holderIdentity"] == "solo" and spec["leaseDurationSeconds"] == 2
    assert spec["leaseTransitions"] == 0
    assert spec["acquireTime"].endswith("Z") and len(spec["renewTime"]) == 27


async def test_the_leader_renews_while_it_leads(store: MemoryStore) -> None:
    """renewTime moves forward every retry period; acquireTime stays put."""
    replica = Replica(store, "solo").start()
    try:
        await eventually(lambda: _only_leader([replica]))
        first = await lease_spec(store)
        await asyncio.sleep(FAST.retry_period * 4)
        later = await lease_spec(store)
    finally:
        await replica.stop()
    assert later["renewTime"] > first["renewTime"]
    assert later["acquireTime"] == first["acquireTime"]


async def test_stop_releases_and_a_successor_takes_over_at_once(store: MemoryStore) -> None:
    """A stopped leader clears holderIdentity; the other replica leads well before expiry."""
    config = ElectionConfig(lease_duration=30, renew_deadline=1.0, retry_period=0.1)
    first = Replica(store, "first", config).start()
    await eventually(lambda: _only_leader([first]))
    second = Replica(store, "second", config).start()
    try:
        await eventually(lambda: _assert_holder_seen(second, "first"))
        await first.stop()
        assert "holderIdentity" not in await lease_spec(store) or second.leading
        await eventually(lambda: _only_leader([first, second]), within=2.0)
        assert second.leading
        assert (await lease_spec(store))["leaseTransitions"] == 1
    finally:
        await second.stop()


def _assert_holder_seen(replica: Replica, holder: str) -> None:
    assert replica.elector.holder == holder


async def test_a_killed_leader_is_replaced_after_the_lease_expires(store: MemoryStore) -> None:
    """Without a release, the standby takes over only once the lease duration has passed
    since it last saw a renewal, and not before."""
    first = Replica(store, "first").start()
    await eventually(lambda: _only_leader([first]))
    second = Replica(store, "second").start()
    try:
        await eventually(lambda: _assert_holder_seen(second, "first"))
        loop = asyncio.get_running_loop()
        await first.kill()
        killed = loop.time()
        await eventually(lambda: _only_leader([second]), within=FAST.lease_duration * 3)
        waited = loop.time() - killed
        assert FAST.lease_duration - FAST.retry_period * 2 <= waited
        assert waited <= FAST.lease_duration + FAST.retry_period * 4
    finally:
        await second.stop()


async def test_a_leader_that_loses_the_store_stops_before_anyone_takes_over(
    store: MemoryStore,
) -> None:
    """Cut off from the store, the leader stops leading within the renew deadline, which is
    before the lease can expire for the standby: never two leaders at once."""
    flaky = FlakyStore(store)
    first = Replica(flaky, "first").start()
    await eventually(lambda: _only_leader([first]))
    second = Replica(store, "second").start()
    try:
        await eventually(lambda: _assert_holder_seen(second, "first"))
        loop = asyncio.get_running_loop()
        flaky.down = True
        cut = loop.time()
        stepped_down: float | None = None
        while not second.leading:
            await asyncio.sleep(0.01)
            if not first.leading and stepped_down is None:
                stepped_down = loop.time() - cut
            assert loop.time() - cut < FAST.lease_duration * 3
        assert not first.leading  # the standby leads only after the old leader stopped
        assert (
            stepped_down is not None and stepped_down <= FAST.renew_deadline + FAST.retry_period * 2
        )
        flaky.down = False  # back: the old leader must now just wait as a candidate
        await asyncio.sleep(FAST.retry_period * 5)
        assert second.leading and not first.leading
    finally:
        flaky.down = False
        await first.stop()
        await second.stop()


async def test_takeover_acquires_a_stale_lease_at_once(tmp_path: Path) -> None:
    """On a store only this process uses, the Lease of a dead predecessor (a different
    identity, not yet expired) is taken over on the first attempt."""
    sqlite = SqliteStore(str(tmp_path / "state.db"))
    await sqlite.start()
    slow = ElectionConfig(lease_duration=60, renew_deadline=5, retry_period=1)
    try:
        old = Replica(sqlite, "old", slow).start()
        await eventually(lambda: _only_leader([old]))
        await old.kill()
        config = ElectionConfig(lease_duration=60, renew_deadline=5, retry_period=1, takeover=True)
        new = Replica(sqlite, "new", config).start()
        try:
            await eventually(lambda: _only_leader([new]), within=0.5)
        finally:
            await new.stop()
        assert (await lease_spec(sqlite)).get("holderIdentity") is None
    finally:
        await sqlite.close()


async def test_without_takeover_a_stale_lease_makes_a_newcomer_wait(store: MemoryStore) -> None:
    """The counterpart of takeover: on a shared store a foreign, unexpired Lease is respected."""
    old = Replica(store, "old").start()
    await eventually(lambda: _only_leader([old]))
    await old.kill()
    new = Replica(store, "new").start()
    try:
        await asyncio.sleep(FAST.lease_duration / 2)
        assert not new.leading
    finally:
        await new.stop()


async def test_a_deleted_lease_is_recreated_by_the_leader(store: MemoryStore) -> None:
    """Someone deletes the Lease: the leader writes it again at its next renewal."""
    replica = Replica(store, "solo").start()
    try:
        await eventually(lambda: _only_leader([replica]))
        await store.delete(LEASE_KEY)

        async def recreated() -> None:
            try:
                assert (await lease_spec(store))["holderIdentity"] == "solo"
            except KeyNotFound:
                raise AssertionError("not yet") from None

        await eventually(recreated)
        assert replica.leading and replica.terms == 1
    finally:
        await replica.stop()


async def test_inconsistent_timing_is_refused(store: MemoryStore) -> None:
    """A renew deadline not below the lease duration is refused at construction."""

    async def lead() -> None:
        return None

    with pytest.raises(ValueError, match="leaseDuration must be greater"):
        LeaderElector(store, ElectionConfig(lease_duration=5, renew_deadline=5), lead)
