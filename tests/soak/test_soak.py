"""Soak: a real ``kubegate serve`` (sqlite store, audit log on) under mixed load from a
second process — API CRUD, lists, watches, plain and streamed proxy requests, proxied
WebSocket sessions, and requests to a service without endpoints (the provoked 503s) — at
high concurrency, as a user bound to cluster-admin (so the in-flight limits count it).

Checked at the end:
- no 5xx but the provoked ones, every other answer the expected success, no client error;
- no growth between the idle server after a warm-up run and the idle server after the
  soak beyond FD_BOUND file descriptors, TASK_BOUND asyncio tasks (read from /debug/tasks)
  and RSS_BOUND of resident memory;
- every exchange's Audit-Id has exactly one ResponseComplete audit record, with the status
  the client saw (writes and WebSocket sessions have a RequestReceived one before it).

Duration: KUBEGATE_SOAK_SECONDS (default 30; what `make test` runs) and, marked slow for
`make test-all`, KUBEGATE_SOAK_LONG_SECONDS (default 120).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integration.proxy.harness import (
    Backends,
    Cluster,
    Exchange,
    Kubegate,
    Port,
    new_cluster,
    running_kubegate,
)

SOAK_SECONDS = float(os.environ.get("KUBEGATE_SOAK_SECONDS", "30"))
SOAK_LONG_SECONDS = float(os.environ.get("KUBEGATE_SOAK_LONG_SECONDS", "120"))
WARMUP_SECONDS = 5.0
CONCURRENCY = 64
FD_BOUND = 32  # pooled backend connections come and go with the load's timing
TASK_BOUND = 16
RSS_BOUND_KIB = 64 * 1024
SETTLE = 20.0  # seconds for the server to close what the load left behind
LOAD = Path(__file__).with_name("load.py")
TOKEN = "tok-soak-7d6c5b4a39281706"
EXPECTED = {
    "create": 201,
    "get": 200,
    "patch": 200,
    "delete": 200,
    "list": 200,
    "watch": 200,
    "proxy": 200,
    "stream": 200,
    "websocket": 101,
    "provoked": 503,
}


@dataclass(frozen=True)
class Snapshot:
    fds: int
    tasks: int
    rss_kib: int


async def web(exchange: Exchange) -> None:
    """Small answers at /plain, a ten-chunk stream at /stream."""
    if exchange.request.target.startswith("/stream"):
        await exchange.respond(200, [("Transfer-Encoding", "chunked")])
        for i in range(10):
            await exchange.write(b"%x\r\n%s\r\n" % (len(b"event-%d\n" % i), b"event-%d\n" % i))
            await asyncio.sleep(0.005)
        await exchange.write(b"0\r\n\r\n")
        return
    await exchange.respond(200, [("Content-Type", "text/plain")], b"hello from the backend\n")


async def snapshot(kg: Kubegate) -> Snapshot:
    response = await kg.request("GET", "/debug/tasks")
    assert response.status == 200, response
    match = re.search(r"^tasks: (\d+)$", response.body.decode(), re.MULTILINE)
    assert match is not None
    return Snapshot(kg.fd_count(), int(match.group(1)), kg.rss_kib())


async def settled(kg: Kubegate, bound: Snapshot | None) -> Snapshot:
    """Poll until the server is back within the bounds of ``bound`` (or, with None, until
    its descriptor count stops falling); the last snapshot."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    previous = await snapshot(kg)
    while loop.time() < deadline:
        await asyncio.sleep(0.5)
        now = await snapshot(kg)
        if bound is None and now.fds >= previous.fds and now.tasks >= previous.tasks:
            return now
        if bound is not None and (
            now.fds <= bound.fds + FD_BOUND and now.tasks <= bound.tasks + TASK_BOUND
        ):
            return now
        previous = now
    return previous


