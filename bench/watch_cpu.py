"""The ``watch-cpu`` suite: CPU time of the watch serving loop per delivered event, in-process.

    python -m bench watch-cpu [--quick] [--watchers N ...] [--writes M] [--results-dir DIR]

Steadier than the ``api`` and ``ha`` suites' latencies on a shared machine, and without their
TLS, sockets and load generator: N real ``serve_watch`` handlers (server/watch.py) watch one
collection of a started memory store, each writing into a sink that only counts lines; M
ConfigMap creates go to the store. Each number is the best of ``--runs`` of
``time.process_time`` over the M writes until every watcher has every event, minus the same
writes with no watcher, divided by N x M: the microseconds of CPU one watcher costs per
event (store fan-out, wake-up, filter, framing and the write call; no syscall).

paced   one create at a time, the next only once every watcher has the last: each event
        wakes each watcher on its own (the api suite's fan-out, and the usual production
        pattern)
burst   M creates at once, then the watchers drain their buffers

The exit code is 0 whenever the harness ran (1 if it broke).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.machine import plan_pinning
from bench.report import Row, row
from bench.suite import add_common_arguments, harness_exit, save_report, suite_document
from kubegate.api.resources import lookup
from kubegate.http.body import NO_BODY
from kubegate.http.types import Headers, Request
from kubegate.server.context import RequestContext, new_audit_id, request_info
from kubegate.server.watch import WatchSettings, serve_watch
from kubegate.store.base import Store, object_key
from kubegate.store.factory import open_store

PATH = "/api/v1/namespaces/bench/configmaps"
MODES = ("paced", "burst")


class _Tally:
    """Lines written (and responses started) by every sink together; wakes the driver when
    a target is reached."""

    def __init__(self) -> None:
        self.lines = 0
        self.started = 0
        self.target = 0
        self.reached: asyncio.Future[None] | None = None

    async def until(self, target: int) -> None:
        if self.lines >= target:
            return
        self.target = target
        self.reached = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(self.reached, 60)

    def wake(self, count: int) -> None:
        if self.reached is not None and count >= self.target:
            self.reached.set_result(None)
            self.reached = None


class _Sink:
    """A ResponseWriter that counts the lines a watch writes and sends them nowhere."""

    def __init__(self, tally: _Tally) -> None:
        self.tally = tally
        self.started = False
        self.status = 0
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(self, status: int, headers: Headers, body: bytes = b"") -> None:
        self.started, self.status = True, status

    async def start(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        self.started, self.status = True, status
        self.tally.started += 1
        self.tally.wake(self.tally.started)

    async def write(self, data: bytes) -> None:
        tally = self.tally
        tally.lines += 1
        tally.wake(tally.lines)

    async def end(self) -> None:
        pass

    def client_gone(self) -> asyncio.Future[None]:
        return asyncio.shield(self.gone)

    def cancel_on_disconnect(self) -> None:
        pass


def _context(response: _Sink, revision: int) -> RequestContext:
    query = f"watch=1&resourceVersion={revision}&allowWatchBookmarks=true"
    request = Request("GET", f"{PATH}?{query}", PATH, query, [], NO_BODY, ("127.0.0.1", 0), True)
    ctx = RequestContext(request, response, request_info("GET", PATH, query), new_audit_id())  # type: ignore[arg-type]
    ctx.resource = lookup("", "v1", "configmaps")
    return ctx


def _config_map(index: int) -> dict[str, Any]:
    name = f"cm-{index:06d}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "bench", "labels": {"app": "bench"}},
        "data": {"key": "x" * 200},
    }


async def _one_run(watchers: int, writes: int, mode: str) -> float:
    """CPU seconds of ``writes`` creates fanned out to ``watchers`` watches."""
    store: Store = open_store("memory:")
    await store.start()
    tally = _Tally()
    closing = asyncio.Event()
    settings = WatchSettings()
    sinks = [_Sink(tally) for _ in range(watchers)]
    revision = store.revision
    handlers = [
        asyncio.create_task(serve_watch(_context(s, revision), store, closing, settings))
        for s in sinks
    ]
    try:
        if tally.started < watchers:  # the handlers have all answered 200: watching
            tally.target = watchers
            tally.reached = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(tally.reached, 60)
        await asyncio.sleep(0.05)  # and are waiting on their store watches
        started = time.process_time()
        for index in range(writes):
            obj = _config_map(index)
            await store.create(object_key("configmaps", "bench", obj["metadata"]["name"]), obj)
            if mode == "paced":
                await tally.until(watchers * (index + 1))
        await tally.until(watchers * writes)
        return time.process_time() - started
    finally:
        closing.set()
        await asyncio.wait_for(asyncio.gather(*handlers), 30)
        await store.close()


def measure(watcher_counts: Sequence[int], writes: int, runs: int) -> list[dict[str, Any]]:
    results = []
    for mode in MODES:
        alone = min(asyncio.run(_one_run(0, writes, mode)) for _ in range(runs))
        for watchers in watcher_counts:
            cpu = min(asyncio.run(_one_run(watchers, writes, mode)) for _ in range(runs))
            per_event = (cpu - alone) / (watchers * writes) * 1e6
            results.append(
                {
                    "mode": mode,
                    "watchers": watchers,
                    "writes": writes,
                    "cpu_seconds": cpu,
                    "writes_alone_cpu_seconds": alone,
                    "us_per_event_per_watcher": per_event,
                }
            )
    return results


def build_rows(results: list[dict[str, Any]]) -> list[Row]:
    return [
        row(
            "watch-cpu",
            f"{r['mode']}, {r['watchers']} watchers x {r['writes']} writes",
            f"{r['us_per_event_per_watcher']:.1f} us CPU per event per watcher "
            f"({r['cpu_seconds']:.2f} s, writes alone {r['writes_alone_cpu_seconds']:.2f} s)",
        )
        for r in results
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench watch-cpu",
        description="CPU per delivered watch event per watcher, in this process.",
    )
    parser.add_argument("--watchers", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="best of this many (default 3)")
    add_common_arguments(parser, quick="100 watchers, 50 writes, 1 run", pin=False)
    args = parser.parse_args(argv)
    if args.quick:
        args.watchers, args.writes, args.runs = [100], 50, 1
    options = {"watchers": args.watchers, "writes": args.writes, "runs": args.runs}
    document = suite_document("watch-cpu", plan_pinning(enabled=False), options)
    try:
        document["results"] = measure(args.watchers, args.writes, args.runs)
    except Exception as exc:
        return harness_exit(exc)
    save_report(args.results_dir, document, build_rows(document["results"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
