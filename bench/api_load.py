"""Request workloads for the API suite: bulk Service creates and timed collection lists.

Both run over one aiohttp ``ClientSession`` (HTTPS, admin client certificate). aiohttp is
fine on the load side: it is the server under test whose cost matters, and the report shows
the load generator's CPU next to the server's so a saturated client cannot pass unnoticed.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.stats import latency_summary_ms

JSON = "application/json"
# What kubectl get sends (k8s.io/kubectl/pkg/cmd/get, v1 Table with a JSON fallback).
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
SERVICES_PATH = "/api/v1/namespaces/default/services"
LABEL_RUN = "bench.kubegate.io/suite"


def service_body(index: int) -> bytes:
    """A Service with a distinct name, one or two ports and a few labels (defaults fill in)."""
    app = f"app-{index % 250:03d}"
    ports: list[dict[str, Any]] = [{"name": "http", "port": 80, "targetPort": 8080}]
    if index % 2:
        ports.append({"name": "metrics", "port": 9090, "protocol": "TCP"})
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"svc-{index:05d}",
            "labels": {"app": app, "tier": ("web", "api", "cache")[index % 3], LABEL_RUN: "api"},
        },
        "spec": {"selector": {"app": app}, "ports": ports},
    }
    return json.dumps(service, separators=(",", ":")).encode()


@dataclass(slots=True)
class CreateResult:
    """Outcome of the create phase: per-request latencies and non-201 answers by status."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[int] = field(default_factory=Counter)

    def summary(self, count: int, concurrency: int) -> dict[str, Any]:
        return {
            "services": count,
            "concurrency": concurrency,
            "seconds": self.seconds,
            "creates_per_s": count / self.seconds if self.seconds else 0.0,
            "failed": sum(self.failures.values()),
            "failed_by_status": {str(code): n for code, n in self.failures.items()},
            "latency": latency_summary_ms(self.latencies),
        }


async def create_services(
    session: aiohttp.ClientSession, count: int, concurrency: int, phase_timeout: float
) -> CreateResult:
    """POST ``count`` Services with ``concurrency`` requests in flight."""
    bodies = [service_body(index) for index in range(count)]  # built before the clock starts
    pending = iter(bodies)
    result = CreateResult()

    async def creator() -> None:
        for body in pending:
            started = time.perf_counter()
            async with session.post(
                SERVICES_PATH, data=body, headers={"Content-Type": JSON}
            ) as resp:
                await resp.read()
                status = resp.status
            result.latencies.append(time.perf_counter() - started)
            if status != 201:
                result.failures[status] += 1

    started = time.perf_counter()
    async with asyncio.timeout(phase_timeout), asyncio.TaskGroup() as group:
        for number in range(min(concurrency, count)):
            group.create_task(creator(), name=f"bench-creator-{number}")
    result.seconds = time.perf_counter() - started
    return result


async def time_list(
    session: aiohttp.ClientSession, path: str, accept: str, runs: int
) -> dict[str, Any]:
    """GET ``path`` ``runs`` times, one at a time; wall time to the last body byte."""
    seconds: list[float] = []
    body = b""
    for _ in range(runs):
        started = time.perf_counter()
        async with session.get(path, headers={"Accept": accept}) as resp:
            body = await resp.read()
            status, content_type = resp.status, resp.headers.get("Content-Type", "")
        seconds.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"GET {path} ({accept}) answered {status}: {body[:300]!r}")
    document = json.loads(body)
    return {
        "accept": accept,
        "content_type": content_type,
        "kind": document.get("kind"),
        "items": len(document.get("rows") or document.get("items") or []),
        "bytes": len(body),
        "runs_s": seconds,
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
    }


async def ensure_namespace(session: aiohttp.ClientSession, name: str) -> None:
    """Create a namespace; an existing one (409) is fine."""
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    async with session.post(
        "/api/v1/namespaces", data=body, headers={"Content-Type": JSON}
    ) as resp:
        text = await resp.text()
        if resp.status not in (201, 409):
            raise RuntimeError(f"creating namespace {name} answered {resp.status}: {text[:300]}")
