"""Mirror mode: a reflector per upstream resource type, feeding the server's Store.

``kubegate serve --upstream-kubeconfig K`` fronts a real cluster (docs/mirror.md): it lists
and watches Namespaces, Services, EndpointSlices, Pods and Nodes — and with
``--mirror-rbac`` Roles, RoleBindings, ClusterRoles and ClusterRoleBindings — from the
upstream (``client/reflector.py``), writes them into the configured store
(``server/mirror_sink.py``; a namespace gone upstream takes the mirror's own objects in
it along, ``server/mirror_namespaces.py``) and serves them read-only
(``server/mirror_readonly.py``).

``Mirror`` owns the upstream client and credentials (shared with the via-apiserver proxy,
so an exec plugin runs once), one named task per reflector, and the readiness signal: the
server reports ready once every resource has been listed once. ``MirrorCollector`` puts
the reflectors' state in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubegate.api.resources import ResourceType, lookup
from kubegate.client.api_watch import WatchClient
from kubegate.client.backoff import Backoff
from kubegate.client.credentials import Credentials
from kubegate.client.reflector import Reflector
from kubegate.controllers.clusterrole_aggregation import ClusterRoleAggregationController
from kubegate.server.allocators import Allocators
from kubegate.server.metrics import APIMetrics
from kubegate.server.mirror_namespaces import NamespaceSink, local_namespaced_types
from kubegate.server.mirror_readonly import MirrorHandlers, serviceaccount_refusal
from kubegate.server.mirror_settings import VIA_APISERVER, MirrorSettings
from kubegate.server.mirror_sink import StoreSink
from kubegate.server.resource_writes import EscalationCheck
from kubegate.store.base import Store

log = logging.getLogger("kubegate.mirror")

# (group, version, plural), in the order they are listed at start: Namespaces first, so
# that a namespaced object never arrives for a namespace the mirror has not seen.
MIRRORED = (
    ("", "v1", "namespaces"),
    ("", "v1", "nodes"),
    ("", "v1", "services"),
    ("discovery.k8s.io", "v1", "endpointslices"),
    ("", "v1", "pods"),
)
MIRRORED_RBAC = (
    ("rbac.authorization.k8s.io", "v1", "clusterroles"),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "v1", "roles"),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"),
)


def mirrored_types(settings: MirrorSettings) -> tuple[ResourceType, ...]:
    """The resource types this mirror serves read-only."""
    wanted = MIRRORED + (MIRRORED_RBAC if settings.rbac else ())
    types = []
    for group, version, plural in wanted:
        rt = lookup(group, version, plural)
        assert rt is not None, plural
        types.append(rt)
    return tuple(types)


class Mirror:
    """The reflectors of one upstream cluster and their tasks."""

    def __init__(self, settings: MirrorSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.types = mirrored_types(settings)
        self.credentials = Credentials(settings.upstream)
        self.client = WatchClient(
            settings.upstream,
            credentials=self.credentials,
            watch_idle_timeout=settings.watch_idle_timeout,
        )
        self.reflectors = [
            Reflector(
                self.client,
                f"{rt.path_prefix()}/{rt.plural}",
                self._sink(rt),
                name=rt.qualified,
                backoff=Backoff(
                    initial=min(settings.backoff_initial, settings.backoff_max),
                    maximum=settings.backoff_max,
                ),
                watch_timeout=settings.watch_timeout,
                resync_period=settings.resync_period,
            )
            for rt in self.types
        ]
        self._tasks: list[asyncio.Task[None]] = []

    def _sink(self, rt: ResourceType) -> StoreSink:
        if rt.plural == "namespaces":  # a namespace gone upstream takes local objects along
            return NamespaceSink(self.store, rt, local_namespaced_types(self.types))
        return StoreSink(self.store, rt)

    @property
    def synced(self) -> bool:
        return all(r.status.synced for r in self.reflectors)

    @property
    def acts_upstream_as_users(self) -> bool:
        """Whether proxy requests reach the upstream impersonating the local user: then a
        local identity is an upstream one, and local ServiceAccounts are refused."""
        return self.settings.proxy_mode == VIA_APISERVER

    def read_only_handlers(
        self, allocators: Allocators, *, escalation_check: EscalationCheck | None
    ) -> MirrorHandlers:
        """The resource handlers of a mirror: writes to mirrored types are refused (and
        ServiceAccount creation, via-apiserver)."""
        return MirrorHandlers(
            self.store,
            allocators,
            mirrored=self.types,
            upstream=self.settings.upstream_name,
            escalation_check=escalation_check,
            refuse_serviceaccounts=self.acts_upstream_as_users,
        )

    def token_request_refusal(self) -> str | None:
        """Why TokenRequests are refused (via-apiserver: see mirror_readonly), else None."""
        if not self.acts_upstream_as_users:
            return None
        return serviceaccount_refusal(
            self.settings.upstream_name, "tokens for serviceaccounts are not issued here"
        )

    def start(
        self, metrics: APIMetrics | None = None, on_synced: Callable[[], None] | None = None
    ) -> None:
        """Start every reflector; ``on_synced`` is called once all have listed once.

        No local controller runs in mirror mode (the upstream's EndpointSlice controller
        made the mirrored slices; a local one would fight it), except the ClusterRole
        aggregation controller when RBAC is local (without ``--mirror-rbac``), for the
        mirror's own ClusterRoles."""
        if metrics is not None:
            metrics.add_collector(MirrorCollector(self))
        if not self.settings.rbac:
            aggregation = ClusterRoleAggregationController(self.store)
            self._tasks.append(
                asyncio.create_task(aggregation.run(), name="clusterrole-aggregation-controller")
            )
        log.info(
            "mirroring %s from %s (proxy %s)",
            ", ".join(rt.qualified for rt in self.types),
            self.settings.upstream_name,
            self.settings.proxy_mode,
        )
        for reflector in self.reflectors:
            self._tasks.append(
                asyncio.create_task(reflector.run(), name=f"mirror {reflector.name}")
            )
        if on_synced is not None:
            self._tasks.append(
                asyncio.create_task(self._report_synced(on_synced), name="mirror synced")
            )

    async def _report_synced(self, on_synced: Callable[[], None]) -> None:
        for reflector in self.reflectors:
            await reflector.synced.wait()  # no timeout: readiness waits for the upstream
        log.info("every resource is synced from %s", self.settings.upstream_name)
        on_synced()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.client.aclose()


