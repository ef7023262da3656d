"""``kubegate proxy``: kubectl proxy's flags (names, defaults, checks, messages) -> LocalProxy."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import secrets
import signal
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from kubegate.cli.kubeconfig_flags import (
    KUBECONFIG_HELP,
    add_kubeconfig_flags,
    client_config_from_args,
)
from kubegate.client.kubeconfig import KubeconfigError
from kubegate.client.proxy_filters import (
    DEFAULT_ACCEPT_HOSTS,
    DEFAULT_ACCEPT_PATHS,
    DEFAULT_REJECT_METHODS,
    DEFAULT_REJECT_PATHS,
    FilterRules,
    PatternError,
)
from kubegate.client.service_mode import parse_service_target

DEFAULT_PORT = 8001
EXAMPLES = f"""\
examples:
  # the whole API on localhost:8001, as kubectl proxy
  kubegate proxy
  # the seed example: a cluster service through the local port
  kubegate proxy --port 8080 &
  curl http://localhost:8080/api/v1/namespaces/kube-system/services/echo/proxy/
  # a free port (the chosen one is printed: "Starting to serve on 127.0.0.1:NNNN")
  kubegate proxy -p 0
  # one service at the root of a local port (load-balanced, survives pod restarts)
  kubegate proxy --service kube-system/webapp --local-port 8080
  # callers must present a token (printed) as "Authorization: Bearer" or X-Kubegate-Proxy-Token
  kubegate proxy --generate-token
  # static files under /static/ and the API under /api/ only
  kubegate proxy --www ./site --www-prefix /static/ --api-prefix /api/

