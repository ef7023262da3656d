"""``APIMetrics.series`` remembers a request info's series by identity: the same cells for
the same info, method and apply flag; the right ones when any of them differs; bounded."""

from __future__ import annotations

from kubegate.core.requestinfo import parse_request_info
from kubegate.server import metrics as metrics_module
from kubegate.server.metrics import APIMetrics, request_labels

PROXY = "/api/v1/namespaces/demo/services/web/proxy/x"


def test_same_info_gives_the_same_series() -> None:
    """Asking twice for one info (gauge, then count) gives the very same series."""
    metrics = APIMetrics()
    info = parse_request_info("GET", PROXY, "")
    assert metrics.series(info, "GET") is metrics.series(info, "GET")


def test_another_method_or_apply_on_the_same_info_gets_its_labels() -> None:
    """The same info object asked with another method or apply flag gets those labels."""
    metrics = APIMetrics()
    info = parse_request_info("PATCH", "/api/v1/namespaces/demo/pods/p", "")
    asks = [("PATCH", False), ("PATCH", True), ("GET", False), ("PATCH", False)]
    for method, apply in asks:
        labels = metrics.series(info, method, apply).labels
        assert labels == request_labels(info, method, apply), (method, apply)
    assert metrics.series(info, "PATCH", True).labels[0] == "APPLY"


def test_equal_infos_share_the_series_cells() -> None:
    """Two separately parsed but equal infos count into the same cells."""
    metrics = APIMetrics()
    first = metrics.series(parse_request_info("GET", PROXY, ""), "GET")
    second = metrics.series(parse_request_info("GET", PROXY, ""), "GET")
    assert first is second


def test_memo_is_bounded() -> None:
    """However many distinct infos pass, the identity memo holds at most its bound."""
    metrics = APIMetrics()
    for i in range(metrics_module._BY_INFO_MAX + 10):
        metrics.series(parse_request_info("GET", f"{PROXY}/{i}", ""), "GET")
    assert len(metrics._series_by_info) <= metrics_module._BY_INFO_MAX


def test_an_unserved_type_is_not_remembered_by_identity() -> None:
    """An info naming a type the server does not serve is labelled afresh every time (its
    labels would change if the type became served), so the identity memo skips it."""
    metrics = APIMetrics()
    info = parse_request_info("GET", "/apis/example.com/v1/namespaces/demo/widgets/w", "")
    metrics.series(info, "GET")
    assert id(info) not in metrics._series_by_info
    served = parse_request_info("GET", PROXY, "")
    metrics.series(served, "GET")
    assert id(served) in metrics._series_by_info
