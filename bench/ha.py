"""The ``ha`` suite: kubegate replicas on one etcd (issue 7's performance targets).

    python -m bench ha [--duration S] [--runs N] [--watchers N] [--writes N]
    python -m bench ha --quick      # smoke run: -d2s, 1 run, 100 watchers x 20 writes

One etcd, one nginx backend (``/small``), replicas sharing a data dir and the etcd:

proxy   ``wrk -t1 -c50`` on ``services/bench:80/proxy/small`` (median of runs, after a
        warm-up) against one replica directly, against HAProxy (TCP mode, round robin, TLS
        passed through) in front of that one replica, and against HAProxy in front of two.
        Target: two replicas behind the balancer >= 1.7x one replica.
watch   a third replica joins; ``--watchers`` watches of one collection spread round robin
        over the three, ``--writes`` ConfigMap creates through the first, one in flight;
        latency of every delivery from the send (bench/api_watch.py's method). Target: p99
        < 100 ms, every watcher gets every write.

Nothing is pinned: three replicas, etcd, HAProxy, nginx and the load generator share the
machine, which is the point (can a second replica use cores the first cannot?). On a 2-core
VM there is no spare core for a second replica, so the proxy ratio shows the cost of the
balancer rather than scaling; the report says how many CPUs it ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import tempfile
import time
import traceback
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp

from bench.api_load import ensure_namespace
from bench.api_watch import FanoutRun, collection_revision, watch_one, write_all
from bench.ha_procs import (
    Replica,
    ensure_tools,
    etcd_daemon,
    haproxy_daemon,
    start_replicas,
    wait_etcd,
)
from bench.machine import describe, plan_pinning
from bench.proxy_kubegate import PROXY_PATH, register_backend
from bench.proxy_load import Endpoint, write_wrk_script, wrk
from bench.proxy_procs import backend_config, free_port, nginx_daemon, wait_ready
from bench.report import Row, Target, row
from bench.suite import add_common_arguments, save_report

RATIO_TARGET = Target(1.7, "x", at_least=True)
WATCH_P99_TARGET = Target(100.0, "ms")
QUICK = {"duration": 2.0, "warmup": 1.0, "runs": 1, "watchers": 100, "writes": 20}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench ha", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before measuring")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per subject (median)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=180.0, help="bound of each phase")
    add_common_arguments(parser, quick="smoke run (see module doc)", pin=False)
    parser.add_argument("--no-pin", action="store_true", help="accepted for `all`; never pins")
    options = parser.parse_args(argv)
    if options.quick:
        for name, value in QUICK.items():
            setattr(options, name, value)
    return options


def main(argv: Sequence[str]) -> int:
    options = parse_args(argv)
    try:
        ensure_tools()
        with tempfile.TemporaryDirectory(prefix="kubegate-bench-ha-") as tmp:
            document = run(options, Path(tmp))
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc()
        return 1
    save_report(options.results_dir, document, report_rows(document))
    return 0


def run(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    document: dict[str, Any] = {
        "suite": "ha",
        "options": {k: str(v) for k, v in vars(options).items()},
        "machine": {**describe(plan_pinning(enabled=False)), "cpus": os.cpu_count()},
    }
    with ExitStack() as stack:
        etcd, endpoint = etcd_daemon(workdir)
        stack.enter_context(etcd)
        wait_etcd(etcd, endpoint)
        store_url = f"etcd://{endpoint}/bench"
        backend_port = free_port()
        docroot = workdir / "docroot"
        docroot.mkdir()
        config = backend_config(workdir, backend_port, docroot, upload_bytes=1024)
        stack.enter_context(nginx_daemon(workdir, "backend", config, []))
        replicas = start_replicas(stack, workdir, store_url, 2)
        register_backend(replicas[0].server, backend_port)
        for replica in replicas:
            server = replica.server
            wait_ready(
                replica.daemon,
                server.url + PROXY_PATH + "/small",
                headers=server.auth_headers,
                context=server.ssl_context(),
            )
        print("proxy: 1 replica, 1 behind HAProxy, 2 behind HAProxy", flush=True)
        document["proxy"] = proxy_section(options, workdir, replicas)
        replicas += start_replicas(stack, workdir, store_url, 1, first=2)
        print(f"watch: {options.watchers} watchers over 3 replicas", flush=True)
        document["watch"] = asyncio.run(watch_section(options, replicas))
    return document


def proxy_section(
    options: argparse.Namespace, workdir: Path, replicas: list[Replica]
) -> dict[str, Any]:
    """The three subjects measured in turn within each run (ABC ABC ...), so that a noisy
    neighbour on a shared machine hits all of them alike rather than one block."""
    script = write_wrk_script(workdir / "report.lua")
    first = replicas[0].server
    headers = tuple(first.auth_headers.items())
    bases = {"one_replica": first.url}
    with ExitStack() as stack:
        for name, members in (("balancer_one", replicas[:1]), ("balancer_two", replicas[:2])):
            daemon, port = haproxy_daemon(workdir, f"haproxy-{name}", [r.port for r in members])
            stack.enter_context(daemon)
            wait_ready(daemon, f"https://127.0.0.1:{port}/readyz", context=first.ssl_context())
            bases[name] = f"https://127.0.0.1:{port}"
        endpoints = {name: Endpoint(base + PROXY_PATH, headers) for name, base in bases.items()}

        def load(endpoint: Endpoint, seconds: float) -> dict[str, Any]:
            return wrk(
                endpoint, "/small", connections=options.connections, seconds=seconds, script=script
            )

        for endpoint in endpoints.values():
            load(endpoint, options.warmup)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in endpoints}
        cpu: dict[str, float] = dict.fromkeys(endpoints, 0.0)
        for _ in range(options.runs):
            for name, endpoint in endpoints.items():
                before = sum(r.daemon.cpu_seconds() for r in replicas)
                runs[name].append(load(endpoint, options.duration))
                cpu[name] += sum(r.daemon.cpu_seconds() for r in replicas) - before
    subjects: dict[str, Any] = {}
    for name, measured in runs.items():
        requests = sum(r["requests"] for r in measured)
        subjects[name] = {
            "rps": statistics.median(r["rps"] for r in measured),
            "p99_us": statistics.median(r["p99_us"] for r in measured),
            "errors": sum(r["errors"] + r["non_2xx_3xx"] for r in measured),
            "replica_cpu_us_per_request": cpu[name] / requests * 1e6 if requests else math.nan,
            "runs": measured,
        }
    return subjects


async def watch_section(options: argparse.Namespace, replicas: list[Replica]) -> dict[str, Any]:
    """``watchers`` watches spread over the replicas, writes through the first."""
    timeout = aiohttp.ClientTimeout(total=options.timeout)
    sessions = [
        aiohttp.ClientSession(
            base_url=r.server.url,
            connector=aiohttp.TCPConnector(ssl=r.server.ssl_context(), limit=0),
            headers=r.server.auth_headers,
            timeout=timeout,
        )
        for r in replicas
    ]
    writer = sessions[0]
    try:
        await ensure_namespace(writer, "bench")
        run = FanoutRun(options.watchers, options.writes, [[] for _ in range(options.watchers)])
        revision = await collection_revision(writer)
        opened: asyncio.Queue[int] = asyncio.Queue()
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    watch_one(
                        sessions[number % len(sessions)],
                        revision,
                        run,
                        number,
                        opened,
                        options.timeout,
                    ),
                    name=f"bench-ha-watcher-{number}",
                )
                for number in range(options.watchers)
            ]
            async with asyncio.timeout(options.timeout):
                for _ in range(options.watchers):
                    await opened.get()
            opened_seconds = time.perf_counter() - started
            wall, load_cpu = time.perf_counter(), time.process_time()
            replica_cpu = sum(r.daemon.cpu_seconds() for r in replicas)
            async with asyncio.timeout(options.timeout):
                await write_all(writer, run, 0.0)
            drain_started = time.perf_counter()
            _, late = await asyncio.wait(tasks, timeout=options.timeout)
            run.drained_seconds = time.perf_counter() - drain_started
            run.timed_out_watchers = len(late)
            for task in late:
                task.cancel()
            wall = time.perf_counter() - wall
            load_cpu = time.process_time() - load_cpu
            replica_cpu = sum(r.daemon.cpu_seconds() for r in replicas) - replica_cpu
    finally:
        for session in sessions:
            await session.close()
    return {
        **run.summary(),
        "replicas": len(replicas),
        "open_seconds": opened_seconds,
        # Busy shares over the write+drain phase: a load generator near 1.0 sets the pace.
        "load_generator_cpu_share": load_cpu / wall,
        "replicas_cpu_share": replica_cpu / wall,
    }


def report_rows(document: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    cpus = document["machine"].get("cpus")
    proxy = document.get("proxy") or {}
    labels = {
        "one_replica": "1 replica (direct)",
        "balancer_one": "1 replica behind HAProxy",
        "balancer_two": "2 replicas behind HAProxy",
    }
    for name, label in labels.items():
        if name in proxy:
            subject = proxy[name]
            rows.append(
                row(
                    "proxy",
                    f"{label} rps (c{document['options']['connections']})",
                    f"{subject['rps']:.0f} (p99 {subject['p99_us'] / 1000:.1f} ms, "
                    f"{subject['errors']} errors, {subject['replica_cpu_us_per_request']:.0f} us CPU/req)",
                )
            )
    if {"one_replica", "balancer_two"} <= proxy.keys():
        ratio = proxy["balancer_two"]["rps"] / proxy["one_replica"]["rps"]
        rows.append(
            row(
                "proxy",
                f"2 replicas / 1 replica ({cpus} CPUs)",
                f"{ratio:.2f}x",
                ratio,
                RATIO_TARGET,
            )
        )
    watch = document.get("watch")
    if watch:
        latency = watch["latency_from_send"]
        rows.append(
            row(
                "watch",
                f"delivery p99, {watch['watchers']} watchers on {watch['replicas']} replicas",
                f"{latency['p99_ms']:.1f} ms (p50 {latency['p50_ms']:.1f}, "
                f"max {latency['max_ms']:.1f})",
                latency["p99_ms"],
                WATCH_P99_TARGET,
            )
        )
        rows.append(
            row(
                "watch",
                "CPU busy share in the fan-out (1.0 = one core)",
                f"load generator {watch['load_generator_cpu_share']:.2f}, "
                f"replicas {watch['replicas_cpu_share']:.2f}",
            )
        )
        complete = watch["complete_watchers"] == watch["watchers"] and not watch["write_failures"]
        rows.append(
            row(
                "watch",
                "every watcher got every write",
                f"{watch['deliveries']}/{watch['expected_deliveries']} deliveries",
                1.0 if complete else 0.0,
                Target(1.0, "", at_least=True),
            )
        )
    return rows
