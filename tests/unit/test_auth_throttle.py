"""Failed-attempt throttling: per (source, user) and per source, never per user alone."""

from __future__ import annotations

from kubegate.auth.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, **kwargs: float) -> FailureThrottle:
    options = {"burst": 3, "refill_per_second": 1.0, "source_burst": 10}
    options.update(kwargs)
    return FailureThrottle(clock=clock, **options)  # type: ignore[arg-type]


def test_first_attempts_are_not_throttled() -> None:
    """A source and user with no failures may try at once."""
    t = throttle(Clock())
    assert t.retry_after("10.0.0.1", "alice") == 0


def test_failures_up_to_the_burst_are_allowed() -> None:
    """Fewer failures than the burst leave the door open."""
    t = throttle(Clock())
    for _ in range(2):
        t.failed("10.0.0.1", "alice")
    assert t.retry_after("10.0.0.1", "alice") == 0


def test_a_full_burst_of_failures_throttles_that_source_and_user() -> None:
    """After `burst` failures the next attempt must wait for a token to come back."""
    t = throttle(Clock())
    for _ in range(3):
        t.failed("10.0.0.1", "alice")
    assert t.retry_after("10.0.0.1", "alice") == 1.0


def test_tokens_come_back_with_time() -> None:
    """Waiting the advertised time opens the door again."""
    clock = Clock()
    t = throttle(clock)
    for _ in range(3):
        t.failed("10.0.0.1", "alice")
    clock.now += t.retry_after("10.0.0.1", "alice")
    assert t.retry_after("10.0.0.1", "alice") == 0


def test_the_same_user_from_another_source_is_not_throttled() -> None:
    """An attacker's failures never lock the real user out from elsewhere."""
    t = throttle(Clock())
    for _ in range(1000):
        t.failed("10.0.0.1", "alice")
    assert t.retry_after("10.0.0.2", "alice") == 0


def test_another_user_from_the_same_source_is_not_throttled_by_the_pair_bucket() -> None:
    """The (source, user) bucket is per user: another name from that source may try."""
    t = throttle(Clock())
    for _ in range(3):
        t.failed("10.0.0.1", "alice")
    assert t.retry_after("10.0.0.1", "bob") == 0


def test_spraying_many_users_from_one_source_is_throttled() -> None:
    """The per-source bucket catches one failure each against many user names."""
    t = throttle(Clock())
    for i in range(10):
        t.failed("10.0.0.1", f"user{i}")
    assert t.retry_after("10.0.0.1", "fresh-name") > 0


def test_success_resets_the_pair_bucket() -> None:
    """A correct password clears that (source, user)'s failures."""
    t = throttle(Clock())
    for _ in range(2):
        t.failed("10.0.0.1", "alice")
    t.succeeded("10.0.0.1", "alice")
    t.failed("10.0.0.1", "alice")
    assert t.retry_after("10.0.0.1", "alice") == 0


def test_bucket_count_is_bounded() -> None:
    """Failures over many keys keep at most max_keys buckets (oldest dropped first)."""
    t = throttle(Clock(), max_keys=5, source_burst=1000)
    for i in range(50):
        t.failed("10.0.0.1", f"user{i}")
    assert len(t._pairs._buckets) == 5
    assert ("10.0.0.1", "user49") in t._pairs._buckets