class MirrorCollector(Collector):
    """``/metrics`` for the mirror, read at scrape time::

    kubegate_mirror_synced{resource}                       1 once listed, else 0
    kubegate_mirror_relists_total{resource}                lists after the first
    kubegate_mirror_errors_total{resource}                 failed lists, watches, writes
    kubegate_mirror_last_sync_timestamp_seconds{resource}  the last successful list
    """

    def __init__(self, mirror: Mirror) -> None:
        self._mirror = mirror

    def describe(self) -> list[Metric]:
        return []  # built fresh on every scrape

    def collect(self) -> Iterator[Metric]:
        synced = GaugeMetricFamily(
            "kubegate_mirror_synced",
            "Whether the mirror has listed the upstream resource at least once.",
            labels=("resource",),
        )
        relists = CounterMetricFamily(
            "kubegate_mirror_relists",
            "Lists of the upstream resource after the first (410 Gone, errors, resync).",
            labels=("resource",),
        )
        errors = CounterMetricFamily(
            "kubegate_mirror_errors",
            "Failed lists and watches of the upstream resource (each followed by a backoff).",
            labels=("resource",),
        )
        last_sync = GaugeMetricFamily(
            "kubegate_mirror_last_sync_timestamp_seconds",
            "When the upstream resource was last listed successfully (Unix time).",
            labels=("resource",),
        )
        for reflector in self._mirror.reflectors:
            status, labels = reflector.status, (reflector.name,)
            synced.add_metric(labels, 1.0 if status.synced else 0.0)
            relists.add_metric(labels, status.relists)
            errors.add_metric(labels, status.errors)
            if status.last_sync is not None:
                last_sync.add_metric(labels, status.last_sync)
        yield from (synced, relists, errors, last_sync)
