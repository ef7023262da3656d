"""Several ``kubegate serve`` replicas on one real etcd and one shared data directory.

``ReplicaSet`` starts the replicas *concurrently* on the same ``--data-dir`` (the directory's
lock makes the first one mint the CA and the others reuse it, so every replica accepts every
credential), kills and restarts them, and finds the one that leads from each replica's
``leader_election_master_status`` gauge. Each replica is a ``Kubegate`` of the proxy harness,
so the same request helpers speak to any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from integration.proxy.cluster import Kubegate, start_server_process

# Fast election for the bounded tests: a killed leader is replaced in ~3-4 s.
FAST_ELECTION = (
    "--leader-elect-lease-duration=3s",
    "--leader-elect-renew-deadline=2s",
    "--leader-elect-retry-period=500ms",
)
_LEADER_GAUGE = re.compile(
    rb'^leader_election_master_status\{name="kubegate-controller-manager"\} (\S+)$', re.M
)
# What a client sees when the replica it talks to has died.
CONNECTION_ERRORS = (
    OSError,
    ConnectionError,
    asyncio.IncompleteReadError,
    ssl.SSLError,
    TimeoutError,
)


class ReplicaSet:
    """``count`` replicas of kubegate on ``store_url`` sharing ``data_dir``."""

    def __init__(self, store_url: str, data_dir: Path, *flags: str) -> None:
        self.store_url = store_url
        self.data_dir = data_dir
        self.flags = ("--shutdown-grace", "2", "--proxy-allow-cidrs", "127.0.0.0/8", *flags)
        self.replicas: list[Kubegate] = []

    def start(self, count: int) -> ReplicaSet:
        """Start ``count`` replicas at the same time and wait until each listens."""
        with ThreadPoolExecutor(count) as pool:
            futures = [pool.submit(self._spawn) for _ in range(count)]
        failed = [f.exception() for f in futures if f.exception() is not None]
        if failed:  # stop the ones that did start before reporting the first failure
            for future in futures:
                if future.exception() is None:
                    future.result().stop()
            raise failed[0]  # type: ignore[misc]
        self.replicas = [Kubegate(future.result()) for future in futures]
        return self

    def _spawn(self) -> Any:
        return start_server_process(self.data_dir, *self.flags, store=self.store_url)

    def __getitem__(self, index: int) -> Kubegate:
        return self.replicas[index]

    def __len__(self) -> int:
        return len(self.replicas)

    def alive(self) -> list[Kubegate]:
        return [kg for kg in self.replicas if kg.process.proc.poll() is None]

    def kill(self, kg: Kubegate) -> None:
        """SIGKILL: no drain, no Lease release, connections reset."""
        kg.process.stop(signal.SIGKILL)

    def restart(self, kg: Kubegate) -> Kubegate:
        """Replace a stopped or killed replica by a fresh process on the same data dir."""
        if kg.process.proc.poll() is None:
            kg.process.stop()
        fresh = Kubegate(self._spawn())
        self.replicas[self.replicas.index(kg)] = fresh
        return fresh

    def heal(self) -> None:
        """Restart every replica that is not running (tests that kill leave the set whole)."""
        for kg in list(self.replicas):
            if kg.process.proc.poll() is not None:
                self.restart(kg)

    def stop(self) -> None:
        for kg in self.replicas:
            kg.process.stop()

    def output(self) -> str:
        return "\n".join("".join(kg.process.output) for kg in self.replicas)


async def leads(kg: Kubegate) -> bool | None:
    """Whether ``kg`` says it leads (its /metrics gauge); None if it cannot be asked."""
    try:
        response = await kg.request("GET", "/metrics", within=5)
    except CONNECTION_ERRORS:
        return None
    match = _LEADER_GAUGE.search(response.body)
    return match is not None and float(match.group(1)) == 1.0


async def leaders(replicas: list[Kubegate]) -> list[Kubegate]:
    answers = await asyncio.gather(*(leads(kg) for kg in replicas))
    return [kg for kg, leading in zip(replicas, answers, strict=True) if leading]


async def the_leader(replicas: list[Kubegate], within: float = 15.0) -> Kubegate:
    """The one replica leading, once exactly one does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await leaders(replicas)
        if len(found) == 1:
            return found[0]
        assert loop.time() < deadline, f"{len(found)} replicas lead"
        await asyncio.sleep(0.1)


async def api_json(kg: Kubegate, method: str, path: str, obj: Any = None) -> Any:
    response = await kg.api(method, path, obj)
    assert response.status < 300, response
    return response.json()


async def poll(check: Any, within: float, interval: float = 0.05) -> Any:
    """Await ``check()`` until it returns something truthy; AssertionError after ``within``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        with contextlib.suppress(*CONNECTION_ERRORS):
            result = await check()
            if result:
                return result
        assert loop.time() < deadline, f"not within {within}s"
        await asyncio.sleep(interval)
