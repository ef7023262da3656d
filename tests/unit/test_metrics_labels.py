"""Metric labels stay bounded whatever clients send, and the exposition is valid Prometheus."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubegate.core.requestinfo import parse_request_info
from kubegate.http.body import EmptyBody
from kubegate.http.types import Request
from kubegate.server.context import RequestContext
from kubegate.server.metric_families import HistogramCell
from kubegate.server.metrics import OTHER_TARGET, APIMetrics, request_labels


def ctx_for(method: str, target: str, *, headers=(), state=None) -> RequestContext:
    path, _, query = target.partition("?")
    request = Request(
        method,
        target,
        path,
        query,
        [("host", "x"), *headers],
        EmptyBody(None),
        ("127.0.0.1", 1),
        True,
    )
    if state:
        request.state.update(state)
    ctx = RequestContext(request, None, parse_request_info(method, path, query), "id")  # type: ignore[arg-type]
    ctx.audit_annotations["authorization.k8s.io/decision"] = "allow"
    return ctx


def samples(metrics: APIMetrics) -> dict[str, list]:
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(metrics: APIMetrics, metric: str, **labels: str) -> float:
    return sum(
        s.value for s in samples(metrics).get(metric, []) if labels.items() <= s.labels.items()
    )


@pytest.mark.parametrize(
    ("method", "target", "labels"),
    [
        ("GET", "/api/v1/namespaces/ns/pods", ("LIST", "", "v1", "pods", "", "namespace")),
        ("GET", "/api/v1/pods", ("LIST", "", "v1", "pods", "", "cluster")),
        ("GET", "/api/v1/namespaces/ns/pods/p", ("GET", "", "v1", "pods", "", "resource")),
        ("GET", "/api/v1/pods?watch=1", ("WATCH", "", "v1", "pods", "", "cluster")),
        ("POST", "/api/v1/namespaces/ns/pods", ("POST", "", "v1", "pods", "", "resource")),
        (
            "PUT",
            "/api/v1/namespaces/ns/pods/p/status",
            ("PUT", "", "v1", "pods", "status", "resource"),
        ),
        (
            "DELETE",
            "/api/v1/namespaces/ns/pods",
            ("DELETECOLLECTION", "", "v1", "pods", "", "namespace"),
        ),
        (
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles",
            ("LIST", "rbac.authorization.k8s.io", "v1", "roles", "", "namespace"),
        ),
        (
            "GET",
            "/api/v1/namespaces/ns/services/s:80/proxy/a/b",
            ("CONNECT", "", "v1", "services", "proxy", "resource"),
        ),
        ("POST", "/api/v1/nodes/n/proxy", ("CONNECT", "", "v1", "nodes", "proxy", "resource")),
        # what the client made up never becomes a label
        ("GET", "/api/v1/namespaces/ns/widgets-x1", ("other", "", "", "", "", "")),
        ("GET", "/apis/evil.example/v9/things", ("other", "", "", "", "", "")),
        (
            "GET",
            "/api/v1/namespaces/ns/pods/p/made-up",
            ("GET", "", "v1", "pods", "other", "resource"),
        ),
        ("GET", "/metrics", ("GET", "", "", "", "", "")),
        ("GET", "/apis/evil.example/v9", ("GET", "", "", "", "", "")),
        ("OPTIONS", "/api/v1/pods", ("other", "", "v1", "pods", "", "cluster")),
    ],
)
def test_request_labels(method: str, target: str, labels: tuple[str, ...]):
    """kube's verbs and scopes; unknown types, groups and subresources are not echoed."""
    path, _, query = target.partition("?")
    assert request_labels(parse_request_info(method, path, query), method) == (
        *labels,
        "apiserver",
    )


def test_server_side_apply_is_reported_as_apply():
    """A PATCH with the apply content type counts as APPLY, as kube reports it."""
    metrics = APIMetrics()
    ctx = ctx_for(
        "PATCH",
        "/api/v1/namespaces/ns/configmaps/c",
        headers=[("content-type", "application/apply-patch+yaml")],
    )
    metrics.observe(ctx, 200, 10, 0.01)
    assert value(metrics, "apiserver_request_total", verb="APPLY", resource="configmaps") == 1


def test_made_up_requests_do_not_grow_the_series():
    """A thousand distinct invented resources, groups, subresources and namespaces add no
    series and no cache entries after the first."""
    metrics = APIMetrics()
    for n in range(1000):
        for target in (
            f"/api/v1/namespaces/ns-{n}/thing-{n}",
            f"/apis/g{n}.example/v{n}/x",
            f"/api/v1/namespaces/ns-{n}/pods/p-{n}/sub-{n}",
            f"/apis/g{n}.example/v{n}",
        ):
            metrics.observe(ctx_for("GET", target), 404, 100, 0.001)
    assert len(metrics.requests.cells) == 3
    assert len(metrics._series) <= 6
    text = metrics.exposition().decode()
    assert "ns-7" not in text and "g7.example" not in text and "sub-7" not in text


