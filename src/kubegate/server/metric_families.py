"""Prometheus plumbing for ``metrics.py``: series as plain numbers, exported when scraped.

prometheus_client's own metric objects take a lock and validate their arguments on every
update (about a microsecond each), and a request touches about ten of them. Here a series is
a ``Cell`` (counter or gauge) or a ``HistogramCell`` updated in place: the event loop is one
thread, so a scrape (itself a request on that loop) always reads whole updates. ``Family``
binds cells by label values once; ``FamiliesCollector`` turns families into
prometheus_client metric families for the registry's exposition. The other collectors read
numbers other objects already keep (the upstream pool, the limiter) at scrape time only.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kubegate.http.client import PoolStats
    from kubegate.server.limits import RequestLimiter


class Cell:
    """One counter or gauge series."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class HistogramCell:
    """One histogram series: a count per bucket (``le`` bounds, then +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            out.append((_le(bound), total))
        return out


def _le(bound: float) -> str:
    if bound == float("inf"):
        return "+Inf"
    return repr(float(bound))


class Family:
    """A named metric and its series by label values (bound once, then cached)."""

    __slots__ = ("bounds", "cells", "doc", "kind", "labelnames", "name")

    def __init__(
        self,
        name: str,
        doc: str,
        labelnames: tuple[str, ...],
        kind: str,  # counter | gauge | histogram
        bounds: tuple[float, ...] = (),
    ) -> None:
        self.name, self.doc, self.labelnames, self.kind = name, doc, labelnames, kind
        self.bounds = bounds
        self.cells: dict[tuple[str, ...], Any] = {}

    def labels(self, *values: str) -> Any:
        cell = self.cells.get(values)
        if cell is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected labels {self.labelnames}")
            cell = HistogramCell(self.bounds) if self.kind == "histogram" else Cell()
            self.cells[values] = cell
        return cell

    def export(self) -> Metric:
        labels = list(self.labelnames)
        if self.kind == "histogram":
            hist = HistogramMetricFamily(self.name, self.doc, labels=labels)
            for values, cell in self.cells.items():
                hist.add_metric(list(values), cell.cumulative(), cell.sum)
            return hist
        family_type = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        family = family_type(self.name, self.doc, labels=labels)
        for values, cell in self.cells.items():
            family.add_metric(list(values), cell.value)
        return family


class FamiliesCollector(Collector):
    def __init__(self, families: Iterable[Family]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.export()

    def describe(self) -> Iterator[Metric]:
        for family in self.families:
            yield Family(family.name, family.doc, family.labelnames, family.kind).export()


class PoolCollector(Collector):
    def __init__(self, stats: Callable[[], PoolStats]) -> None:
        self._stats = stats

    def describe(self) -> list[Metric]:
        return []  # unchecked: built fresh on every scrape

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        conns = GaugeMetricFamily(
            "kubegate_proxy_upstream_connections",
            "Open connections to proxy backends: idle in the keep-alive pool or active.",
            labels=("state",),
        )
        conns.add_metric(("idle",), stats.idle)
        conns.add_metric(("active",), stats.active)
        yield conns
        yield CounterMetricFamily(
            "kubegate_proxy_upstream_connections_opened",
            "Connections ever opened to proxy backends.",
            value=stats.opened,
        )


class LimiterCollector(Collector):
    def __init__(self, limiter: RequestLimiter) -> None:
        self._limiter = limiter

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        from kubegate.server.limits import RequestKind

        inflight = self._limiter.inflight
        current = GaugeMetricFamily(
            "apiserver_current_inflight_requests",
            "Requests being served per request kind (system:masters, exempt, not counted).",
            labels=("request_kind",),
        )
        current.add_metric(("readOnly",), inflight[RequestKind.READ_ONLY])
        current.add_metric(("mutating",), inflight[RequestKind.MUTATING])
        yield current
        yield GaugeMetricFamily(
            "kubegate_current_long_running_requests",
            "Long-running requests (watches, proxy and other connect subresources) counted "
            "against --max-long-running-requests.",
            value=inflight[RequestKind.LONG_RUNNING],
        )
        rejected = CounterMetricFamily(
            "kubegate_rejected_requests",
            "Requests answered 429 by a limit: an in-flight cap by request kind, or userRate.",
            labels=("limit",),
        )
        for limit, count in self._limiter.rejected.items():
            rejected.add_metric((limit,), count)
        yield rejected
