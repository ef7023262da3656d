"""The server's Prometheus metrics: one registry per server, kube's names where they fit.

    apiserver_request_total{verb,group,version,resource,subresource,scope,component,code}
    apiserver_request_duration_seconds{verb,group,version,resource,subresource,scope,component}
    apiserver_response_sizes{...the same labels}
    apiserver_longrunning_requests{...the same labels}       gauge, fed by limits.py
    apiserver_registered_watchers{group,version,kind}        gauge, fed by watch.py
    apiserver_current_inflight_requests{request_kind=readOnly|mutating}   read at scrape
    kubegate_current_long_running_requests                                read at scrape
    kubegate_rejected_requests_total{limit=readOnly|mutating|longRunning|userRate}
    authentication_attempts_total{result=success|failure|error}
    apiserver_authorization_decisions_total{decision=allowed|denied}
    kubegate_proxy_requests_total{kind=services|pods|nodes,code}
    kubegate_proxy_request_duration_seconds{kind}
    kubegate_proxy_bytes_total{kind,direction=request|response}
    kubegate_proxy_upstream_errors_total{kind=connect|tls|timeout|protocol|reset}
    kubegate_proxy_upstream_connections{state=idle|active}, ..._opened_total   read at scrape
    kubegate_proxy_target_requests_total{kind,namespace,name,code}   opt-in, capped
    kubegate_proxy_rewrite_memo_*   hits, misses, entries, bytes (server/rewrite_memo_metrics.py)
    leader_election_master_status{name}        gauge, read at scrape (server/leadership.py)

Cardinality (security.md §1.12, CVE-2020-8552: a ``client`` label let anyone grow the
apiserver's memory without bound). Every label value comes from a fixed set: verbs are
mapped to kube's reported verbs or "other"; group, version, resource and subresource are
only those of a resource type the server serves (a request for an unknown one is counted
with empty values, never with what the client wrote); codes are numbers. Namespaces, names,
paths, users and user agents are never labels — except proxy targets behind
``--metrics-proxy-target-labels N``, which records at most N distinct targets and folds the
rest into ``_other`` (not a valid Kubernetes name, so it cannot collide with one).

Per-request cost: label children are bound once per label tuple and cached in dicts, and are
plain numbers (``metric_families.py``); gauges that only a scrape needs (in-flight counts,
pool stats) are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from kubegate.api.resources import ResourceType
from kubegate.core.requestinfo import RequestInfo
from kubegate.http.relay import UPSTREAM_ERRORS_KEY
from kubegate.server.metric_families import (
    Cell,
    FamiliesCollector,
    Family,
    HistogramCell,
    LimiterCollector,
    PoolCollector,
)
from kubegate.server.metric_labels import (
    APPLY_PATCH,
    REQUEST_LABELS,
    LabelValues,
    cacheable,
    request_labels,
)
from kubegate.server.respond import base_headers

if TYPE_CHECKING:
    from kubegate.http.client import PoolStats
    from kubegate.server.context import RequestContext
    from kubegate.server.limits import RequestLimiter

# The classic text format every Prometheus version reads (what kube-apiserver serves).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# kube's apiserver_request_duration_seconds buckets (k8s.io/apiserver endpoints/metrics).
DURATION_BUCKETS: tuple[float, ...] = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5)
DURATION_BUCKETS += (2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)
# kube's apiserver_response_sizes buckets: 1 kB to 1 GB, by tens.
SIZE_BUCKETS = tuple(1000.0 * 10**n for n in range(7))
PROXY_KINDS = frozenset({"services", "pods", "nodes"})
UPSTREAM_ERROR_KINDS = ("connect", "tls", "timeout", "protocol", "reset")
OTHER_TARGET = "_other"
MAX_LABEL_VALUE = 253  # a DNS subdomain; a proxy id longer than that is cut
_BY_INFO_MAX = 1024  # entries of the series memo by request info identity; dropped when full


def _code(status: int) -> str:
    return str(status) if status == 0 or 100 <= status <= 599 else "other"


class _Series:
    """The cells of one request label tuple."""

    __slots__ = ("codes", "duration", "labels", "metrics", "running", "sizes")

    def __init__(self, metrics: APIMetrics, labels: LabelValues) -> None:
        self.metrics = metrics
        self.labels = labels
        self.duration: HistogramCell = metrics.durations.labels(*labels)
        self.sizes: HistogramCell = metrics.sizes.labels(*labels)
        self.running: Cell | None = None  # apiserver_longrunning_requests, bound when needed
        self.codes: dict[int, Cell] = {}

    def count(self, status: int) -> None:
        cell = self.codes.get(status)
        if cell is None:
            cell = self.codes[status] = self.metrics.requests.labels(*self.labels, _code(status))
        cell.value += 1


class _ProxySeries:
    __slots__ = ("codes", "duration", "kind", "metrics", "received", "sent")

    def __init__(self, metrics: APIMetrics, kind: str) -> None:
        self.metrics = metrics
        self.kind = kind
        self.duration: HistogramCell = metrics.proxy_duration.labels(kind)
        self.received: Cell = metrics.proxy_bytes.labels(kind, "request")  # client -> backend
        self.sent: Cell = metrics.proxy_bytes.labels(kind, "response")  # backend -> client
        self.codes: dict[int, Cell] = {}

    def count(self, status: int) -> None:
        cell = self.codes.get(status)
        if cell is None:
            cell = self.codes[status] = self.metrics.proxy_requests.labels(self.kind, _code(status))
        cell.value += 1


class APIMetrics:
    """The metrics of one server (its own registry) and the per-request bookkeeping."""

    def __init__(self, *, proxy_target_limit: int = 0) -> None:
        self.requests = Family(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, group, version, "
            "resource, scope, component, and HTTP response code.",
            (*REQUEST_LABELS, "code"),
            "counter",
        )
        self.durations = Family(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, version, "
            "resource, subresource, scope and component.",
            REQUEST_LABELS,
            "histogram",
            DURATION_BUCKETS,
        )
        self.sizes = Family(
            "apiserver_response_sizes",
            "Response size distribution in bytes for each group, version, verb, resource, "
            "subresource, scope and component.",
            REQUEST_LABELS,
            "histogram",
            SIZE_BUCKETS,
        )
        self.long_running = Family(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component.",
            REQUEST_LABELS,
            "gauge",
        )
        self.watchers = Family(
            "apiserver_registered_watchers",
            "Number of currently registered watchers for a given resource.",
            ("group", "version", "kind"),
            "gauge",
        )
        authn = Family(
            "authentication_attempts", "Counter of authenticated attempts.", ("result",), "counter"
        )
        self.authn_success = authn.labels("success")
        self.authn_failure = authn.labels("failure")  # no credential recognised
        self.authn_error = authn.labels("error")  # a credential presented and refused
        authz = Family(
            "apiserver_authorization_decisions_total",
            "Total number of terminal decisions made by the authorizer.",
            ("decision",),
            "counter",
        )
        self.authz_allowed = authz.labels("allowed")
        self.authz_denied = authz.labels("denied")
        self.proxy_requests = Family(
            "kubegate_proxy_requests_total",
            "Requests to the services/pods/nodes proxy subresources by target kind and code.",
            ("kind", "code"),
            "counter",
        )
        self.proxy_duration = Family(
            "kubegate_proxy_request_duration_seconds",
            "Duration of proxied requests (streams and upgraded connections until they end).",
            ("kind",),
            "histogram",
            DURATION_BUCKETS,
        )
        self.proxy_bytes = Family(
            "kubegate_proxy_bytes_total",
            "Body bytes through the proxy: request (client to backend), response (back).",
            ("kind", "direction"),
            "counter",
        )
        upstream_errors = Family(
            "kubegate_proxy_upstream_errors_total",
            "Failures talking to proxy backends, by kind (retried attempts included).",
            ("kind",),
            "counter",
        )
        self._upstream_errors = {k: upstream_errors.labels(k) for k in UPSTREAM_ERROR_KINDS}
        families = [
            self.requests,
            self.durations,
            self.sizes,
            self.long_running,
            self.watchers,
            authn,
            authz,
            self.proxy_requests,
            self.proxy_duration,
            self.proxy_bytes,
            upstream_errors,
        ]
        self.proxy_target_limit = proxy_target_limit
        self.proxy_targets: Family | None = None
        self._targets: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        if proxy_target_limit > 0:
            self.proxy_targets = Family(
                "kubegate_proxy_target_requests_total",
                f"Proxied requests per target (the first {proxy_target_limit} targets seen; "
                f"later ones are counted as {OTHER_TARGET}).",
                ("kind", "namespace", "name", "code"),
                "counter",
            )
            families.append(self.proxy_targets)
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(FamiliesCollector(families))
        self._series: dict[tuple[Any, ...], _Series] = {}
        self._series_by_info: dict[int, tuple[RequestInfo, str, bool, _Series]] = {}
        self._proxy: dict[str, _ProxySeries] = {}
        self._watchers: dict[tuple[str, str, str], Cell] = {}

    # -- collectors read at scrape time -----------------------------------------------------

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    def watch_pool(self, stats: Callable[[], PoolStats]) -> None:
        """Expose the upstream pool's connection counts (read when scraped)."""
        self.add_collector(PoolCollector(stats))

    def watch_limiter(self, limiter: RequestLimiter) -> None:
        """Expose the limiter's in-flight counts and rejections (read when scraped)."""
        self.add_collector(LimiterCollector(limiter))

    # -- per request --------------------------------------------------------------------------

    def series(self, info: RequestInfo, method: str, apply: bool = False) -> _Series:
        """The cells of this request's labels. Cached by the request's raw attributes only
        once they proved to be a served type (so the cache is as bounded as the labels)."""
        # First by the info's identity: the router's infos are shared objects (server/
        # context.py's memo), and a proxied request asks twice (its long-running gauge, then
        # its count), so this spares building and hashing the raw key. The entry holds the
        # info (its id cannot be reused meanwhile); series are never dropped. Bounded.
        entry = self._series_by_info.get(id(info))
        if entry is not None and entry[0] is info and entry[1] == method and entry[2] == apply:
            return entry[3]
        key = (
            info.is_resource_request,
            method,
            info.verb,
            info.api_group,
            info.api_version,
            info.resource,
            info.subresource,
            bool(info.name),
            bool(info.namespace),
            apply,
        )
        found = self._series.get(key)
        if found is None:
            labels = request_labels(info, method, apply)
            found = self._series.get(labels)
            if found is None:
                found = self._series[labels] = _Series(self, labels)
            if not cacheable(info, labels):
                return found  # (an unserved type's labels may change once it is served)
            self._series[key] = found
        if len(self._series_by_info) >= _BY_INFO_MAX:
            self._series_by_info.clear()
        self._series_by_info[id(info)] = (info, method, apply, found)
        return found

    def long_running_gauge(self, info: RequestInfo, method: str) -> Cell:
        """The apiserver_longrunning_requests cell of a long-running request's labels."""
        series = self.series(info, method)
        if series.running is None:
            series.running = self.long_running.labels(*series.labels)
        return series.running

    def watcher_gauge(self, rt: ResourceType) -> Cell:
        key = (rt.group, rt.version, rt.kind)
        cell = self._watchers.get(key)
        if cell is None:
            cell = self._watchers[key] = self.watchers.labels(*key)
        return cell

    def observe(self, ctx: RequestContext, status: int, size: int, seconds: float) -> None:
        """Count one finished request (every request, rejected ones included)."""
        request, info = ctx.request, ctx.info
        apply = info.verb == "patch" and request.header("content-type") == APPLY_PATCH
        series = self.series(info, request.method, apply)
        series.count(status)
        series.duration.observe(seconds)
        if status != 101:
            series.sizes.observe(size)
        if info.subresource == "proxy" and info.resource in PROXY_KINDS:
            self._observe_proxy(ctx, status, size, seconds)

    def _observe_proxy(self, ctx: RequestContext, status: int, size: int, seconds: float) -> None:
        request, info = ctx.request, ctx.info
        kind = info.resource
        proxy = self._proxy.get(kind)
        if proxy is None:
            proxy = self._proxy[kind] = _ProxySeries(self, kind)
        proxy.count(status)
        proxy.duration.observe(seconds)
        state = request.state
        received = getattr(request.body, "received", 0)
        tunnelled = state.get("proxy_tunnel_bytes")
        if tunnelled is not None:  # (client -> backend, backend -> client) of an upgrade
            received += tunnelled[0]
            size += tunnelled[1]
        proxy.received.value += received
        proxy.sent.value += size
        errors = state.get(UPSTREAM_ERRORS_KEY)
        if errors:
            for error_kind in errors:
                cell = self._upstream_errors.get(error_kind)
                if cell is not None:
                    cell.value += 1
        if (
            self.proxy_targets is not None
            and ctx.audit_annotations.get("authorization.k8s.io/decision") == "allow"
        ):
            self._count_target(kind, info.namespace, info.name, status)

    def _count_target(self, kind: str, namespace: str, name: str, status: int) -> None:
        assert self.proxy_targets is not None
        key = (kind, namespace, name)
        labels = self._targets.get(key)
        if labels is None:
            if len(self._targets) < self.proxy_target_limit:
                labels = (kind, namespace[:MAX_LABEL_VALUE], name[:MAX_LABEL_VALUE])
                self._targets[key] = labels
            else:
                labels = (kind, OTHER_TARGET, OTHER_TARGET)  # not remembered: stays bounded
        self.proxy_targets.labels(*labels, _code(status)).value += 1

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def serve_metrics(ctx: RequestContext, metrics: APIMetrics) -> None:
    """``GET /metrics``: the registry in Prometheus text format (authorized by the caller
    like any non-resource URL)."""
    headers = [
        *base_headers(ctx.audit_id),
        ("content-type", CONTENT_TYPE),
        ("x-content-type-options", "nosniff"),
    ]
    await ctx.response.send(200, headers, metrics.exposition())