{KUBECONFIG_HELP}
"""
_DURATION = re.compile(r"((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|ms|s|m|h))")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """A Go ``time.Duration`` flag value (``0``, ``30s``, ``1m30s``, ``500ms``) in seconds."""
    if text in ("0", "+0", "-0"):
        return 0.0
    parts = _DURATION.split(text)
    if len(parts) < 3 or any(parts[0::2]):
        raise ValueError(
            f'invalid argument "{text}" for "--keepalive" flag: time: invalid duration "{text}"'
        )
    total = 0.0
    for part in parts[1::2]:
        number = re.match(r"[0-9.]+", part)
        assert number is not None
        total += float(number.group()) * _UNIT_SECONDS[part[number.end() :]]
    return total


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "proxy",
        help="run a local proxy to the API server (a drop-in for kubectl proxy)",
        description=(
            "Creates a proxy server between localhost and the Kubernetes API server, with "
            "kubectl proxy's flags and filters. The kubeconfig's credentials are added to "
            "each request; bodies, watches, server-sent events and WebSocket/SPDY upgrades "
            "stream through. Cross-site browser requests and DNS-rebinding Host headers are "
            "refused."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-p",
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="the port on which to run the proxy; 0 picks a random port (default 8001)",
    )
    p.add_argument(
        "--address",
        default="127.0.0.1",
        help="the IP address on which to serve (default 127.0.0.1)",
    )
    p.add_argument(
        "-u", "--unix-socket", default="", help="Unix socket on which to run the proxy (mode 0600)"
    )
    p.add_argument(
        "--accept-hosts",
        default=DEFAULT_ACCEPT_HOSTS,
        help=f"regular expressions for hosts to accept (default {DEFAULT_ACCEPT_HOSTS})",
    )
    p.add_argument(
        "--accept-paths",
        default=DEFAULT_ACCEPT_PATHS,
        help=f"regular expressions for paths to accept (default {DEFAULT_ACCEPT_PATHS})",
    )
    p.add_argument(
        "--reject-paths",
        default=DEFAULT_REJECT_PATHS,
        help=f"regular expressions for paths to reject (default {DEFAULT_REJECT_PATHS})",
    )
    p.add_argument(
        "--reject-methods",
        default=DEFAULT_REJECT_METHODS,
        help=f"regular expressions for HTTP methods to reject (default {DEFAULT_REJECT_METHODS})",
    )
    p.add_argument(
        "--api-prefix", default="/", help="prefix to serve the proxied API under (default /)"
    )
    p.add_argument("-w", "--www", default="", help="also serve static files from this directory")
    p.add_argument(
        "-P",
        "--www-prefix",
        default="/static/",
        help="prefix to serve static files under, with --www (default /static/)",
    )
    p.add_argument(
        "--disable-filter",
        action="store_true",
        help="disable the request filter (dangerous: open to XSRF when the port is reachable)",
    )
    p.add_argument(
        "--keepalive",
        default="0",
        help="TCP keep-alive period of upgraded connections, e.g. 30s (default 0: 15s)",
    )
    p.add_argument(
        "--append-server-path",
        action="store_true",
        help="prefix each request with the path of the kubeconfig's server URL",
    )
    extra = p.add_argument_group("kubegate additions")
    extra.add_argument(
        "--token-file",
        metavar="PATH",
        default=None,
        help="callers must present the token in this file (Authorization: Bearer "
        "or X-Kubegate-Proxy-Token); with --generate-token it is written there",
    )
    extra.add_argument(
        "--generate-token", action="store_true", help="require a random token, printed on start"
    )
    extra.add_argument(
        "--service",
        metavar="NS/NAME[:PORT]",
        default=None,
        help="serve this Service at the root / of the local port",
    )
    extra.add_argument(
        "--local-port",
        type=int,
        dest="port",
        default=argparse.SUPPRESS,
        help="the local port (same as --port), for --service",
    )
    extra.add_argument("-v", "--verbose", action="store_true", help="log each refusal and error")
    add_kubeconfig_flags(p.add_argument_group("kubeconfig"))
    p.set_defaults(run=run)


def _with_slash(prefix: str) -> str:
    return prefix if prefix.endswith("/") else prefix + "/"


def _token(args: argparse.Namespace, out: TextIO) -> str | None:
    if args.generate_token:
        token = secrets.token_urlsafe(32)
        if args.token_file:
            path = Path(args.token_file)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(token + "\n")
        print(f"Proxy token: {token}", file=out, flush=True)
        return token
    if args.token_file:
        token = Path(args.token_file).read_text().strip()
        if not token:
            raise ValueError(f"--token-file {args.token_file}: the file is empty")
        return token
    return None


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from kubegate.client.localproxy import LocalProxySettings

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=err,
    )
    if args.port != DEFAULT_PORT and args.unix_socket:
        print("error: cannot set --unix-socket and --port at the same time", file=err)
        return 2
    try:
        keepalive = parse_go_duration(args.keepalive)
        filters = (
            None
            if args.disable_filter
            else FilterRules.from_flags(
                accept_hosts=args.accept_hosts,
                accept_paths=args.accept_paths,
                reject_paths=args.reject_paths,
                reject_methods=args.reject_methods,
            )
        )
        service = parse_service_target(args.service) if args.service else None
    except (ValueError, PatternError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    if service is not None and args.www:
        print("error: --www cannot be used with --service", file=err)
        return 2
    try:
        config = client_config_from_args(args)
        token = _token(args, out)
    except KubeconfigError as exc:
        print(exc, file=err)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    www = Path(args.www) if args.www else None
    if www is not None and not www.is_dir():
        print(f"warning: failed to open static directory {args.www}: not a directory", file=err)
    if args.disable_filter and not args.unix_socket:
        print(
            "warning: Request filter disabled, your proxy is vulnerable to XSRF attacks, "
            "please be cautious",
            file=err,
        )
    elif not args.disable_filter and (not args.reject_paths or not args.reject_methods):
        print(
            "warning: Request filter has been relaxed, your proxy may be vulnerable to "
            "attacks, please be cautious",
            file=err,
        )
    server_path = urlsplit(config.server).path
    if server_path not in ("", "/") and not args.append_server_path:
        print(
            f"warning: Your kube context contains a server path {server_path}, use "
            "--append-server-path to automatically append the path to each request",
            file=err,
        )
    settings = LocalProxySettings(
        address=args.address,
        port=args.port,
        unix_socket=args.unix_socket or None,
        filters=filters,
        api_prefix=_with_slash(args.api_prefix),
        www=www,
        www_prefix=_with_slash(args.www_prefix),
        append_server_path=args.append_server_path,
        keepalive=keepalive,
        token=token,
        service=service,
    )
    if not settings.local_only:
        print(
            f"warning: serving on {args.address}, which is not a loopback address: anyone who "
            "can reach this port acts with your kubeconfig's credentials "
            "(consider --generate-token)",
            file=err,
        )
    import uvloop

    from kubegate.cli.process_limits import raise_and_log_open_file_limit

    raise_and_log_open_file_limit()  # every proxied connection and tunnel is a descriptor
    try:
        uvloop.run(_serve(settings, config, out))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    return 0


async def _serve(settings, config, out: TextIO) -> None:  # type: ignore[no-untyped-def]
    from kubegate.client.credentials import Credentials
    from kubegate.client.localproxy import run_local_proxy

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)

    def ready(address: str) -> None:
        print(f"Starting to serve on {address}", file=out, flush=True)
        if settings.service is not None and not address.startswith("/"):
            print(f"Serving service {settings.service} at http://{address}/", file=out, flush=True)

    await run_local_proxy(
        settings,
        config.server,
        config.tls_server_name,
        Credentials(config),
        ready=ready,
        stopped=stopped.wait(),
        forward_proxy=config.proxy,
    )
