"""The ``api`` suite: a fresh kubegate server under create, list, watch and memory load.

    python -m bench [api] [--services N] [--watchers N] [--writes N] [--store sqlite|memory]
    python -m bench --quick          # a smoke run with small numbers

Sections, in the order they run against one server process:

create  POST N Services (1-2 ports, a few labels) with --concurrency requests in flight
list    GET /api/v1/services as JSON and as a kubectl Table, --list-runs each
watch   --watchers watches on one collection, --writes ConfigMap creates, every delivery timed
memory  server VmRSS idle, after the N Services, after the lists and the fan-out; VmHWM

Every number is printed with its target and PASS/FAIL; the exit code is 0 whenever the
harness ran, whatever the numbers (1 if the harness broke, 130 on Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench import api_rows
from bench.api_load import TABLE_ACCEPT, create_services, ensure_namespace, time_list
from bench.api_watch import NAMESPACE, fan_out
from bench.machine import plan_pinning, proc_status
from bench.server import KubegateProcess, ServerSpec
from bench.stats import latency_summary_ms
from bench.suite import (
    add_common_arguments,
    harness_exit,
    save_report,
    sized_options,
    suite_document,
)

SETTLE_INTERVAL = 0.5  # seconds between CPU samples while waiting for the server to go idle
IDLE_SHARE = 0.05  # below 5 % of a core counts as idle
QUICK = {"services": 200, "watchers": 5, "writes": 50, "list_runs": 3}
EPILOG = """\
examples:
  python -m bench                      # the full run (make bench)
  python -m bench --quick              # smoke run with small numbers
  python -m bench --store memory --services 20000
  python -m bench --profile-server /tmp/server.prof   # then: python -m pstats /tmp/server.prof
other suites:
  python -m bench store --help         # the Store backends in-process, without HTTP
