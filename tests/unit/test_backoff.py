"""The reflector's backoff: exponential from the initial delay, jittered, never above the
maximum, and starting over after a quiet spell."""

from __future__ import annotations

import pytest

from kubegate.client.backoff import Backoff


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_delays_double_until_the_maximum_without_jitter():
    """0.5, 1, 2, 4, then capped at 5 for ever."""
    backoff = Backoff(initial=0.5, maximum=5.0, jitter=0.0, clock=Clock())
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_jitter_adds_up_to_the_factor_and_stays_under_the_maximum():
    """With the largest random draw a delay is doubled by jitter, yet never above maximum."""
    backoff = Backoff(initial=1.0, maximum=3.0, jitter=1.0, rng=lambda: 1.0, clock=Clock())
    assert [backoff.next_delay() for _ in range(3)] == [2.0, 3.0, 3.0]


def test_jitter_spreads_delays():
    """Different random draws give different delays for the same attempt."""
    draws = iter([0.0, 0.5])
    first = Backoff(initial=1.0, maximum=10.0, rng=lambda: next(draws), clock=Clock())
    second = Backoff(initial=1.0, maximum=10.0, rng=lambda: next(draws), clock=Clock())
    assert first.next_delay() != second.next_delay()


def test_a_quiet_spell_starts_again_from_the_initial_delay():
    """No failure for longer than reset_after: the next delay is the initial one."""
    clock = Clock()
    backoff = Backoff(initial=1.0, maximum=30.0, jitter=0.0, reset_after=60.0, clock=clock)
    assert [backoff.next_delay() for _ in range(3)] == [1.0, 2.0, 4.0]
    clock.now += 61.0
    assert backoff.next_delay() == 1.0


def test_reset_starts_again_from_the_initial_delay():
    """reset() forgets the failures so far."""
    backoff = Backoff(initial=1.0, maximum=30.0, jitter=0.0, clock=Clock())
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_many_failures_do_not_overflow():
    """After thousands of failures the delay is still the maximum (no float overflow)."""
    backoff = Backoff(initial=0.1, maximum=30.0, jitter=0.0, clock=Clock())
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 30.0


@pytest.mark.parametrize(
    "kwargs", [{"initial": 0.0}, {"initial": 2.0, "maximum": 1.0}, {"factor": 0.5}, {"jitter": -1}]
)
def test_nonsense_settings_are_refused(kwargs):
    """A backoff that could not grow or could go negative is a ValueError."""
    with pytest.raises(ValueError):
        Backoff(**kwargs)
