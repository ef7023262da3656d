"""A mirror watch whose connection goes silently dead (open, but carrying nothing) is noticed
by its bookmark-based idle timeout and watched again on a new connection, instead of after
twice the watch timeout (~11 minutes)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.mirror.kit import (
    Relay,
    metrics,
    running_mirror,
    series,
    upstream_kubeconfig,
    wait_for,
    wait_ready,
)
from integration.proxy.harness import Kubegate, new_cluster, running_kubegate

IDLE_TIMEOUT = 2.0  # the mirror's --mirror-watch-idle-timeout in these tests
# The upstream's bookmarks come every 0.5 s, so a healthy watch is never idle that long.
BOOKMARKS = ("--watch-bookmark-interval", "0.5")
ERRORS = series("kubegate_mirror_errors_total", "services")


def service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "http", "port": 80}]},
    }


@pytest.fixture(scope="module")
def bookmarking_upstream() -> Iterator[Kubegate]:
    with running_kubegate(*BOOKMARKS) as kg:
        yield kg


@pytest.fixture
def line(bookmarking_upstream: Kubegate) -> Iterator[Relay]:
    relay = Relay(bookmarking_upstream.port)
    yield relay
    relay.close()


@pytest.fixture
def kubeconfig(bookmarking_upstream: Kubegate, line: Relay, tmp_path: Path) -> Path:
    return upstream_kubeconfig(bookmarking_upstream, line.url, tmp_path / "upstream.kubeconfig")


async def test_a_silently_dead_watch_is_replaced_within_the_idle_timeout(
    bookmarking_upstream: Kubegate, line: Relay, kubeconfig: Path
):
    """With the watch's connection frozen, a Service created upstream still reaches the
    mirror within a few seconds of the idle timeout, over a new watch."""
    cluster = await new_cluster(bookmarking_upstream, "deadwatch")
    base = f"/api/v1/namespaces/{cluster.namespace}/services"
    with running_mirror(kubeconfig, "--mirror-watch-idle-timeout", str(IDLE_TIMEOUT)) as mirror:
        await wait_ready(mirror)
        # Created after the first list, so it arrives over the watch: the watch is open.
        await cluster.create(base, service("before"))
        seen = await wait_for(mirror, f"{base}/before", lambda r: r.status == 200)
        assert seen.status == 200, seen
        errors_before = (await metrics(mirror)).get(ERRORS, 0.0)
        line.freeze()
        loop = asyncio.get_running_loop()
        frozen_at = loop.time()
        await cluster.create(base, service("during"))
        bound = IDLE_TIMEOUT + 8.0  # idle timeout, a backoff, a new watch
        arrived = await wait_for(mirror, f"{base}/during", lambda r: r.status == 200, bound)
        assert arrived.status == 200, "the mirror kept waiting on the dead watch"
        assert loop.time() - frozen_at < bound
        assert (await metrics(mirror))[ERRORS] > errors_before  # noticed as a failed watch


async def test_a_bookmarking_watch_is_not_mistaken_for_a_dead_one(kubeconfig: Path):
    """A quiet watch that gets bookmarks more often than the idle timeout is never failed."""
    with running_mirror(kubeconfig, "--mirror-watch-idle-timeout", str(IDLE_TIMEOUT)) as mirror:
        await wait_ready(mirror)
        await asyncio.sleep(2.5 * IDLE_TIMEOUT)  # the span being checked, not a readiness wait
        assert (await metrics(mirror)).get(ERRORS, 0.0) == 0.0
