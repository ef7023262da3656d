"""``kubegate serve``: flags (kube-apiserver's names where one exists) -> ServeSettings."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kubegate.cli.authn_flags import add_authn_flags, authn_settings
from kubegate.cli.leader_flags import add_leader_flags, election_config
from kubegate.cli.mirror_flags import add_mirror_flags, mirror_settings
from kubegate.cli.operations_flags import add_operations_flags, operations_settings
from kubegate.core.app_hosts import is_valid_apps_domain
from kubegate.server.limits import LimitSettings
from kubegate.server.logging_setup import configure_logging
from kubegate.server.settings import (
    PROXY_REWRITE_MAX_BYTES,
    PROXY_REWRITE_MEMO_BYTES,
    ServeSettings,
)

EXAMPLES = """\
examples:
  # a server with demo services on https://127.0.0.1:6443, state in ./.kubegate
  kubegate serve --demo
  kubectl --kubeconfig .kubegate/admin.kubeconfig get svc -A
  # an ephemeral server on a free port (the bound address is printed)
  kubegate serve --secure-port 0 --store memory: --data-dir /tmp/kg
  kubectl --kubeconfig /tmp/kg/admin.kubeconfig get svc -A
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve",
        help="run the Kubernetes-compatible API server and proxy",
        description="Run the Kubernetes-compatible API server (and its proxy) on one HTTPS port.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    net = p.add_argument_group("secure serving")
    net.add_argument(
        "--bind-address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    net.add_argument(
        "--secure-port",
        type=int,
        default=6443,
        help="HTTPS port; 0 picks a free port (default 6443)",
    )
    net.add_argument(
        "--advertise-address",
        default=None,
        help="address clients use to reach this server (added to the serving certificate)",
    )
    net.add_argument(
        "--tls-cert-file",
        type=Path,
        default=None,
        help="serving certificate (default: generated in the data dir)",
    )
    net.add_argument(
        "--tls-private-key-file", type=Path, default=None, help="key of --tls-cert-file"
    )
    net.add_argument(
        "--shutdown-grace",
        type=float,
        default=10.0,
        help="seconds to drain in-flight requests on SIGTERM",
    )
    auth = p.add_argument_group("authentication")
    auth.add_argument(
        "--client-ca-file",
        type=Path,
        default=None,
        help="extra CA bundle for x509 client certificates (the data dir CA is always trusted)",
    )
    add_authn_flags(auth)
    authz = p.add_argument_group("authorization")
    authz.add_argument(
        "--authorization-mode",
        choices=("RBAC", "AlwaysAllow"),
        default="RBAC",
        help="RBAC (default): Roles and bindings decide; AlwaysAllow: every authenticated "
        "request is allowed (insecure, for experiments only)",
    )
    storage = p.add_argument_group("storage")
    storage.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".kubegate"),
        help="where certificates, kubeconfig and the default store live (default ./.kubegate)",
    )
    storage.add_argument(
        "--store",
        default="",
        help="sqlite:PATH (default sqlite:<data-dir>/state.db), memory:, or "
        "etcd://HOST:PORT[,HOST:PORT][/PREFIX] (etcds:// for TLS; see docs/ha.md)",
    )
    cluster = p.add_argument_group("cluster")
    cluster.add_argument(
        "--service-cluster-ip-range", default="10.96.0.0/12", help="CIDR for Service cluster IPs"
    )
    cluster.add_argument(
        "--demo", action="store_true", help="seed kube-system with real demo services"
    )
    cluster.add_argument(
        "--watch-bookmark-interval", type=float, default=30.0, help=argparse.SUPPRESS
    )
    proxy = p.add_argument_group("proxy")
    proxy.add_argument(
        "--proxy-allow-cidrs",
        default="",
        help="comma-separated CIDRs the proxy may reach although refused by default (e.g. 127.0.0.0/8)",
    )
    proxy.add_argument(
        "--proxy-ca-file",
        type=Path,
        default=None,
        help="verify https backends against this CA bundle (default: no verification, as kube)",
    )
    proxy.add_argument(
        "--proxy-rewrite-max-bytes",
        type=int,
        default=PROXY_REWRITE_MAX_BYTES,
        metavar="N",
        help="rewrite at most the first N bytes of each proxied HTML/CSS body; the rest "
        "passes unchanged (default 10 MiB)",
    )
    proxy.add_argument(
        "--proxy-rewrite-memo-bytes",
        type=int,
        default=PROXY_REWRITE_MEMO_BYTES,
        metavar="N",
        help="keep up to N bytes of rewritten bodies (HTML, CSS, worker scripts; originals "
        "and outputs, each original at most 1 MiB) so that a byte-identical body is not "
        "rewritten again; 0 turns this off (default 32 MiB)",
    )
    proxy.add_argument(
        "--apps-domain",
        default="",
        metavar="DOMAIN",
        help="also serve each service port on its own origin, "
        "https://<port>--<service>--<namespace>.DOMAIN:<secure-port>/ (e.g. apps.localhost, "
        "which browsers resolve to loopback; otherwise point a wildcard DNS record here)",
    )
    proxy.add_argument(
        "--apps-main-host",
        default="",
        metavar="HOST",
        help="the host name users reach kubegate's own pages at, where app origins send "
        "browsers to sign in (default: localhost for *.localhost app domains, else the "
        "advertise address)",
    )
    audit = p.add_argument_group("audit")
    audit.add_argument(
        "--audit-log-path",
        default="",
        help="write audit.k8s.io/v1 Event JSON lines to this file ('-' for standard output; default off)",
    )
    audit.add_argument(
        "--audit-policy-file",
        type=Path,
        default=None,
        help="audit.k8s.io/v1 Policy (YAML) choosing each request's level (default: Metadata for all)",
    )
    audit.add_argument(
        "--audit-log-maxsize",
        type=int,
        default=100,
        help="MiB after which the audit log is rotated; 0 never rotates (default 100)",
    )
    audit.add_argument(
        "--audit-log-maxbackups",
        type=int,
        default=10,
        help="rotated audit logs to keep; 0 keeps all (default 10)",
    )
    audit.add_argument(
        "--audit-log-maxage",
        type=int,
        default=0,
        help="days to keep rotated audit logs; 0 keeps them whatever their age (default 0)",
    )
    audit.add_argument("--audit-log-maxsize-bytes", type=int, default=None, help=argparse.SUPPRESS)
    add_limit_flags(p)
    add_leader_flags(p)
    add_mirror_flags(p)
    add_operations_flags(p, audit=audit)
    logs = p.add_argument_group("logging and metrics")
    logs.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: one JSON object per line, with the Audit-Id of the "
        "request a line was logged in",
    )
    logs.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    logs.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per request: method, path (no query), status, duration, user, "
        "audit id, bytes (default off)",
    )
    logs.add_argument(
        "--metrics-proxy-target-labels",
        type=int,
        default=0,
        metavar="N",
        help="also count proxied requests per target namespace/name in /metrics, for at most "
        "N targets (later ones as _other); default 0: by target kind only",
    )
    p.set_defaults(run=run)


