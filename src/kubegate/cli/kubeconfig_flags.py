"""kubectl's kubeconfig flags, shared by every client command (cluster-info, url, proxy).

``add_kubeconfig_flags(parser)`` adds ``--kubeconfig``, ``--context``, ``--cluster``,
``--user`` and ``-n/--namespace``; ``client_config_from_args(args)`` turns them, the
environment and the working directory into a ``ClientConfig``. This is the edge where
``os.environ`` is read; ``KubeconfigError`` (its text is the line to print) propagates.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from kubegate.client.kubeconfig import ClientConfig
from kubegate.client.kubeconfig_loader import load_client_config

__all__ = ["KUBECONFIG_HELP", "add_kubeconfig_flags", "client_config_from_args"]

KUBECONFIG_HELP = """\
kubeconfig: --kubeconfig FILE, else the files listed in $KUBECONFIG (merged, the first to
define a name wins), else ~/.kube/config — the same rules and the same files as kubectl.
forward proxy: the cluster's proxy-url (http://, https://, socks5://, user:password@ allowed),
else $HTTPS_PROXY / $HTTP_PROXY less $NO_PROXY — as kubectl."""


def add_kubeconfig_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    namespace: bool = True,
    namespace_help: str = "the namespace (default: the context's, else default)",
    nested: bool = False,
) -> None:
    """Add kubectl's kubeconfig flags (``namespace=False`` for a command that takes none).

    ``nested=True`` for a sub-subcommand (``cluster-info dump``) whose parent has the same
    flags: unset flags then keep the value given before the sub-subcommand's name.
    """
    default = argparse.SUPPRESS if nested else None
    parser.add_argument(
        "--kubeconfig", metavar="FILE", default=default, help="path to the kubeconfig file to use"
    )
    parser.add_argument(
        "--context", metavar="NAME", default=default, help="the kubeconfig context to use"
    )
    parser.add_argument(
        "--cluster", metavar="NAME", default=default, help="the kubeconfig cluster to use"
    )
    parser.add_argument(
        "--user", metavar="NAME", default=default, help="the kubeconfig user to use"
    )
    if namespace:
        parser.add_argument("-n", "--namespace", metavar="NS", default=default, help=namespace_help)


def client_config_from_args(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ClientConfig:
    """The ``ClientConfig`` these flags select (raises ``KubeconfigError``)."""
    return load_client_config(
        kubeconfig=args.kubeconfig,
        context=args.context,
        cluster=args.cluster,
        user=args.user,
        namespace=getattr(args, "namespace", None),
        env=os.environ if env is None else env,
        cwd=Path.cwd() if cwd is None else cwd,
    )
