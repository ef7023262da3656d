"""Leader election: of several replicas on one store, exactly one runs the controllers.

The election is kube's (client-go's leaderelection over a coordination.k8s.io/v1 Lease): the
Lease ``kube-system/kubegate-controller-manager`` names its holder, and every replica runs
``LeaderElector.run``:

    candidate  read the Lease every retry period (the first time at once) and act on
               ``core.leaderelection.decide``: create it, wait, or take it over once it has
               not changed for ``lease_duration`` on our own clock. Writes carry the Lease's
               resourceVersion, so of two candidates only one can win.
    leader     run ``lead()`` (the controllers) in a task, and renew every retry period. A
               leader that cannot renew within ``renew_deadline`` (store down, partitioned)
               or finds someone else holding the Lease stops ``lead()`` and becomes a
               candidate again: since ``renew_deadline < lease_duration``, it has stopped
               before anyone else may take over.
    stop()     stop leading, then release the Lease (holder cleared), so a successor takes
               over at its next retry instead of waiting for expiry.

With ``takeover`` (a store only this process can use: sqlite, memory) a foreign holder can
only be this process's own dead predecessor, so the Lease is taken at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubegate.api import strategy
from kubegate.core.leaderelection import (
    Action,
    LeaseRecord,
    Observation,
    check_timing,
    decide,
    observe,
    released,
)
from kubegate.store.base import (
    JSON,
    KeyExists,
    KeyNotFound,
    Store,
    VersionConflict,
    object_key,
)

log = logging.getLogger(__name__)

LEASE_NAME = "kubegate-controller-manager"
LEASE_NAMESPACE = "kube-system"
# The acquire loop's retries are spread by up to this fraction of the retry period, so
# replicas started together do not hit the store in lockstep.
_JITTER = 0.2
# Names of the Lease spec fields leader election owns; anything else in the spec is kept.
_RECORD_FIELDS = (
    "holderIdentity",
    "leaseDurationSeconds",
    "acquireTime",
    "renewTime",
    "leaseTransitions",
)


def default_identity() -> str:
    """``hostname_uuid``, as kube-controller-manager names itself: unique per process."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class ElectionConfig:
    """Durations in seconds; defaults fail a killed leader over in about 10 s."""

    lease_duration: float = 8.0
    renew_deadline: float = 5.0
    retry_period: float = 1.0
    name: str = LEASE_NAME
    namespace: str = LEASE_NAMESPACE
    identity: str = ""  # "": default_identity()
    takeover: bool = False

    def check(self) -> None:
        check_timing(self.lease_duration, self.renew_deadline, self.retry_period)


