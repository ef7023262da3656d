"""Leader election over a coordination.k8s.io/v1 Lease: the decisions, with no IO and no clock.

This is client-go's ``tryAcquireOrRenew`` (k8s.io/client-go/tools/leaderelection) as pure
functions. The loop that reads and writes the Lease lives in ``controllers/leaderelection``;
it passes in what it read, the time, and its identity, and writes what ``decide`` returns with
optimistic concurrency on the Lease's resourceVersion, so of two candidates deciding on the
same record only one write succeeds.

Expiry is judged as client-go judges it, on the candidate's *own* monotonic clock and never
on the holder's timestamps: a lease is valid until ``leaseDurationSeconds`` after the moment
this candidate last saw the record change (``Observation``). Clocks of different machines may
disagree; their rates, over a few seconds, do not.

    no Lease                        -> CREATE   (holder = me, transitions 0)
    holder == me                    -> RENEW    (acquireTime and transitions kept)
    holder empty, or lease expired  -> ACQUIRE  (holder = me, transitions + 1)
      (or ``takeover``: the store is this process's alone, any other holder is a dead
       earlier incarnation of it)
    otherwise                       -> WAIT     (someone else holds a valid lease)

Timestamps are kube's MicroTime (RFC 3339 with microseconds, UTC): ``2024-05-01T10:00:00.000000Z``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

# client-go's JitterFactor: RenewDeadline must exceed RetryPeriod by this factor.
JITTER_FACTOR = 1.2
# client-go's release sets the duration to 1 s so that observers forget the old holder quickly.
RELEASED_LEASE_SECONDS = 1


def micro_time(moment: datetime) -> str:
    """kube's MicroTime rendering of an aware datetime, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The fields of a Lease's ``spec`` that leader election reads and writes."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int = 0

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> LeaseRecord:
        """Read a Lease spec; absent or mistyped fields read as their zero value, as Go does."""
        spec = spec if isinstance(spec, Mapping) else {}
        return cls(
            holder_identity=_text(spec.get("holderIdentity")),
            lease_duration_seconds=_count(spec.get("leaseDurationSeconds")),
            acquire_time=_text(spec.get("acquireTime")) or None,
            renew_time=_text(spec.get("renewTime")) or None,
            lease_transitions=_count(spec.get("leaseTransitions")),
        )

    def to_spec(self) -> dict[str, Any]:
        """The Lease ``spec`` for this record (holderIdentity omitted when empty, as kube does)."""
        spec: dict[str, Any] = {}
        if self.holder_identity:
            spec["holderIdentity"] = self.holder_identity
        spec["leaseDurationSeconds"] = self.lease_duration_seconds
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        spec["leaseTransitions"] = self.lease_transitions
        return spec


@dataclass(frozen=True, slots=True)
class Observation:
    """A record as one candidate last saw it, and when (its monotonic clock) it last changed."""

    record: LeaseRecord
    observed_at: float

    def expired(self, now: float) -> bool:
        """Past ``leaseDurationSeconds`` since the record last changed, on our own clock."""
        return now >= self.observed_at + self.record.lease_duration_seconds


def observe(previous: Observation | None, record: LeaseRecord, now: float) -> Observation:
    """Fold a freshly read record into what we knew: the clock restarts only on a change."""
    if previous is not None and previous.record == record:
        return previous
    return Observation(record, now)


class Action(enum.Enum):
    CREATE = "create"  # no Lease yet: create it, holding it
    ACQUIRE = "acquire"  # take over a released or expired Lease
    RENEW = "renew"  # we hold it: bump renewTime
    WAIT = "wait"  # someone else holds a valid Lease


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    record: LeaseRecord | None  # what to write; None for WAIT
    holder: str  # who holds the lease if this decision's write succeeds (or holds it now)


def decide(
    observation: Observation | None,
    *,
    identity: str,
    lease_duration_seconds: int,
    now: float,
    wall_time: datetime,
    takeover: bool = False,
) -> Decision:
    """What a candidate should do about the Lease it observed (None: there is none)."""
    if not identity:
        raise ValueError("leader election needs a non-empty identity")
    stamp = micro_time(wall_time)
    mine = LeaseRecord(identity, lease_duration_seconds, stamp, stamp, 0)
    if observation is None:
        return Decision(Action.CREATE, mine, identity)
    current = observation.record
    if current.holder_identity == identity:
        renewed = replace(
            mine,
            acquire_time=current.acquire_time or stamp,
            lease_transitions=current.lease_transitions,
        )
        return Decision(Action.RENEW, renewed, identity)
    if current.holder_identity and not takeover and not observation.expired(now):
        return Decision(Action.WAIT, None, current.holder_identity)
    acquired = replace(mine, lease_transitions=current.lease_transitions + 1)
    return Decision(Action.ACQUIRE, acquired, identity)


def released(current: LeaseRecord, *, identity: str, wall_time: datetime) -> LeaseRecord | None:
    """The record that gives up our lease (client-go's release), or None if it is not ours."""
    if not identity or current.holder_identity != identity:
        return None
    stamp = micro_time(wall_time)
    return LeaseRecord("", RELEASED_LEASE_SECONDS, stamp, stamp, current.lease_transitions)


def check_timing(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """ValueError unless the durations make sense together (client-go's NewLeaderElector).

    The leader gives up after ``renew_deadline`` without a successful renewal; others take
    over only ``lease_duration`` after they last saw it renewed. Keeping the first below the
    second is what stops two replicas from leading at once when the leader loses the store."""
    if retry_period <= 0:
        raise ValueError("retryPeriod must be greater than zero")
    if lease_duration < 1 or lease_duration != int(lease_duration):
        raise ValueError("leaseDuration must be a whole number of seconds, at least 1")
    if lease_duration <= renew_deadline:
        raise ValueError("leaseDuration must be greater than renewDeadline")
    if renew_deadline <= JITTER_FACTOR * retry_period:
        raise ValueError(f"renewDeadline must be greater than retryPeriod*{JITTER_FACTOR}")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
