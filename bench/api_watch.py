"""Watch fan-out: N watchers on one collection, M creates, latency of every delivery.

One list of ``/api/v1/namespaces/bench/configmaps`` gives a resourceVersion RV; every watcher
opens ``?watch=1&resourceVersion=RV`` and the writes start only when all have answered 200.
Writes are ConfigMap creates, one in flight at a time (or paced with ``write_rate``). Each
carries its send time in the ``bench.kubegate.io/sent-at`` annotation: the load generator's
``time.perf_counter()``, meaningful only to this process, which is the one that reads it back.

Two latencies per delivery, both taken when the chunk holding the event is read from the
socket (so they include the load generator's own queueing; its CPU is reported alongside):

- from send: receive time - the annotation (send time). Never negative; this is the one the
  target is judged on, so it also covers the create request itself.
- from ack: receive time - the time the writer had the 201 response. Can be negative,
  because the server may deliver the event before the writer reads its own answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.api_load import JSON
from bench.stats import latency_summary_ms

NAMESPACE = "bench"
COLLECTION = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
SENT_AT = "bench.kubegate.io/sent-at"


class WatchFailed(RuntimeError):
    """A watch could not be opened, or ended with an ERROR event."""


@dataclass(slots=True)
class Delivery:
    name: str
    received: float
    sent: float


@dataclass(slots=True)
class FanoutRun:
    """Everything the fan-out phase observed, summarised by :meth:`summary`."""

    watchers: int
    writes: int
    deliveries: list[list[Delivery]] = field(default_factory=list)
    acked: dict[str, float] = field(default_factory=dict)
    write_latencies: list[float] = field(default_factory=list)
    write_failures: int = 0
    write_seconds: float = 0.0
    drained_seconds: float = 0.0
    timed_out_watchers: int = 0

    def summary(self) -> dict[str, Any]:
        expected = {config_map_name(index) for index in range(self.writes)}
        from_send = [d.received - d.sent for per in self.deliveries for d in per]
        from_ack = [
            d.received - self.acked[d.name]
            for per in self.deliveries
            for d in per
            if d.name in self.acked
        ]
        complete = sum(
            1
            for per in self.deliveries
            if len(per) == len(expected) and {d.name for d in per} == expected
        )
        return {
            "watchers": self.watchers,
            "writes": self.writes,
            "deliveries": len(from_send),
            "expected_deliveries": self.watchers * self.writes,
            "complete_watchers": complete,
            "timed_out_watchers": self.timed_out_watchers,
            "write_failures": self.write_failures,
            "write_seconds": self.write_seconds,
            "writes_per_s": self.writes / self.write_seconds if self.write_seconds else 0.0,
            "drained_seconds": self.drained_seconds,
            "write_latency": latency_summary_ms(self.write_latencies),
            "latency_from_send": latency_summary_ms(from_send),
            "latency_from_ack": latency_summary_ms(from_ack),
            "negative_from_ack": sum(1 for value in from_ack if value < 0),
        }


def config_map_name(index: int) -> str:
    return f"cm-{index:05d}"


async def collection_revision(session: aiohttp.ClientSession) -> str:
    async with session.get(COLLECTION) as resp:
        document = await resp.json(content_type=None)
        if resp.status != 200:
            raise WatchFailed(f"list {COLLECTION} answered {resp.status}: {document}")
    return str(document["metadata"]["resourceVersion"])


async def watch_one(
    session: aiohttp.ClientSession,
    revision: str,
    run: FanoutRun,
    number: int,
    opened: asyncio.Queue[int],
    read_timeout: float,
) -> None:
    """Receive ADDED events until all writes arrived, timestamping each socket read."""
    received = run.deliveries[number]
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=read_timeout, sock_read=read_timeout)
    params = {"watch": "1", "resourceVersion": revision}
    async with session.get(COLLECTION, params=params, timeout=timeout) as resp:
        if resp.status != 200:
            raise WatchFailed(f"watch {number} answered {resp.status}: {await resp.text()}")
        opened.put_nowait(number)
        pending = b""
        while len(received) < run.writes:
            chunk = await resp.content.readany()
            if not chunk:
                return  # the server ended the stream; the summary counts what is missing
            now = time.perf_counter()
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line.strip():
                    _record(json.loads(line), now, received)


def _record(event: dict[str, Any], now: float, received: list[Delivery]) -> None:
    kind = event.get("type")
    if kind == "ERROR":
        raise WatchFailed(f"watch ended with ERROR: {event.get('object')}")
    if kind != "ADDED":
        return  # BOOKMARKs and the like carry no write
    metadata = event["object"]["metadata"]
    received.append(Delivery(metadata["name"], now, float(metadata["annotations"][SENT_AT])))


async def write_all(session: aiohttp.ClientSession, run: FanoutRun, write_rate: float) -> None:
    """Create ``run.writes`` ConfigMaps, the next one sent once the previous is acknowledged."""
    interval = 1 / write_rate if write_rate > 0 else 0.0
    started = time.perf_counter()
    for index in range(run.writes):
        if interval:
            await asyncio.sleep(max(0.0, started + index * interval - time.perf_counter()))
        name = config_map_name(index)
        sent = time.perf_counter()
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {SENT_AT: f"{sent:.9f}"}},
            "data": {"index": str(index), "payload": "x" * 64},
        }
        async with session.post(
            COLLECTION, data=json.dumps(body), headers={"Content-Type": JSON}
        ) as resp:
            await resp.read()
            status = resp.status
        run.acked[name] = time.perf_counter()
        run.write_latencies.append(run.acked[name] - sent)
        if status != 201:
            run.write_failures += 1
    run.write_seconds = time.perf_counter() - started


async def fan_out(
    watch_session: aiohttp.ClientSession,
    write_session: aiohttp.ClientSession,
    watchers: int,
    writes: int,
    *,
    write_rate: float = 0.0,
    phase_timeout: float = 120.0,
) -> FanoutRun:
    """Open ``watchers`` watches, make ``writes`` creates, wait (bounded) for every delivery."""
    run = FanoutRun(watchers, writes, deliveries=[[] for _ in range(watchers)])
    revision = await collection_revision(write_session)
    opened: asyncio.Queue[int] = asyncio.Queue()
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(
                watch_one(watch_session, revision, run, number, opened, phase_timeout),
                name=f"bench-watcher-{number}",
            )
            for number in range(watchers)
        ]
        async with asyncio.timeout(phase_timeout):
            for _ in range(watchers):
                await opened.get()
        async with asyncio.timeout(phase_timeout):
            await write_all(write_session, run, write_rate)
        drain_started = time.perf_counter()
        _, late = await asyncio.wait(tasks, timeout=phase_timeout)
        run.drained_seconds = time.perf_counter() - drain_started
        run.timed_out_watchers = len(late)
        for task in late:
            task.cancel()
    return run
