"""The ``kubegate`` command: thin argument parsing over the server and client packages."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kubegate import __version__
from kubegate.cli import clusterinfo_cmd, completion_cmd, proxy_cmd, serve_cmd, url_cmd

EPILOG = """\
commands:
  serve         run the Kubernetes-compatible API server and proxy
  proxy         a local proxy to the API server (a drop-in for kubectl proxy)
  cluster-info  the control plane and cluster service URLs (as kubectl cluster-info); dump
  url           the proxy URL of a service, pod or node (--check: verify it can work)
  completion    a shell completion script: source <(kubegate completion bash)
examples:
  kubegate serve --demo
  kubegate serve --secure-port 0 --store memory:
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubegate",
        description="Reach the services of a Kubernetes-style cluster through an authenticating proxy.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kubegate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve_cmd.register(sub)
    proxy_cmd.register(sub)
    clusterinfo_cmd.register(sub)
    url_cmd.register(sub)
    completion_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
