"""The leader election flags of ``kubegate serve`` (kubegate.cli.leader_flags)."""

from __future__ import annotations

import argparse

import pytest

from kubegate.cli.leader_flags import add_leader_flags, election_config, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("500ms", 0.5), ("1m30s", 90.0), ("2", 2.0), ("0.25", 0.25), ("1.5s", 1.5)],
)
def test_parse_seconds_reads_go_durations_and_numbers(text: str, seconds: float) -> None:
    """Go durations and bare numbers both mean seconds."""
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "15x", "15s junk", "-1", "1h-2s"])
def test_parse_seconds_refuses_garbage(text: str) -> None:
    """Anything that is not a duration is a usage error, not a silent default."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse_seconds(text)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_leader_flags(parser)
    return parser.parse_args(argv)


def test_defaults_fail_over_well_within_fifteen_seconds() -> None:
    """Default lease duration plus two retry periods stays under the 15 s failover bound."""
    config = election_config(parse())
    assert parse().leader_elect is True
    assert config.lease_duration + 2 * config.retry_period < 15


def test_flags_set_the_durations_and_can_turn_election_off() -> None:
    """--leader-elect=false and the three durations reach the settings."""
    args = parse(
        "--leader-elect=false",
        "--leader-elect-lease-duration=3s",
        "--leader-elect-renew-deadline=2s",
        "--leader-elect-retry-period=500ms",
    )
    config = election_config(args)
    assert args.leader_elect is False
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (3, 2, 0.5)


def test_inconsistent_durations_are_refused() -> None:
    """A renew deadline at or above the lease duration is a configuration error."""
    with pytest.raises(ValueError, match="leaseDuration must be greater than renewDeadline"):
        election_config(parse("--leader-elect-renew-deadline=8s"))