def test_every_label_value_is_from_a_fixed_set():
    """Namespaces, names, users and paths never appear in any series."""
    metrics = APIMetrics()
    for target in (
        "/api/v1/namespaces/secret-ns/configmaps/secret-name",
        "/api/v1/namespaces/secret-ns/services/secret-svc:80/proxy/secret-path",
        "/api/v1/namespaces/secret-ns/pods/secret-pod/proxy/",
    ):
        metrics.observe(ctx_for("GET", target, headers=[("user-agent", "secret-ua")]), 200, 5, 0.1)
    for sample_list in samples(metrics).values():
        for sample in sample_list:
            assert not any("secret" in v for v in sample.labels.values()), sample


def test_proxy_requests_are_counted_by_kind_and_code():
    """A proxied request counts under its target kind, with body bytes both ways."""
    metrics = APIMetrics()
    target = "/api/v1/namespaces/ns/services/echo:80/proxy/x"
    metrics.observe(ctx_for("GET", target), 200, 300, 0.02)
    metrics.observe(ctx_for("GET", target, state={"proxy_upstream_errors": ["connect"]}), 503, 0, 1)
    assert value(metrics, "kubegate_proxy_requests_total", kind="services", code="200") == 1
    assert value(metrics, "kubegate_proxy_requests_total", kind="services", code="503") == 1
    assert (
        value(metrics, "kubegate_proxy_bytes_total", kind="services", direction="response") == 300
    )
    assert value(metrics, "kubegate_proxy_upstream_errors_total", kind="connect") == 1
    assert value(metrics, "kubegate_proxy_request_duration_seconds_count", kind="services") == 2


def test_tunnel_bytes_count_both_ways():
    """An upgraded connection's bytes (recorded by the proxy) go to request and response."""
    metrics = APIMetrics()
    ctx = ctx_for(
        "GET", "/api/v1/namespaces/ns/pods/p/proxy/ws", state={"proxy_tunnel_bytes": (70, 900)}
    )
    metrics.observe(ctx, 101, 0, 5.0)
    assert value(metrics, "kubegate_proxy_bytes_total", kind="pods", direction="request") == 70
    assert value(metrics, "kubegate_proxy_bytes_total", kind="pods", direction="response") == 900


def test_per_target_labels_are_off_by_default():
    """Without the flag no series names a namespace or service."""
    metrics = APIMetrics()
    metrics.observe(ctx_for("GET", "/api/v1/namespaces/ns/services/echo/proxy/"), 200, 1, 0.1)
    assert "kubegate_proxy_target_requests_total" not in samples(metrics)


def test_per_target_labels_are_capped():
    """With a cap of 2, the first two targets get series and every later one is _other."""
    metrics = APIMetrics(proxy_target_limit=2)
    for n in range(50):
        target = f"/api/v1/namespaces/ns/services/svc-{n}/proxy/"
        metrics.observe(ctx_for("GET", target), 200, 1, 0.1)
    names = {s.labels["name"] for s in samples(metrics)["kubegate_proxy_target_requests_total"]}
    assert names == {"svc-0", "svc-1", OTHER_TARGET}
    assert value(metrics, "kubegate_proxy_target_requests_total", name=OTHER_TARGET) == 48


def test_per_target_labels_skip_refused_requests():
    """A request authorization refused never claims one of the capped target series."""
    metrics = APIMetrics(proxy_target_limit=1)
    ctx = ctx_for("GET", "/api/v1/namespaces/ns/services/spray-1/proxy/")
    ctx.audit_annotations["authorization.k8s.io/decision"] = "forbid"
    metrics.observe(ctx, 403, 1, 0.1)
    metrics.observe(ctx_for("GET", "/api/v1/namespaces/ns/services/real/proxy/"), 200, 1, 0.1)
    names = {s.labels["name"] for s in samples(metrics)["kubegate_proxy_target_requests_total"]}
    assert names == {"real"}


def test_histogram_buckets_are_upper_inclusive():
    """A value equal to a bound falls in that bound's bucket (Prometheus ``le``)."""
    cell = HistogramCell((0.1, 1.0))
    for v in (0.1, 0.5, 1.0, 7.0):
        cell.observe(v)
    assert cell.cumulative() == [("0.1", 1), ("1.0", 3), ("+Inf", 4)]
    assert cell.sum == pytest.approx(8.6)


def test_exposition_has_kube_names_and_no_created_series():
    """The text parses, names what kube names, and carries no *_created samples."""
    metrics = APIMetrics()
    metrics.observe(ctx_for("GET", "/api/v1/pods"), 200, 1500, 0.03)
    found = samples(metrics)
    assert value(metrics, "apiserver_request_total", verb="LIST", code="200") == 1
    assert value(metrics, "apiserver_request_duration_seconds_bucket", le="0.05") == 1
    assert value(metrics, "apiserver_request_duration_seconds_bucket", le="0.025") == 0
    assert value(metrics, "apiserver_response_sizes_bucket", le="10000.0") == 1
    assert not [n for n in found if n.endswith("_created")]


def test_each_server_has_its_own_registry():
    """Two servers in one process do not share counts."""
    first, second = APIMetrics(), APIMetrics()
    first.observe(ctx_for("GET", "/api/v1/pods"), 200, 1, 0.01)
    assert value(first, "apiserver_request_total") == 1
    assert value(second, "apiserver_request_total") == 0
