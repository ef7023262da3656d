"""The leader election flags of ``kubegate serve`` (kube-controller-manager's names)."""

from __future__ import annotations

import argparse
import re

from kubegate.cli.authn_flags import parse_bool
from kubegate.controllers.leaderelection import ElectionConfig

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DEFAULTS = ElectionConfig()


def parse_seconds(value: str) -> float:
    """A Go duration (``15s``, ``500ms``, ``1m30s``) or a bare number of seconds."""
    try:
        seconds = float(value)
    except ValueError:
        parts = _PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise argparse.ArgumentTypeError(
                f"invalid duration {value!r} (e.g. 15s, 500ms, 1m)"
            ) from None
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"invalid duration {value!r}: negative")
    return seconds


def add_leader_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group(
        "leader election (one replica on a shared store runs the controllers)"
    )
    group.add_argument(
        "--leader-elect",
        metavar="BOOL",
        type=parse_bool,
        nargs="?",
        const=True,
        default=True,
        help="run the controllers only while holding the Lease "
        "kube-system/kubegate-controller-manager (default true)",
    )
    group.add_argument(
        "--leader-elect-lease-duration",
        type=parse_seconds,
        default=_DEFAULTS.lease_duration,
        metavar="DURATION",
        help="how long standbys wait after the last renewal they saw before taking over a "
        f"killed leader's Lease; whole seconds (default {_DEFAULTS.lease_duration:g}s)",
    )
    group.add_argument(
        "--leader-elect-renew-deadline",
        type=parse_seconds,
        default=_DEFAULTS.renew_deadline,
        metavar="DURATION",
        help="the leader stops its controllers when it could not renew for this long; "
        f"below the lease duration (default {_DEFAULTS.renew_deadline:g}s)",
    )
    group.add_argument(
        "--leader-elect-retry-period",
        type=parse_seconds,
        default=_DEFAULTS.retry_period,
        metavar="DURATION",
        help=f"time between attempts to acquire or renew (default {_DEFAULTS.retry_period:g}s)",
    )


def election_config(args: argparse.Namespace) -> ElectionConfig:
    """The ElectionConfig the flags ask for; ValueError when the durations do not fit."""
    config = ElectionConfig(
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period,
    )
    config.check()
    return config
