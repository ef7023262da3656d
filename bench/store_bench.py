"""Store backend benchmark: write throughput, list time, memory, and watch fan-out latency.

    .venv/bin/python bench/store_bench.py                 # memory and sqlite
    .venv/bin/python bench/store_bench.py --backend sqlite --objects 10000
    .venv/bin/python -m bench store --backend sqlite   # the same, as a suite of the harness

Each backend runs in its own child process so its RSS is not inflated by the other's. This is
a measuring tool, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubegate.store.base import Store, collection_prefix, object_key
from kubegate.store.memory import MemoryStore
from kubegate.store.sqlite import SqliteStore

NAMESPACE = "bench"
PREFIX = collection_prefix("services", NAMESPACE)


def service(index: int) -> dict[str, Any]:
    """A Service about the size of a real one (~850 bytes of JSON)."""
    ip = f"10.0.{index // 256}.{index % 256}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"svc-{index:05d}",
            "namespace": NAMESPACE,
            "uid": f"7f1c2a0e-3b1d-4c55-9a77-{index:012d}",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": {"app": f"app-{index}", "tier": "backend", "team": "platform"},
            "annotations": {"note": "x" * 200},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
            ],
            "selector": {"app": f"app-{index}"},
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {}},
    }


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_backend(name: str, directory: Path) -> Store:
    if name == "memory":
        return MemoryStore()
    return SqliteStore(directory / f"bench-{time.monotonic_ns()}.db")


async def create_many(store: Store, count: int, in_flight: int, offset: int = 0) -> float:
    """Create ``count`` services with ``in_flight`` concurrent writers; seconds taken."""
    indexes = iter(range(offset, offset + count))

    async def writer() -> None:
        for index in indexes:
            await store.create(
                object_key("services", NAMESPACE, f"svc-{index:05d}"), service(index)
            )

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for number in range(in_flight):
            group.create_task(writer(), name=f"bench-writer-{number}")
    return time.perf_counter() - started


async def best_of(runs: int, make: Any) -> tuple[float, float]:
    """Fastest (wall seconds, CPU seconds of this process) of ``runs`` calls.

    CPU time is reported too because wall time on a shared machine swings with other load."""
    times = []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = await make()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
        del result
        gc.collect()
    return min(times)


async def fanout(store: Store, watchers: int, writes: int) -> list[float]:
    """Per-delivery latency (write start -> event in a watcher's hands), in seconds."""
    prefix = collection_prefix("services", "fanout")
    streams = [store.watch(prefix, 0) for _ in range(watchers)]
    started: dict[str, float] = {}
    latencies: list[float] = []

    async def consume(stream: Any) -> None:
        received = 0
        async for event in stream:
            latencies.append(time.perf_counter() - started[event.key])
            received += 1
            if received == writes:
                return

    async with asyncio.TaskGroup() as group:
        for number, stream in enumerate(streams):
            group.create_task(consume(stream), name=f"bench-watcher-{number}")
        for index in range(writes):
            key = object_key("services", "fanout", f"f{index:05d}")
            started[key] = time.perf_counter()
            await store.create(key, service(index))
            await asyncio.sleep(0)  # writes arrive as separate requests, not one tight loop
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_backend(name: str, objects: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kubegate-bench-") as directory:
        loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
        results: dict[str, Any] = {"backend": name, "objects": objects, "loop": loop}
        baseline = rss_mib()

        store = open_backend(name, Path(directory))
        await store.start()
        seconds = await create_many(store, objects, in_flight=1)
        results["create_sequential_per_s"] = objects / seconds
        results["list_s"] = await best_of(5, lambda: store.list(PREFIX))
        results["list_raw_s"] = await best_of(5, lambda: store.list_raw(PREFIX))
        keys = [object_key("services", NAMESPACE, f"svc-{i:05d}") for i in range(0, objects, 7)]
        started = time.perf_counter()
        for key in keys:
            await store.get(key)
        results["get_us"] = (time.perf_counter() - started) / len(keys) * 1e6
        gc.collect()
        results["rss_baseline_mib"] = baseline
        results["rss_with_objects_mib"] = rss_mib()
        await store.close()

        store = open_backend(name, Path(directory))
        await store.start()
        seconds = await create_many(store, objects, in_flight=64)
        results["create_64_in_flight_per_s"] = objects / seconds
        await store.close()

        store = open_backend(name, Path(directory))
        await store.start()
        latencies = await fanout(store, watchers=100, writes=1000)
        results["fanout_p50_ms"] = percentile(latencies, 0.50) * 1e3
        results["fanout_p99_ms"] = percentile(latencies, 0.99) * 1e3
        results["fanout_max_ms"] = max(latencies) * 1e3
        await store.close()
        results["rss_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return results


def report(results: dict[str, Any]) -> None:
    print(
        f"== {results['backend']} ({results['objects']} services, ~850 B each, {results['loop']})"
    )
    print(f"  create, one at a time     {results['create_sequential_per_s']:10.0f} /s")
    print(f"  create, 64 in flight      {results['create_64_in_flight_per_s']:10.0f} /s")
    for label, key in (("list (decoded)", "list_s"), ("list_raw (bytes)", "list_raw_s")):
        wall, cpu = results[key]
        print(f"  {label:<25} {wall * 1e3:10.1f} ms  (CPU {cpu * 1e3:.1f} ms)")
    print(f"  get                       {results['get_us']:10.1f} us")
    print(
        f"  RSS before / with objects {results['rss_baseline_mib']:6.1f} / "
        f"{results['rss_with_objects_mib']:.1f} MiB (peak {results['rss_peak_mib']:.1f})"
    )
    print(f"  fan-out 100 x 1000 p50    {results['fanout_p50_ms']:10.2f} ms")
    print(f"  fan-out 100 x 1000 p99    {results['fanout_p99_ms']:10.2f} ms")
    print(f"  fan-out 100 x 1000 max    {results['fanout_max_ms']:10.2f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench store", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--backend", choices=["memory", "sqlite"], action="append")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="event loop (the server runs on uvloop)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run = asyncio.run
        if args.loop == "uvloop":
            import uvloop

            run = uvloop.run
        print(json.dumps(run(run_backend(args.backend[0], args.objects))))
        return 0
    for backend in args.backend or ["memory", "sqlite"]:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--backend",
                backend,
                "--objects",
                str(args.objects),
                "--loop",
                args.loop,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        report(json.loads(child.stdout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
