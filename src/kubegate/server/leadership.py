"""Wiring of the controllers into the server: behind leader election, with a metric.

``start_controllers`` runs ``controllers.manager.run_controllers`` either under a
``LeaderElector`` (the default: only the replica holding the Lease
``kube-system/kubegate-controller-manager`` runs them) or, with ``--leader-elect=false``,
unconditionally. On a store no other process can share (sqlite, memory) the election takes
over any existing Lease at once, so a single server pays one write per retry period and no
waiting, and ``kubectl get lease -n kube-system`` shows the holder either way.

/metrics gets kube's ``leader_election_master_status{name}`` gauge: 1 on the replica that
leads, 0 on the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubegate.controllers.leaderelection import LeaderElector
from kubegate.controllers.manager import run_controllers
from kubegate.server.metrics import APIMetrics
from kubegate.server.settings import ServeSettings
from kubegate.store.base import Store

# Stores whose state several processes share; only on these can another replica hold the Lease.
SHARED_STORE_SCHEMES = ("etcd:", "etcds:")


class LeaderCollector(Collector):
    """``leader_election_master_status``, read from the elector at scrape time."""

    def __init__(self, elector: LeaderElector) -> None:
        self._elector = elector

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
            "backup, 1 indicates master. 'name' is the string used to identify the lease.",
            labels=("name",),
        )
        gauge.add_metric((self._elector.config.name,), 1.0 if self._elector.is_leader else 0.0)
        yield gauge


def start_controllers(
    settings: ServeSettings, store: Store, metrics: APIMetrics | None
) -> tuple[LeaderElector | None, Callable[[], Awaitable[None]]]:
    """Start the controllers as the settings ask; returns the elector (None without leader
    election) and an async ``stop`` that stops them and releases the Lease."""
    if not settings.leader_elect:
        task = asyncio.create_task(run_controllers(store), name="controllers")

        async def stop_unelected() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        return None, stop_unelected

    shared = settings.effective_store_url.startswith(SHARED_STORE_SCHEMES)
    config = dataclasses.replace(settings.leader_election, takeover=not shared)
    elector = LeaderElector(store, config, lambda: run_controllers(store))
    if metrics is not None:
        metrics.add_collector(LeaderCollector(elector))
    election = asyncio.create_task(elector.run(), name="leader-election")

    async def stop() -> None:
        await elector.stop()
        await asyncio.gather(election, return_exceptions=True)

    return elector, stop