results: a table on stdout and bench/results/<UTC timestamp>-api.json
"""


@dataclass(frozen=True, slots=True)
class ApiOptions:
    services: int = 10_000
    concurrency: int = 32
    list_runs: int = 5
    watchers: int = 100
    writes: int = 1_000
    write_rate: float = 0.0
    store: str = "sqlite"
    timeout: float = 300.0
    pin: bool = True
    quick: bool = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench [api]",
        description="Benchmark a fresh kubegate API server: creates, lists, watch fan-out, memory.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--services", type=int, default=None, help="Services to create (default 10000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="creates in flight (default 32)"
    )
    parser.add_argument(
        "--list-runs", type=int, default=None, help="runs per list variant (default 5)"
    )
    parser.add_argument(
        "--watchers", type=int, default=None, help="concurrent watches (default 100)"
    )
    parser.add_argument(
        "--writes", type=int, default=None, help="ConfigMap creates watched (default 1000)"
    )
    parser.add_argument(
        "--write-rate",
        type=float,
        default=0.0,
        metavar="PER_S",
        help="pace the watched writes; 0 sends each once the last is acknowledged",
    )
    parser.add_argument(
        "--store",
        type=_store_name,
        default="sqlite",
        help="sqlite (default, in the run's temp dir) or memory",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="bound on each phase, seconds (default 300)"
    )
    parser.add_argument(
        "--profile-server",
        type=Path,
        default=None,
        metavar="FILE",
        help="run the server under cProfile and write its stats to FILE on shutdown"
        " (slows the server; read with python -m pstats FILE)",
    )
    add_common_arguments(
        parser, quick="smoke run: 200 services, 5 watchers, 50 writes, 3 list runs"
    )
    return parser


def _store_name(text: str) -> str:
    name = text.rstrip(":")
    if name not in ("sqlite", "memory"):
        raise argparse.ArgumentTypeError("expected sqlite or memory:")
    return name


def options_from(args: argparse.Namespace) -> ApiOptions:
    """Defaults (or ``--quick`` sizes) with every size given on the command line on top."""
    return sized_options(
        ApiOptions(),
        QUICK,
        args,
        concurrency=args.concurrency,
        write_rate=args.write_rate,
        store=args.store,
        timeout=args.timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = options_from(args)
    pinning = plan_pinning(enabled=options.pin)
    document = suite_document("api", pinning, asdict(options))
    print(
        f"kubegate api benchmark: {options.services} services, {options.watchers} watchers x "
        f"{options.writes} writes, store {options.store}; {pinning.reason}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="kubegate-bench-") as scratch:
        profile = args.profile_server.resolve() if args.profile_server else None
        server = KubegateProcess(ServerSpec(Path(scratch), options.store, profile), pinning)
        try:
            with server:
                pinning.pin_load_generator()
                document["machine"]["server_cpus"] = proc_status(server.pid, "Cpus_allowed_list")
                document["machine"]["load_cpus"] = proc_status(os.getpid(), "Cpus_allowed_list")
                sections = uvloop.run(run_sections(server, options))
                stop_started = time.perf_counter()
                exit_code = server.stop()
                sections["shutdown"] = {
                    "exit_code": exit_code,
                    "seconds": time.perf_counter() - stop_started,
                }
        except (KeyboardInterrupt, Exception) as exc:
            return harness_exit(exc, stopped="server stopped", log=server.log_path)
    document["sections"] = sections
    rows = api_rows.build(sections, options)
    print()
    if options.quick:
        print("(--quick: the targets are for the default sizes)")
    save_report(args.results_dir, document, rows)
    if args.profile_server:
        print(f"server profile: {args.profile_server} (numbers above are slowed by cProfile)")
    return 0


async def run_sections(server: KubegateProcess, options: ApiOptions) -> dict[str, Any]:
    """Run create, list, watch against one server; memory is read between them."""
    memory = _MemoryLog(server)
    memory.sample("idle")
    sections: dict[str, Any] = {}
    async with _session(server, limit=options.concurrency, options=options) as session:
        with _accounted(server) as usage:
            created = await create_services(
                session, options.services, options.concurrency, options.timeout
            )
        sections["create"] = {
            **created.summary(options.services, options.concurrency),
            **usage,
            "settle": await _settle(server, session, options.timeout),
        }
        memory.sample("after_create")

        lists = {}
        with _accounted(server) as usage:
            for variant, accept in (("json", "application/json"), ("table", TABLE_ACCEPT)):
                lists[variant] = await time_list(
                    session, "/api/v1/services", accept, options.list_runs
                )
        sections["list"] = {**lists, **usage}
        memory.sample("after_list")

        await ensure_namespace(session, NAMESPACE)
        async with _session(server, limit=0, options=options) as watch_session:
            with _accounted(server) as usage:
                run = await fan_out(
                    watch_session,
                    session,
                    options.watchers,
                    options.writes,
                    write_rate=options.write_rate,
                    phase_timeout=options.timeout,
                )
        sections["watch"] = {**run.summary(), **usage}
    memory.sample("after_watch")
    server.check_alive()
    sections["memory"] = memory.summary()
    return sections


def _session(
    server: KubegateProcess, *, limit: int, options: ApiOptions
) -> AbstractAsyncContextManager[aiohttp.ClientSession]:
    """A keep-alive HTTPS session to the server; ``limit`` 0 means no connection cap."""
    connector = aiohttp.TCPConnector(ssl=server.ssl_context(), limit=limit)
    return aiohttp.ClientSession(
        base_url=server.url,
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=options.timeout),
    )


class _MemoryLog:
    """Server VmRSS and VmHWM at named points; the peak is placed in the phase that set it."""

    def __init__(self, server: KubegateProcess) -> None:
        self._server = server
        self._points: list[tuple[str, float, float]] = []

    def sample(self, point: str) -> None:
        self._points.append((point, self._server.rss_mib(), self._server.hwm_mib()))

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for point, rss, hwm in self._points:
            summary[f"{point}_rss_mib"] = rss
            summary[f"{point}_hwm_mib"] = hwm
        peak = max(hwm for _, _, hwm in self._points)
        summary["hwm_mib"] = peak
        # The phase that ended at the first sample showing the final peak is where it happened.
        summary["hwm_reached_by"] = next(p for p, _, hwm in self._points if hwm == peak)
        return summary


async def _settle(
    server: KubegateProcess, session: aiohttp.ClientSession, limit: float
) -> dict[str, Any]:
    """Wait (bounded) until the server's core is idle, so the next phase is measured alone.

    Creating Services queues work for the server's controllers (the EndpointSlice controller
    reconciles each new Service); this is how long that backlog kept the core busy, and how
    fast a ``GET /version`` was answered meanwhile."""
    started, cpu_started = time.perf_counter(), server.cpu_seconds()
    previous = cpu_started
    probes: list[float] = []
    while time.perf_counter() - started < limit:
        probe_started = time.perf_counter()
        async with session.get("/version") as resp:
            await resp.read()
        probes.append(time.perf_counter() - probe_started)
        await asyncio.sleep(max(0.0, SETTLE_INTERVAL - probes[-1]))
        now = server.cpu_seconds()
        if now - previous < SETTLE_INTERVAL * IDLE_SHARE:
            break
        previous = now
    return {
        "seconds": time.perf_counter() - started,
        "server_cpu_s": server.cpu_seconds() - cpu_started,
        "idle": time.perf_counter() - started < limit,
        "probe_latency": latency_summary_ms(probes),
    }


@contextmanager
def _accounted(server: KubegateProcess) -> Iterator[dict[str, float]]:
    """Wall, server CPU and load-generator CPU seconds of the block, filled in on exit."""
    usage: dict[str, float] = {}
    wall, server_cpu, load_cpu = time.perf_counter(), server.cpu_seconds(), time.process_time()
    yield usage
    usage["wall_s"] = time.perf_counter() - wall
    usage["server_cpu_s"] = server.cpu_seconds() - server_cpu
    usage["load_cpu_s"] = time.process_time() - load_cpu
