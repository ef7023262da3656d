"""``/metrics`` families of the proxy's rewrite memo (proxy/rewrite_memo.py), read when
scraped:

    kubegate_proxy_rewrite_memo_lookups_total{result=hit|miss}
    kubegate_proxy_rewrite_memo_entries
    kubegate_proxy_rewrite_memo_bytes            originals and outputs held
    kubegate_proxy_rewrite_memo_capacity_bytes   --proxy-rewrite-memo-bytes

A lookup is one whole rewritten body of at most the memo's per-entry size; bodies that
stream (chunked, or longer than that) are not looked up and not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubegate.proxy.rewrite_memo import MemoStats

__all__ = ["RewriteMemoCollector"]


class RewriteMemoCollector(Collector):
    def __init__(self, stats: Callable[[], MemoStats]) -> None:
        self._stats = stats

    def describe(self) -> list[Metric]:
        return []  # unchecked: built fresh on every scrape

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        lookups = CounterMetricFamily(
            "kubegate_proxy_rewrite_memo_lookups",
            "Whole rewritten bodies looked up in the rewrite memo: hit (sent from it) or "
            "miss (rewritten).",
            labels=("result",),
        )
        lookups.add_metric(("hit",), stats.hits)
        lookups.add_metric(("miss",), stats.misses)
        yield lookups
        yield GaugeMetricFamily(
            "kubegate_proxy_rewrite_memo_entries",
            "Rewritten bodies held in the rewrite memo.",
            value=stats.entries,
        )
        yield GaugeMetricFamily(
            "kubegate_proxy_rewrite_memo_bytes",
            "Bytes held in the rewrite memo (original bodies and their outputs).",
            value=stats.bytes,
        )
        yield GaugeMetricFamily(
            "kubegate_proxy_rewrite_memo_capacity_bytes",
            "The most bytes the rewrite memo holds.",
            value=stats.capacity,
        )