class LeaderElector:
    """Runs ``lead()`` while this replica holds the Lease; see the module docstring."""

    def __init__(
        self, store: Store, config: ElectionConfig, lead: Callable[[], Awaitable[None]]
    ) -> None:
        config.check()
        self.config = config
        self.identity = config.identity or default_identity()
        self.key = object_key("leases", config.namespace, config.name)
        self._store = store
        self._lead = lead
        self._observation: Observation | None = None
        self._stopping = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False
        self._last_error = ""
        self.is_leader = False
        self.holder = ""  # the holder we last saw ("" unknown or none)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Campaign, lead, and campaign again, until ``stop()``."""
        if self._running or self._finished.is_set():
            raise RuntimeError("a LeaderElector runs only once")
        self._running = True
        try:
            while not self._stopping.is_set():
                if not await self._acquire():
                    break
                await self._hold()
        finally:
            self._running = False
            self._finished.set()

    async def stop(self) -> None:
        """Stop leading, release the Lease if we hold it, and wait until ``run`` has ended."""
        self._stopping.set()
        if self._running:
            await self._finished.wait()

    # -- campaigning -------------------------------------------------------------------------

    async def _acquire(self) -> bool:
        """Try now, then every retry period, until we lead (True) or are stopped (False)."""
        while not self._stopping.is_set():
            if await self._attempt(within=self.config.renew_deadline):
                return True
            delay = self.config.retry_period * (1 + _JITTER * random.random())
            if await self._stopped_within(delay):
                return False
        return False

    async def _hold(self) -> None:
        """Lead until we lose the Lease or are stopped; then stop leading (and release)."""
        loop = asyncio.get_running_loop()
        self._became_leader()
        lead = asyncio.create_task(self._run_lead(), name="leader-election:lead")
        last_renewal = loop.time()
        lost = ""
        try:
            while not lost and not self._stopping.is_set():
                if await self._stopped_within(self.config.retry_period, also=lead):
                    break
                if lead.done():
                    lost = "the controllers ended"
                    break
                remaining = last_renewal + self.config.renew_deadline - loop.time()
                if await self._attempt(within=max(remaining, 0.0)):
                    last_renewal = loop.time()
                elif self.holder and self.holder != self.identity:
                    lost = f"the lease is now held by {self.holder}"
                elif loop.time() >= last_renewal + self.config.renew_deadline:
                    lost = f"no renewal within {self.config.renew_deadline:g}s"
        finally:
            lead.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lead
            self.is_leader = False
            if lost:
                log.warning(
                    "leader election lost for lease %s/%s (%s): controllers stopped",
                    self.config.namespace,
                    self.config.name,
                    lost,
                )
            if lost or self._stopping.is_set():
                await self._release()

    async def _run_lead(self) -> None:
        try:
            await self._lead()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the controllers failed while leading")

    # -- one round trip ----------------------------------------------------------------------

    async def _attempt(self, *, within: float) -> bool:
        """One tryAcquireOrRenew within ``within`` seconds; True if we hold the Lease after."""
        try:
            async with asyncio.timeout(within):
                won = await self._try_acquire_or_renew()
        except (TimeoutError, VersionConflict, KeyExists, KeyNotFound) as exc:
            # Lost a race (someone wrote in between) or too slow: decide again next round.
            self._note_error(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return False
        except Exception as exc:  # the store is unavailable: keep trying, log once per cause
            self._note_error(str(exc) or type(exc).__name__)
            return False
        self._last_error = ""
        return won

    async def _try_acquire_or_renew(self) -> bool:
        loop = asyncio.get_running_loop()
        try:
            current: JSON | None = await self._store.get(self.key)
        except KeyNotFound:
            current = None
        if current is None:
            self._observation = None
        else:
            record = LeaseRecord.from_spec(current.get("spec"))
            self._observation = observe(self._observation, record, loop.time())
        decision = decide(
            self._observation,
            identity=self.identity,
            lease_duration_seconds=int(self.config.lease_duration),
            now=loop.time(),
            wall_time=datetime.now(UTC),
            takeover=self.config.takeover,
        )
        if decision.action is Action.WAIT:
            self._saw_holder(decision.holder)
            return False
        assert decision.record is not None
        if current is None:
            await self._store.create(self.key, self._new_lease(decision.record))
        else:
            await self._store.update(
                self.key,
                _with_record(current, decision.record),
                expected_revision=int(current["metadata"]["resourceVersion"]),
            )
        # Our own write: the clock for others' view of it starts now (client-go does the same).
        self._observation = Observation(decision.record, loop.time())
        if decision.action is Action.ACQUIRE and self.holder != self.identity:
            previous = current and LeaseRecord.from_spec(current.get("spec")).holder_identity
            log.info(
                "acquired lease %s/%s as %s (previous holder: %s)",
                self.config.namespace,
                self.config.name,
                self.identity,
                previous or "none",
            )
        elif decision.action is Action.CREATE:
            log.info(
                "created lease %s/%s as %s", self.config.namespace, self.config.name, self.identity
            )
        self.holder = self.identity
        return True

    async def _release(self) -> None:
        """Clear the holder if it is still us (bounded: a dead store must not stall shutdown)."""
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                current = await self._store.get(self.key)
                record = released(
                    LeaseRecord.from_spec(current.get("spec")),
                    identity=self.identity,
                    wall_time=datetime.now(UTC),
                )
                if record is None:
                    return
                await self._store.update(
                    self.key,
                    _with_record(current, record),
                    expected_revision=int(current["metadata"]["resourceVersion"]),
                )
        except Exception as exc:
            log.warning(
                "could not release lease %s/%s (%s); it expires in %gs",
                self.config.namespace,
                self.config.name,
                exc or type(exc).__name__,
                self.config.lease_duration,
            )
            return
        self.holder = ""
        self._observation = None
        log.info("released lease %s/%s", self.config.namespace, self.config.name)

    # -- helpers -----------------------------------------------------------------------------

    def _new_lease(self, record: LeaseRecord) -> JSON:
        lease: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.config.name},
            "spec": record.to_spec(),
        }
        return strategy.prepare_create("Lease", lease, namespace=self.config.namespace)

    def _became_leader(self) -> None:
        self.is_leader = True
        log.info(
            "leading: this replica (%s) now runs the controllers (lease %s/%s)",
            self.identity,
            self.config.namespace,
            self.config.name,
        )

    def _saw_holder(self, holder: str) -> None:
        if holder != self.holder:
            log.info(
                "lease %s/%s is held by %s; this replica waits",
                self.config.namespace,
                self.config.name,
                holder,
            )
        self.holder = holder

    def _note_error(self, message: str) -> None:
        if message != self._last_error:
            log.warning(
                "leader election on lease %s/%s: %s",
                self.config.namespace,
                self.config.name,
                message,
            )
        self._last_error = message

    async def _stopped_within(self, delay: float, also: asyncio.Task[Any] | None = None) -> bool:
        """Sleep ``delay`` seconds; True as soon as ``stop()`` is called. Returns early (False)
        if ``also`` finishes first."""
        stopping = asyncio.create_task(self._stopping.wait(), name="leader-election:sleep")
        waiting: set[asyncio.Future[Any]] = {stopping}
        if also is not None:
            waiting.add(also)
        try:
            await asyncio.wait(waiting, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        return self._stopping.is_set()


def _with_record(current: JSON, record: LeaseRecord) -> JSON:
    """``current`` with its spec's election fields replaced by ``record`` (others kept)."""
    lease = copy.deepcopy(current)
    spec = {k: v for k, v in (lease.get("spec") or {}).items() if k not in _RECORD_FIELDS}
    spec.update(record.to_spec())
    lease["spec"] = spec
    return lease
