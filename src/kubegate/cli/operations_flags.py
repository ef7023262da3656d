"""Flags of ``kubegate serve`` for operating it: TLS reload, restarts, proxy timeouts and the
audit-failure policy (kube-apiserver's names where one exists)."""

from __future__ import annotations

import argparse

from kubegate.cli.leader_flags import parse_seconds
from kubegate.server.operations_settings import AUDIT_MODES, OperationsSettings

_DEFAULTS = OperationsSettings()


def add_operations_flags(p: argparse.ArgumentParser, *, audit: argparse._ArgumentGroup) -> None:
    audit.add_argument(
        "--audit-log-mode",
        choices=AUDIT_MODES,
        default=_DEFAULTS.audit_log_mode,
        help="blocking-strict (default): while audit records cannot be written (disk full), "
        "requests are refused with 503 instead of being served unaudited; blocking: keep "
        "serving and count the lost records",
    )
    ops = p.add_argument_group("graceful operations")
    ops.add_argument(
        "--tls-reload-interval",
        type=parse_seconds,
        default=_DEFAULTS.tls_reload_interval,
        metavar="DURATION",
        help="how often the serving certificate, its key and the client CAs are checked for "
        "changes and reloaded without a restart; 0: never (default 5s)",
    )
    ops.add_argument(
        "--reuse-port",
        action="store_true",
        help="listen with SO_REUSEPORT, so that a new kubegate can bind the same port while "
        "this one drains (zero-downtime restart, docs/operations.md)",
    )
    ops.add_argument(
        "--max-connections",
        type=int,
        default=_DEFAULTS.max_connections,
        metavar="N",
        help="client connections open at once, WebSocket and other tunnels included (each "
        "tunnel also holds a backend connection); more are closed at accept (default 4096)",
    )
    ops.add_argument(
        "--shutdown-delay-duration",
        type=parse_seconds,
        default=_DEFAULTS.shutdown_delay,
        metavar="DURATION",
        help="after SIGTERM, keep serving with /readyz failing for this long before the "
        "listener closes, so load balancers notice first (default 0, as kube)",
    )
    proxy = p.add_argument_group("proxy timeouts")
    proxy.add_argument(
        "--proxy-response-header-timeout",
        type=parse_seconds,
        default=_DEFAULTS.proxy_response_header_timeout,
        metavar="DURATION",
        help="a backend that has not started its answer this long after the request went "
        "out gets 504 (default 60s)",
    )
    proxy.add_argument(
        "--proxy-idle-timeout",
        type=parse_seconds,
        default=_DEFAULTS.proxy_idle_timeout,
        metavar="DURATION",
        help="a proxied body (either way) that moves no byte for this long is cut "
        "(default 5m; upgraded connections have their own idle limit)",
    )


def operations_settings(args: argparse.Namespace) -> OperationsSettings:
    """The settings the flags ask for; ValueError for a timeout of 0."""
    if args.proxy_response_header_timeout <= 0 or args.proxy_idle_timeout <= 0:
        raise ValueError("proxy timeouts must be greater than 0")
    if args.max_connections < 1:
        raise ValueError("--max-connections must be at least 1")
    return OperationsSettings(
        tls_reload_interval=args.tls_reload_interval,
        reuse_port=args.reuse_port,
        max_connections=args.max_connections,
        shutdown_delay=args.shutdown_delay_duration,
        proxy_response_header_timeout=args.proxy_response_header_timeout,
        proxy_idle_timeout=args.proxy_idle_timeout,
        audit_log_mode=args.audit_log_mode,
    )
