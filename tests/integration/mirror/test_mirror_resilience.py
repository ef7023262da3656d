"""The mirror when the upstream is away: not ready until the first lists succeed, backing
off and catching up after the line comes back, and a relist (after the upstream lost its
watch history: 410 Gone) reconciling a deletion the watch never delivered."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.mirror.kit import (
    Relay,
    metrics,
    readyz,
    running_mirror,
    series,
    upstream_kubeconfig,
    wait_for,
    wait_ready,
)
from integration.proxy.cluster import start_server_process
from integration.proxy.harness import Cluster, Kubegate, new_cluster

SERVICES = "services"
QUICK_STOP = ("--shutdown-grace", "1")


def service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "http", "port": 80}]},
    }


async def until_metric(
    kg: Kubegate, name: str, check: Callable[[float], bool], within: float = 20.0
) -> float:
    """Poll the mirror's /metrics until ``check(value)`` holds for sample ``name``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = (await metrics(kg)).get(name, 0.0)
        if check(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.05)


@pytest.fixture
def line(upstream: Kubegate) -> Iterator[Relay]:
    """A relay of the test's own to the shared upstream, starting down."""
    relay = Relay(upstream.port, up=False)
    yield relay
    relay.close()


@pytest.fixture
def kubeconfig(upstream: Kubegate, line: Relay, tmp_path: Path) -> Path:
    return upstream_kubeconfig(upstream, line.url, tmp_path / "upstream.kubeconfig")


async def test_mirror_is_not_ready_until_the_upstream_answers(line: Relay, kubeconfig: Path):
    """With the upstream unreachable the mirror keeps failing and /readyz says 503; once it
    answers, the mirror syncs and /readyz says 200."""
    with running_mirror(kubeconfig) as mirror:
        errors = await until_metric(
            mirror, series("kubegate_mirror_errors_total", SERVICES), lambda v: v >= 2
        )
        assert errors >= 2
        assert await readyz(mirror) == 503
        assert (await metrics(mirror))[series("kubegate_mirror_synced", SERVICES)] == 0.0
        line.up()
        await wait_ready(mirror)
        assert (await metrics(mirror))[series("kubegate_mirror_synced", SERVICES)] == 1.0


async def test_mirror_catches_up_after_the_upstream_comes_back(
    cluster: Cluster, line: Relay, kubeconfig: Path
):
    """A Service created while the line is down reaches the mirror once it is back."""
    line.up()
    base = f"/api/v1/namespaces/{cluster.namespace}/services"
    with running_mirror(kubeconfig) as mirror:
        await wait_ready(mirror)
        await wait_for(mirror, f"/api/v1/namespaces/{cluster.namespace}", lambda r: r.status == 200)
        errors_name = series("kubegate_mirror_errors_total", SERVICES)
        before = (await metrics(mirror))[errors_name]
        line.down()
        await cluster.create(base, service("meanwhile"))
        assert await until_metric(mirror, errors_name, lambda v: v > before) > before
        assert (await mirror.request("GET", f"{base}/meanwhile")).status == 404
        line.up()
        response = await wait_for(mirror, f"{base}/meanwhile", lambda r: r.status == 200)
        assert response.status == 200, response


@pytest.fixture
def restartable_upstream() -> Iterator[tuple[Path, list[Kubegate]]]:
    """An upstream on sqlite (its objects survive a restart; its watch history does not).
    The list holds the running instance; a test may replace it."""
    with tempfile.TemporaryDirectory(prefix="kubegate-mirror-up-") as tmp:
        data = Path(tmp)
        running = [
            Kubegate(start_server_process(data, *QUICK_STOP, store=f"sqlite:{data / 'state.db'}"))
        ]
        try:
            yield data, running
        finally:
            running[-1].process.stop()


async def test_deletion_while_disconnected_is_reconciled_by_a_relist(
    restartable_upstream, tmp_path: Path
):
    """A Service deleted upstream while the mirror's watch is cut, the upstream then
    restarted (its watch history gone: 410), disappears from the mirror through a relist."""
    data, running = restartable_upstream
    upstream = running[0]
    relay = Relay(upstream.port)
    try:
        kubeconfig = upstream_kubeconfig(upstream, relay.url, tmp_path / "upstream.kubeconfig")
        cluster = await new_cluster(upstream, "relist")
        path = f"/api/v1/namespaces/{cluster.namespace}/services"
        await cluster.create(path, service("doomed"))
        with running_mirror(kubeconfig) as mirror:
            await wait_ready(mirror)
            seen = await wait_for(mirror, f"{path}/doomed", lambda r: r.status == 200)
            assert seen.status == 200, seen
            relay.down()
            assert (await upstream.api("DELETE", f"{path}/doomed")).status == 200
            upstream.process.stop()
            running[0] = upstream = Kubegate(
                start_server_process(data, *QUICK_STOP, store=f"sqlite:{data / 'state.db'}")
            )
            relay.up(upstream.port)
            gone = await wait_for(mirror, f"{path}/doomed", lambda r: r.status == 404)
            assert gone.status == 404, gone
            relists = (await metrics(mirror))[series("kubegate_mirror_relists_total", SERVICES)]
            assert relists >= 1
    finally:
        relay.close()