def add_limit_flags(p: argparse.ArgumentParser) -> None:
    limits = p.add_argument_group("limits (429 Too Many Requests with Retry-After past them)")
    limits.add_argument(
        "--max-requests-inflight",
        type=int,
        default=400,
        help="read-only requests served at once; 0: no limit (default 400, as kube)",
    )
    limits.add_argument(
        "--max-mutating-requests-inflight",
        type=int,
        default=200,
        help="mutating requests served at once; 0: no limit (default 200, as kube)",
    )
    limits.add_argument(
        "--max-long-running-requests",
        type=int,
        default=1000,
        help="watches and proxy/exec/attach/log/portforward requests open at once; "
        "0: no limit (default 1000)",
    )
    limits.add_argument(
        "--user-rate-limit",
        type=float,
        default=0.0,
        metavar="QPS",
        help="requests per second per user (token bucket); default 0: off",
    )
    limits.add_argument(
        "--user-rate-burst",
        type=int,
        default=0,
        help="requests a user may send at once above the rate; default: the rate, rounded up",
    )


def limit_settings(args: argparse.Namespace) -> LimitSettings:
    """The limits the flags ask for; ValueError for a negative value."""
    settings = LimitSettings(
        max_requests_inflight=args.max_requests_inflight,
        max_mutating_requests_inflight=args.max_mutating_requests_inflight,
        max_long_running_requests=args.max_long_running_requests,
        user_rate_limit=args.user_rate_limit,
        user_rate_burst=args.user_rate_burst,
    )
    settings.check()
    return settings


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_format, verbose=args.verbose)
    if (args.tls_cert_file is None) != (args.tls_private_key_file is None):
        print("error: --tls-cert-file and --tls-private-key-file go together", file=sys.stderr)
        return 2
    if min(args.audit_log_maxsize, args.audit_log_maxbackups, args.audit_log_maxage) < 0:
        print("error: --audit-log-max* values cannot be negative", file=sys.stderr)
        return 2
    if args.apps_domain and not is_valid_apps_domain(args.apps_domain.strip().lower().strip(".")):
        print(
            f"error: --apps-domain {args.apps_domain!r} is not a DNS name like apps.localhost",
            file=sys.stderr,
        )
        return 2
    try:
        authn = authn_settings(args)
        limits = limit_settings(args)
        election = election_config(args)
        mirror = mirror_settings(args, os.environ, Path.cwd())
        operations = operations_settings(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = ServeSettings(
        bind_address=args.bind_address,
        secure_port=args.secure_port,
        advertise_address=args.advertise_address,
        data_dir=args.data_dir,
        store_url=args.store,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        client_ca_file=args.client_ca_file,
        service_cluster_ip_range=args.service_cluster_ip_range,
        demo=args.demo,
        shutdown_grace=args.shutdown_grace,
        watch_bookmark_interval=args.watch_bookmark_interval,
        log_format=args.log_format,
        access_log=args.access_log,
        metrics_proxy_target_labels=max(0, args.metrics_proxy_target_labels),
        limits=limits,
        leader_elect=args.leader_elect,
        leader_election=election,
        proxy_allow_cidrs=tuple(c.strip() for c in args.proxy_allow_cidrs.split(",") if c.strip()),
        proxy_ca_file=args.proxy_ca_file,
        proxy_rewrite_max_bytes=max(0, args.proxy_rewrite_max_bytes),
        proxy_rewrite_memo_bytes=max(0, args.proxy_rewrite_memo_bytes),
        apps_domain=args.apps_domain.strip().lower().strip("."),
        apps_main_host=args.apps_main_host.strip().lower(),
        authorization_mode=args.authorization_mode,
        audit_log_path=args.audit_log_path,
        audit_policy_file=args.audit_policy_file,
        audit_log_max_bytes=(
            args.audit_log_maxsize * 1024 * 1024
            if args.audit_log_maxsize_bytes is None
            else args.audit_log_maxsize_bytes
        ),
        audit_log_max_backups=args.audit_log_maxbackups,
        audit_log_max_age_days=args.audit_log_maxage,
        authn=authn,
        mirror=mirror,
        operations=operations,
    )
    import uvloop

    from kubegate.cli.process_limits import raise_and_log_open_file_limit
    from kubegate.server.serve import serve_forever
    from kubegate.store.base import StoreError

    raise_and_log_open_file_limit()  # before anything opens a descriptor
    try:
        uvloop.run(serve_forever(settings))
    except StoreError as exc:  # e.g. etcd unreachable at startup
        print(f"error: cannot open the store: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
