"""The ``hardening`` suite: what kubegate's limits cost, and how many idle tunnels it holds.

    python -m bench hardening [--duration S] [--runs N] [--websockets N] [--quick] [--no-pin]

limits      two servers side by side, one with every limit on (in-flight caps, the
            long-running cap, a per-user token bucket wide enough never to refuse) and one
            with all of them off (0); ``wrk -t1 -c50`` on a proxied ``/small`` against each
            in turn, alternating, as a user bound to cluster-admin (``system:masters`` would
            be exempt from the caps and not measure them). Median requests/s of each; target:
            limits cost at most 5 %.
websockets  N proxied WebSocket connections opened through one server and held idle
            (``bench/hardening_ws.py``); target: 10,000 held, server RSS under 1 GiB.

Pinning and the shared setup are the proxy suite's (``bench/proxy_*.py``): the backend nginx
and wrk on cpu0, the server on cpu1. The exit code is 0 whenever the harness ran.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.hardening_ws import hold_idle_websockets
from bench.machine import plan_pinning, taskset_prefix
from bench.proxy_kubegate import PROXY_PATH, KubegateServer, kubegate_server
from bench.proxy_load import Endpoint, write_wrk_script, wrk
from bench.proxy_procs import backend_config, free_port, nginx_daemon, wait_ready
from bench.report import Row, Target, row
from bench.suite import (
    add_common_arguments,
    harness_exit,
    save_report,
    scratch_dir,
    sized_options,
    suite_document,
    tools_ready,
)

TOKEN = "bench-hardening-token-4f3e2d1c0b"
LIMITS_ON = (
    "--max-requests-inflight=400",
    "--max-mutating-requests-inflight=200",
    "--max-long-running-requests=1000",
    "--user-rate-limit=1000000",
    "--user-rate-burst=1000000",
)
LIMITS_OFF = (
    "--max-requests-inflight=0",
    "--max-mutating-requests-inflight=0",
    "--max-long-running-requests=0",
    "--user-rate-limit=0",
)
COST_TARGET = Target(5.0, "%")
HELD_TARGET = Target(10_000, "connections", at_least=True)
RSS_TARGET = Target(1024, "MiB")


@dataclass(frozen=True, slots=True)
class Options:
    duration: float = 10.0
    warmup: float = 2.0
    runs: int = 5
    websockets: int = 10_000
    pin: bool = True
    quick: bool = False


QUICK = {"duration": 2.0, "warmup": 1.0, "runs": 1, "websockets": 1000}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench hardening",
        description="The cost of kubegate's limits, and idle WebSocket connections held.",
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run (10)")
    parser.add_argument("--runs", type=int, default=None, help="wrk runs per variant (5)")
    parser.add_argument("--websockets", type=int, default=None, help="tunnels to hold (10000)")
    add_common_arguments(parser, quick="smoke run: 1 x 2 s, 1000 tunnels")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = sized_options(Options(), QUICK, args)
    if not tools_ready("hardening"):
        return 1
    pinning = plan_pinning(enabled=options.pin)
    document = suite_document("hardening", pinning, asdict(options), loadavg_start=os.getloadavg())
    print(
        f"kubegate hardening benchmark: limits on/off wrk -c50 -d{options.duration:g}s x"
        f" {options.runs}; {options.websockets} idle WebSockets; {pinning.reason}",
        flush=True,
    )
    try:
        with scratch_dir("hardening") as scratch:
            pinning.pin_load_generator()
            server_prefix = tuple(pinning.server_prefix())
            load_prefix = taskset_prefix(pinning.load_cpu)
            document["limits"] = limits_cost(scratch, options, server_prefix, load_prefix)
            print(f"  websockets: opening {options.websockets} ...", flush=True)
            document["websockets"] = hold_idle_websockets(
                scratch / "ws", options.websockets, server_prefix
            )
    except (KeyboardInterrupt, Exception) as exc:
        return harness_exit(exc)
    document["machine"]["loadavg_end"] = os.getloadavg()
    rows = build_rows(document)
    print()
    if options.quick:
        print("(--quick: short runs and 1000 tunnels; the targets are for the default sizes)")
    save_report(args.results_dir, document, rows)
    return 0


def limits_cost(
    workdir: Path, options: Options, server_prefix: tuple[str, ...], load_prefix: tuple[str, ...]
) -> dict[str, Any]:
    """Median wrk requests/s through a server with all limits on and one with them off."""
    tokens = workdir / "tokens.csv"
    tokens.write_text(f"{TOKEN},bench,u-bench\n")
    (workdir / "www").mkdir()
    backend_port = free_port()
    script = write_wrk_script(workdir / "report.lua")
    config = backend_config(workdir, backend_port, workdir / "www", 2**20)
    runs: dict[str, list[float]] = {"on": [], "off": []}
    with ExitStack() as stack:
        backend = stack.enter_context(nginx_daemon(workdir, "backend", config, load_prefix))
        wait_ready(backend, f"http://127.0.0.1:{backend_port}/small")
        endpoints: dict[str, Endpoint] = {}
        for variant, flags in (("on", LIMITS_ON), ("off", LIMITS_OFF)):
            server = stack.enter_context(
                kubegate_server(
                    workdir / f"kubegate-{variant}",
                    backend_port,
                    server_prefix,
                    malloc_tuned=False,
                    extra_args=(*flags, f"--token-auth-file={tokens}"),
                )
            )
            _bind_cluster_admin(server, "bench")
            endpoints[variant] = Endpoint(
                server.url + PROXY_PATH,
                (("Authorization", f"Bearer {TOKEN}"),),
                server.cafile,
                load_prefix,
            )
            wait_ready(
                server.daemon,
                endpoints[variant].url("/small"),
                headers={"Authorization": f"Bearer {TOKEN}"},
                context=server.ssl_context(),
            )
            wrk(endpoints[variant], "/small", connections=50, seconds=options.warmup, script=script)
        for run in range(options.runs):
            for variant in ("on", "off") if run % 2 == 0 else ("off", "on"):
                result = wrk(
                    endpoints[variant],
                    "/small",
                    connections=50,
                    seconds=options.duration,
                    script=script,
                )
                if result["errors"] or result["non_2xx_3xx"]:
                    raise RuntimeError(f"limits {variant}: wrk errors {result}")
                runs[variant].append(result["rps"])
            print(f"  limits run {run + 1}: on {runs['on'][-1]:.0f}, off {runs['off'][-1]:.0f} rps")
    on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
    return {"rps_on": runs["on"], "rps_off": runs["off"], "median_on": on, "median_off": off}


def _bind_cluster_admin(server: KubegateServer, user: str) -> None:
    """A ClusterRoleBinding of ``user`` to cluster-admin (RBAC, not system:masters)."""
    host, port = server.url.removeprefix("https://").rsplit(":", 1)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{user}-admin"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    conn = http.client.HTTPSConnection(host, int(port), context=server.ssl_context(), timeout=30)
    try:
        conn.request(
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            body=json.dumps(binding),
            headers={**server.auth_headers, "Content-Type": "application/json"},
        )
        answer = conn.getresponse()
        answer.read()
    finally:
        conn.close()
    if answer.status != 201:
        raise RuntimeError(f"cannot bind {user} to cluster-admin: HTTP {answer.status}")


def build_rows(document: dict[str, Any]) -> list[Row]:
    limits, ws = document["limits"], document["websockets"]
    on, off = limits["median_on"], limits["median_off"]
    cost = (off - on) / off * 100 if off else float("nan")
    held = ws["held"]
    rss_mib = ws["rss_kib"] / 1024
    return [
        row("limits", "proxy rps, all limits on (c50)", f"{on:.0f}"),
        row("limits", "proxy rps, all limits off (c50)", f"{off:.0f}"),
        row("limits", "cost of the limits", f"{cost:.1f} %", cost, COST_TARGET),
        row("websockets", "idle tunnels held", f"{held}", held, HELD_TARGET),
        row("websockets", "server RSS holding them", f"{rss_mib:.0f} MiB", rss_mib, RSS_TARGET),
        row("websockets", "RSS per tunnel", f"{ws['per_tunnel_kib']:.1f} KiB"),
        row("websockets", "server open-file limit (2 per tunnel)", f"{ws['server_fd_limit']}"),
        row("websockets", "tunnels that limit allows", f"{ws['server_capacity']}"),
        row("websockets", "raising the hard open-file limit", ws["fd_limit_note"]),
        row("websockets", "refused (past the limit)", f"{ws['error_count']}"),
        row("websockets", "time to open them all", f"{ws['open_seconds']:.1f} s"),
    ]
