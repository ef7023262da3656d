"""Metrics of the operational machinery, read when scraped:

apiserver_audit_event_total                    records written (kube's name)
apiserver_audit_error_total{plugin="log"}      records lost (kube's name and label)
kubegate_audit_accepting_requests              0 while strict audit mode refuses requests
kubegate_http_rejected_requests_total{code}    refused by the HTTP layer (400/408/414/431)
kubegate_tls_reloads_total{result}             serving TLS reloads: success, failure
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kubegate.server.audit_log import FileAuditor
    from kubegate.server.http_rejects import RejectedRequests
    from kubegate.server.tls_reload import ServingTLS


class OperationsCollector(Collector):
    def __init__(
        self,
        rejects: RejectedRequests,
        auditor: FileAuditor | None = None,
        tls: ServingTLS | None = None,
    ) -> None:
        self._rejects = rejects
        self._auditor = auditor
        self._tls = tls

    def describe(self) -> list[Metric]:
        return []  # unchecked: built fresh on every scrape

    def collect(self) -> Iterator[Metric]:
        rejected = CounterMetricFamily(
            "kubegate_http_rejected_requests",
            "Requests refused by the HTTP layer before the filter chain (malformed or "
            "oversized heads, header timeouts), by status code.",
            labels=("code",),
        )
        for code, count in sorted(self._rejects.by_status.items()):
            rejected.add_metric((str(code),), count)
        yield rejected
        auditor = self._auditor
        if auditor is not None:
            yield CounterMetricFamily(
                "apiserver_audit_event",
                "Counter of audit events generated and sent to the audit backend.",
                value=auditor.sink.written,
            )
            errors = CounterMetricFamily(
                "apiserver_audit_error",
                "Counter of audit events that failed to be audited properly.",
                labels=("plugin",),
            )
            errors.add_metric(("log",), auditor.sink.failures)
            yield errors
            yield GaugeMetricFamily(
                "kubegate_audit_accepting_requests",
                "0 while requests are refused because audit records cannot be written "
                "(--audit-log-mode=blocking-strict), else 1.",
                value=1 if auditor.accepting() else 0,
            )
        tls = self._tls
        if tls is not None:
            reloads = CounterMetricFamily(
                "kubegate_tls_reloads",
                "Reloads of the serving certificate, key and client CAs after their files "
                "changed: success, or failure (the previous material kept serving).",
                labels=("result",),
            )
            reloads.add_metric(("success",), tls.reloads)
            reloads.add_metric(("failure",), tls.failures)
            yield reloads
