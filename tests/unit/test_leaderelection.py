"""Leader election decisions over a Lease (kubegate.core.leaderelection), as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kubegate.core.leaderelection import (
    Action,
    LeaseRecord,
    Observation,
    check_timing,
    decide,
    micro_time,
    observe,
    released,
)

WALL = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
STAMP = "2024-05-01T10:00:00.123456Z"
EARLIER = "2024-05-01T09:00:00.000000Z"


def held_by(holder: str, *, duration: int = 8, transitions: int = 3) -> LeaseRecord:
    return LeaseRecord(holder, duration, EARLIER, EARLIER, transitions)


def decision(observation: Observation | None, *, now: float = 100.0, takeover: bool = False):
    return decide(
        observation,
        identity="me",
        lease_duration_seconds=8,
        now=now,
        wall_time=WALL,
        takeover=takeover,
    )


@pytest.mark.parametrize(
    ("observation", "now", "takeover", "action", "holder"),
    [
        (None, 100.0, False, Action.CREATE, "me"),
        (Observation(held_by("me"), 0.0), 100.0, False, Action.RENEW, "me"),
        (Observation(held_by("other"), 95.0), 100.0, False, Action.WAIT, "other"),
        (Observation(held_by("other"), 92.0), 100.0, False, Action.ACQUIRE, "me"),
        (Observation(held_by("other"), 92.1), 100.0, False, Action.WAIT, "other"),
        (Observation(held_by(""), 99.9), 100.0, False, Action.ACQUIRE, "me"),
        (Observation(held_by("other"), 99.9), 100.0, True, Action.ACQUIRE, "me"),
        (Observation(held_by("other", duration=0), 100.0), 100.0, False, Action.ACQUIRE, "me"),
    ],
    ids=[
        "no-lease-creates",
        "own-lease-renews-even-if-old",
        "valid-foreign-lease-waits",
        "expired-foreign-lease-acquires",
        "just-before-expiry-waits",
        "released-lease-acquires-at-once",
        "takeover-ignores-a-valid-foreign-lease",
        "zero-duration-is-expired",
    ],
)
def test_decide_chooses_the_action(
    observation: Observation | None, now: float, takeover: bool, action: Action, holder: str
) -> None:
    """Each situation maps to client-go's action and names the resulting holder."""
    got = decision(observation, now=now, takeover=takeover)
    assert (got.action, got.holder) == (action, holder)
    assert (got.record is None) == (action is Action.WAIT)


def test_create_writes_a_fresh_record() -> None:
    """A new Lease holds our identity, our duration, both times now and no transitions."""
    assert decision(None).record == LeaseRecord("me", 8, STAMP, STAMP, 0)


def test_renew_keeps_acquire_time_and_transitions() -> None:
    """Renewing moves only renewTime (and the duration to ours)."""
    got = decision(Observation(held_by("me", duration=15, transitions=4), 0.0))
    assert got.record == LeaseRecord("me", 8, EARLIER, STAMP, 4)


def test_acquire_counts_a_transition() -> None:
    """Taking over from someone else bumps leaseTransitions and restarts acquireTime."""
    got = decision(Observation(held_by("other", transitions=3), 0.0))
    assert got.record == LeaseRecord("me", 8, STAMP, STAMP, 4)


def test_decide_refuses_an_empty_identity() -> None:
    """An empty identity would read as "nobody holds it" to everyone else."""
    with pytest.raises(ValueError, match="identity"):
        decide(None, identity="", lease_duration_seconds=8, now=0.0, wall_time=WALL)


def test_observe_restarts_the_clock_only_on_a_change() -> None:
    """Re-reading the same record keeps the first observation time; a renewal resets it."""
    first = observe(None, held_by("other"), 10.0)
    same = observe(first, held_by("other"), 20.0)
    renewed = observe(same, LeaseRecord("other", 8, EARLIER, STAMP, 3), 30.0)
    assert (first.observed_at, same.observed_at, renewed.observed_at) == (10.0, 10.0, 30.0)


def test_release_clears_the_holder_of_our_own_lease() -> None:
    """Released: no holder, a 1 s duration, transitions unchanged (client-go's release)."""
    got = released(held_by("me", transitions=5), identity="me", wall_time=WALL)
    assert got == LeaseRecord("", 1, STAMP, STAMP, 5)
    assert "holderIdentity" not in got.to_spec()


def test_release_leaves_someone_elses_lease_alone() -> None:
    """A replica that is not the holder has nothing to release."""
    assert released(held_by("other"), identity="me", wall_time=WALL) is None


@pytest.mark.parametrize(
    ("spec", "record"),
    [
        (
            {
                "holderIdentity": "a",
                "leaseDurationSeconds": 15,
                "acquireTime": EARLIER,
                "renewTime": STAMP,
                "leaseTransitions": 2,
            },
            LeaseRecord("a", 15, EARLIER, STAMP, 2),
        ),
        ({}, LeaseRecord()),
        (None, LeaseRecord()),
        (
            {"holderIdentity": 7, "leaseDurationSeconds": "15", "leaseTransitions": True},
            LeaseRecord(),
        ),
    ],
    ids=["full", "empty", "missing", "mistyped"],
)
def test_record_reads_a_lease_spec(spec: object, record: LeaseRecord) -> None:
    """Absent or mistyped fields read as zero values instead of failing."""
    assert LeaseRecord.from_spec(spec) == record  # type: ignore[arg-type]


def test_record_round_trips_through_a_spec() -> None:
    """to_spec writes kube's field names and from_spec reads them back."""
    record = LeaseRecord("a", 15, EARLIER, STAMP, 2)
    assert LeaseRecord.from_spec(record.to_spec()) == record


def test_micro_time_is_utc_with_microseconds() -> None:
    """MicroTime renders in UTC with six fractional digits, whatever the input zone."""
    moment = WALL.astimezone(timezone(timedelta(hours=2)))
    assert micro_time(moment) == STAMP


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "message"),
    [
        (8, 5, 0, "retryPeriod must be greater than zero"),
        (8.5, 5, 1, "whole number"),
        (5, 5, 1, "leaseDuration must be greater than renewDeadline"),
        (8, 1.2, 1, "renewDeadline must be greater than retryPeriod"),
    ],
)
def test_check_timing_refuses_inconsistent_durations(
    lease: float, renew: float, retry: float, message: str
) -> None:
    """Durations that could let two leaders overlap, or never renew, are refused."""
    with pytest.raises(ValueError, match=message):
        check_timing(lease, renew, retry)


def test_check_timing_accepts_the_defaults() -> None:
    """kubegate's defaults (8 s / 5 s / 1 s) and client-go's (15 s / 10 s / 2 s) are valid."""
    check_timing(8, 5, 1)
    check_timing(15, 10, 2)
