"""``kubegate serve``'s mirror-mode flags -> ``MirrorSettings`` (docs/mirror.md).

The upstream kubeconfig is loaded here, at the edge, with kubectl's rules
(``client/kubeconfig_loader.py``); ``--upstream-kubeconfig in-cluster`` uses the pod's
service-account token and CA, as client-go's in-cluster config. ``--mirror-proxy auto``
(the default) picks ``direct`` when kubegate runs in a pod — it can then reach endpoint
IPs — and ``via-apiserver`` otherwise.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from kubegate.client.kubeconfig import IN_CLUSTER_ROOT, ClientConfig, KubeconfigError
from kubegate.client.kubeconfig_loader import load_client_config
from kubegate.core.impersonation_policy import (
    DEFAULT_DENIED_GROUPS,
    ImpersonationDenyList,
    parse_deny_entries,
)
from kubegate.server.mirror_settings import DIRECT, PROXY_MODES, VIA_APISERVER, MirrorSettings

IN_CLUSTER = "in-cluster"
AUTO = "auto"


def add_mirror_flags(parser: argparse.ArgumentParser) -> None:
    mirror = parser.add_argument_group(
        "mirror mode (front a real cluster, read-only; see docs/mirror.md)"
    )
    mirror.add_argument(
        "--upstream-kubeconfig",
        default=None,
        metavar="PATH",
        help="mirror the cluster this kubeconfig reaches ('in-cluster': the pod's service account)",
    )
    mirror.add_argument(
        "--upstream-context", default=None, help="context of --upstream-kubeconfig to use"
    )
    mirror.add_argument(
        "--mirror-proxy",
        choices=(AUTO, *PROXY_MODES),
        default=AUTO,
        help="direct: dial endpoint IPs; via-apiserver: through the upstream's proxy "
        "subresource, impersonating the user; auto (default): direct inside a pod",
    )
    mirror.add_argument(
        "--mirror-rbac",
        action="store_true",
        help="also mirror Roles, ClusterRoles and their bindings: the upstream's RBAC "
        "then decides every request here",
    )
    mirror.add_argument(
        "--mirror-resync-period",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="list everything again this often (default 0: only after 410 Gone or errors)",
    )
    mirror.add_argument(
        "--mirror-impersonation-deny-groups",
        default=None,  # None: DEFAULT_DENIED_GROUPS; "" denies no group
        metavar="LIST",
        help="via-apiserver: refuse (403) to act upstream as a member of these groups "
        "(comma-separated; 'prefix*' matches by prefix; default: system:masters; "
        "'' refuses no group)",
    )
    mirror.add_argument(
        "--mirror-impersonation-deny-users",
        default="",
        metavar="LIST",
        help="via-apiserver: refuse (403) to act upstream as these users (comma-separated; "
        "'prefix*' matches by prefix, e.g. 'system:serviceaccount:*')",
    )
    mirror.add_argument("--mirror-backoff-max", type=float, default=30.0, help=argparse.SUPPRESS)
    mirror.add_argument("--mirror-watch-timeout", type=float, default=300.0, help=argparse.SUPPRESS)
    mirror.add_argument(
        "--mirror-watch-idle-timeout", type=float, default=135.0, help=argparse.SUPPRESS
    )


def mirror_settings(
    args: argparse.Namespace, env: Mapping[str, str], cwd: Path
) -> MirrorSettings | None:
    """The mirror settings the flags ask for (None: not mirror mode); ValueError if wrong."""
    if args.upstream_kubeconfig is None:
        extra = args.upstream_context or args.mirror_rbac or args.mirror_proxy != AUTO
        if extra:
            raise ValueError(
                "--upstream-context, --mirror-proxy and --mirror-rbac need --upstream-kubeconfig"
            )
        if args.mirror_impersonation_deny_users or (
            args.mirror_impersonation_deny_groups is not None
        ):
            raise ValueError("--mirror-impersonation-deny-* need --upstream-kubeconfig")
        return None
    if getattr(args, "demo", False):
        raise ValueError("--demo cannot be combined with --upstream-kubeconfig (mirror mode)")
    if str(getattr(args, "store", "") or "").startswith(("etcd:", "etcds:")):
        # Every replica would write the same mirrored objects into the shared store.
        raise ValueError(
            "mirror mode keeps the mirrored objects in each replica's own store: use "
            "--store memory: (or the default sqlite), not etcd"
        )
    if args.mirror_resync_period < 0:
        raise ValueError("--mirror-resync-period cannot be negative")
    if args.mirror_backoff_max <= 0 or args.mirror_watch_timeout < 1:
        raise ValueError("--mirror-backoff-max must be positive, --mirror-watch-timeout >= 1")
    if args.mirror_watch_idle_timeout <= 0:
        raise ValueError("--mirror-watch-idle-timeout must be positive")
    deny = _deny_list(args)
    try:
        upstream = _load_upstream(args.upstream_kubeconfig, args.upstream_context, env, cwd)
    except KubeconfigError as exc:
        text = str(exc).removeprefix("error: ")
        raise ValueError(f"--upstream-kubeconfig: {text}") from exc
    mode = args.mirror_proxy
    if mode == AUTO:
        mode = DIRECT if in_cluster(env) else VIA_APISERVER
    if mode == VIA_APISERVER and getattr(args, "apps_domain", ""):
        raise ValueError("--apps-domain works with --mirror-proxy direct only")
    explicit_deny = args.mirror_impersonation_deny_users or (
        args.mirror_impersonation_deny_groups is not None
    )
    if mode == DIRECT and explicit_deny:
        # Nothing is impersonated in direct mode: a deny list there would promise nothing.
        raise ValueError("--mirror-impersonation-deny-* apply to --mirror-proxy via-apiserver only")
    return MirrorSettings(
        upstream=upstream,
        proxy_mode=mode,
        rbac=args.mirror_rbac,
        resync_period=args.mirror_resync_period,
        backoff_max=args.mirror_backoff_max,
        watch_timeout=args.mirror_watch_timeout,
        watch_idle_timeout=args.mirror_watch_idle_timeout,
        impersonation_deny=deny,
    )


def _deny_list(args: argparse.Namespace) -> ImpersonationDenyList:
    groups_flag = args.mirror_impersonation_deny_groups
    try:
        groups = DEFAULT_DENIED_GROUPS if groups_flag is None else parse_deny_entries(groups_flag)
    except ValueError as exc:
        raise ValueError(f"--mirror-impersonation-deny-groups: {exc}") from exc
    try:
        users = parse_deny_entries(args.mirror_impersonation_deny_users)
    except ValueError as exc:
        raise ValueError(f"--mirror-impersonation-deny-users: {exc}") from exc
    return ImpersonationDenyList(users=users, groups=groups)


def in_cluster(env: Mapping[str, str], root: Path = IN_CLUSTER_ROOT) -> bool:
    """Whether this process runs in a pod (client-go's in-cluster test)."""
    return bool(env.get("KUBERNETES_SERVICE_HOST")) and (root / "token").exists()


def _load_upstream(
    kubeconfig: str, context: str | None, env: Mapping[str, str], cwd: Path
) -> ClientConfig:
    if kubeconfig == IN_CLUSTER:
        if context:
            raise ValueError(
                "--upstream-context does not apply to --upstream-kubeconfig in-cluster"
            )
        if not in_cluster(env):
            raise ValueError(
                "--upstream-kubeconfig in-cluster: not running in a pod "
                "(no KUBERNETES_SERVICE_HOST or service-account token)"
            )
        # Only the in-cluster variables: a KUBECONFIG or ~/.kube/config must not win.
        only = {k: v for k, v in env.items() if k.startswith("KUBERNETES_SERVICE_")}
        return load_client_config(
            kubeconfig=None,
            context=None,
            cluster=None,
            user=None,
            namespace=None,
            env=only,
            cwd=cwd,
        )
    return load_client_config(
        kubeconfig=kubeconfig,
        context=context,
        cluster=None,
        user=None,
        namespace=None,
        env=env,
        cwd=cwd,
    )