async def run_load(config: dict[str, Any], seconds: float) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(LOAD),
        json.dumps({**config, "seconds": seconds}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(seconds + 120):
            out, err = await process.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    assert process.returncode == 0, err.decode()[-4000:]
    return json.loads(out.decode().strip().splitlines()[-1])


def audit_records(log: Path) -> dict[str, list[dict[str, Any]]]:
    """The ResponseComplete records by audit id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event["stage"] == "ResponseComplete":
            found.setdefault(event["auditID"], []).append(event)
    return found


async def all_recorded(log: Path, ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The audit records, once every id in ``ids`` has one (tunnels are recorded when they
    end, which may be a moment after the load process has gone)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while True:
        records = audit_records(log)
        if ids <= records.keys() or loop.time() > deadline:
            return records
        await asyncio.sleep(0.2)


async def prepare(kg: Kubegate, backends: Backends) -> Cluster:
    cluster = await new_cluster(kg, "soak")
    await cluster.serve("web", Port(await backends.http(web)))
    await cluster.serve("ws", Port(await backends.websocket()))
    await cluster.service("nowhere", [{"name": "http", "port": 80}], selector={"app": "none"})
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "soak-admin"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "soak"}],
    }
    response = await kg.api(
        "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding
    )
    assert response.status == 201, response
    headers = [("Authorization", f"Bearer {TOKEN}")]
    path = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while (await kg.request("GET", path, headers=headers, auth=None)).status != 200:
        assert loop.time() < deadline, "the soak user never got its binding"
        await asyncio.sleep(0.05)
    return cluster


async def soak(tmp_path: Path, seconds: float) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f"{TOKEN},soak,u-soak\n")
    log = tmp_path / "audit.log"
    flags = (
        "--store",
        f"sqlite:{tmp_path / 'state.db'}",
        "--audit-log-path",
        str(log),
        "--token-auth-file",
        str(tokens),
        "--proxy-allow-cidrs",
        "127.0.0.0/8",
    )
    backends = Backends()
    try:
        with running_kubegate(*flags) as kg:
            cluster = await prepare(kg, backends)
            config = {
                "url": f"https://{kg.netloc}",
                "token": TOKEN,
                "ca": str(kg.data_dir / "ca.crt"),
                "namespace": cluster.namespace,
                "concurrency": CONCURRENCY,
            }
            await run_load(config, WARMUP_SECONDS)
            warm = await settled(kg, None)
            summary = await run_load(config, seconds)
            end = await settled(kg, warm)
            exchanges = [tuple(e) for e in summary["exchanges"]]
            ids = {audit_id for _, _, audit_id in exchanges}
            records = await all_recorded(log, ids)
    finally:
        await backends.close()

    kinds = Counter(kind for kind, _, _ in exchanges)
    print(f"soak {seconds:.0f}s: {len(exchanges)} exchanges {dict(kinds)}; {warm} -> {end}")
    assert summary["errors"] == []
    unexpected = Counter((k, s) for k, s, _ in exchanges if s != EXPECTED[k])
    assert unexpected == Counter(), "answers other than the expected ones"
    assert all(kinds[kind] > 0 for kind in EXPECTED), kinds
    assert end.fds <= warm.fds + FD_BOUND, f"file descriptors {warm.fds} -> {end.fds}"
    assert end.tasks <= warm.tasks + TASK_BOUND, f"tasks {warm.tasks} -> {end.tasks}"
    assert end.rss_kib <= warm.rss_kib + RSS_BOUND_KIB, f"RSS {warm.rss_kib} -> {end.rss_kib} KiB"
    assert "" not in ids, "an answer without an Audit-Id"
    assert len(ids) == len(exchanges), "an Audit-Id answered twice"
    missing = ids - records.keys()
    assert not missing, f"{len(missing)} exchanges without an audit record"
    for kind, status, audit_id in exchanges:
        [record] = records[audit_id]
        assert record["responseStatus"]["code"] == status, (kind, record)


@pytest.mark.timeout(SOAK_SECONDS + 240)
async def test_soak(tmp_path: Path) -> None:
    """KUBEGATE_SOAK_SECONDS (30) of mixed load: no unprovoked 5xx, no leak, all audited."""
    await soak(tmp_path, SOAK_SECONDS)


@pytest.mark.slow
@pytest.mark.timeout(SOAK_LONG_SECONDS + 240)
async def test_soak_long(tmp_path: Path) -> None:
    """KUBEGATE_SOAK_LONG_SECONDS (120) of the same load, for `make test-all`."""
    await soak(tmp_path, SOAK_LONG_SECONDS)
