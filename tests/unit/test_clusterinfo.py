"""cluster-info text: kubectl's links, titles and layout; kubegate's wide and via-proxy forms."""

from __future__ import annotations

from typing import Any

import pytest

from kubegate.client.clusterinfo import (
    DUMP_HINT,
    cluster_info_text,
    dump_lists,
    join_scheme_name_port,
    ready_endpoints,
    service_line,
    service_link,
)

HOST = "https://10.0.0.1:6443"
PROXY = f"{HOST}/api/v1/namespaces/kube-system/services"


def service(
    name: str = "svc",
    ports: list[dict[str, Any]] | None = None,
    *,
    namespace: str = "kube-system",
    labels: dict[str, str] | None = None,
    ingress: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"ports": ports if ports is not None else []},
    }
    if ingress is not None:
        obj["status"] = {"loadBalancer": {"ingress": ingress}}
    return obj


@pytest.mark.parametrize(
    ("svc", "link"),
    [
        (service(), f"{PROXY}/svc/proxy"),
        (service(ports=[{"port": 80}]), f"{PROXY}/svc/proxy"),
        (service(ports=[{"name": "http", "port": 80}]), f"{PROXY}/svc:http/proxy"),
        (service(ports=[{"name": "https", "port": 8443}]), f"{PROXY}/https:svc:https/proxy"),
        (service(ports=[{"port": 443}]), f"{PROXY}/https:svc:/proxy"),
        (service(ports=[{"name": "web", "port": 443}]), f"{PROXY}/https:svc:web/proxy"),
        # only the first port counts
        (
            service(ports=[{"name": "metrics", "port": 9090}, {"name": "https", "port": 443}]),
            f"{PROXY}/svc:metrics/proxy",
        ),
        # LoadBalancer ingress: http://ip:port per port, each with a trailing space
        (
            service(
                ports=[{"name": "https", "port": 443}, {"port": 80}], ingress=[{"ip": "1.2.3.4"}]
            ),
            "http://1.2.3.4:443 http://1.2.3.4:80 ",
        ),
        (
            service(
                ports=[{"port": 80}], ingress=[{"hostname": "lb.example.com"}, {"ip": "9.9.9.9"}]
            ),
            "http://lb.example.com:80 ",
        ),
        (service(ports=[], ingress=[{"ip": "1.2.3.4"}]), ""),
        # the link uses the service's own namespace
        (
            service(ports=[{"name": "dns", "port": 53}], namespace="team"),
            f"{HOST}/api/v1/namespaces/team/services/svc:dns/proxy",
        ),
    ],
)
def test_service_link(svc, link):
    """Links are built as kubectl's clusterinfo.go builds them."""
    assert service_link(svc, HOST) == link


@pytest.mark.parametrize(
    ("scheme", "name", "port", "joined"),
    [
        ("", "svc", "", "svc"),
        ("", "svc", "http", "svc:http"),
        ("https", "svc", "", "https:svc:"),
        ("https", "svc", "https", "https:svc:https"),
    ],
)
def test_join_scheme_name_port(scheme, name, port, joined):
    """apimachinery's JoinSchemeNamePort: a scheme always makes three parts."""
    assert join_scheme_name_port(scheme, name, port) == joined


def test_title_is_the_name_label_else_the_name():
    """kubernetes.io/name titles a service; without it the service name does."""
    labelled = service(labels={"kubernetes.io/name": "KubeDNS"})
    assert service_line(labelled, HOST).startswith("KubeDNS is running at ")
    assert service_line(service(), HOST).startswith("svc is running at ")


def test_cluster_info_text_layout():
    """Control plane first, one line per service, then a blank line and kubectl's hint."""
    text = cluster_info_text(
        HOST, [service("a", [{"name": "http", "port": 80}]), service("b", [{"port": 443}])]
    )
    assert text == (
        f"Kubernetes control plane is running at {HOST}\n"
        f"a is running at {PROXY}/a:http/proxy\n"
        f"b is running at {PROXY}/https:b:/proxy\n"
        "\n"
        "To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n"
    )
    assert text.endswith(DUMP_HINT)


def test_host_is_printed_as_written():
    """The host is joined as written, so a trailing slash gives kubectl's "//api"."""
    text = cluster_info_text("https://h:6443/", [service()])
    assert "Kubernetes control plane is running at https://h:6443/\n" in text
    assert "https://h:6443//api/v1/namespaces/kube-system/services/svc/proxy\n" in text


def test_via_proxy_rewrites_the_server_not_lb_links():
    """--via-proxy replaces the server part of every proxy link; LoadBalancer links stay."""
    lb = service("lb", [{"port": 80}], ingress=[{"ip": "1.2.3.4"}])
    text = cluster_info_text(HOST, [service(), lb], link_base="http://localhost:8080/")
    assert text.splitlines()[:3] == [
        "Kubernetes control plane is running at http://localhost:8080",
        "svc is running at http://localhost:8080/api/v1/namespaces/kube-system/services/svc/proxy",
        "lb is running at http://1.2.3.4:80 ",
    ]


def test_wide_appends_ready_endpoint_counts():
    """-o wide adds (ready/total endpoints ready) to each service line."""
    text = cluster_info_text(
        HOST, [service("a"), service("b")], readiness={("kube-system", "a"): (1, 3)}
    )
    lines = text.splitlines()
    assert lines[1].endswith("/a/proxy (1/3 endpoints ready)")
    assert lines[2].endswith("/b/proxy (0/0 endpoints ready)")


def endpoint(ip: str, ready: bool | None = True) -> dict[str, Any]:
    conditions = {} if ready is None else {"ready": ready}
    return {"addresses": [ip], "conditions": conditions}


def test_ready_endpoints_counts_distinct_addresses_of_the_service():
    """Ready and total distinct addresses across the service's slices; missing ready = ready."""
    label = {"kubernetes.io/service-name": "web"}
    slices = [
        {
            "metadata": {"labels": label},
            "endpoints": [endpoint("10.0.0.1"), endpoint("10.0.0.2", False)],
        },
        {
            "metadata": {"labels": label},
            "endpoints": [endpoint("10.0.0.1"), endpoint("10.0.0.3", None)],
        },
        {
            "metadata": {"labels": {"kubernetes.io/service-name": "other"}},
            "endpoints": [endpoint("10.9.9.9")],
        },
    ]
    assert ready_endpoints("web", slices) == (2, 3)


def test_dump_lists_order_and_paths():
    """Nodes first, then each namespace's lists in kubectl's order."""
    lists = dump_lists(["kube-system", "default"])
    assert [(item.path, item.file_stem) for item in lists[:3]] == [
        ("/api/v1/nodes", "nodes"),
        ("/api/v1/namespaces/kube-system/events", "events"),
        ("/api/v1/namespaces/kube-system/replicationcontrollers", "replicationcontrollers"),
    ]
    assert [item.file_stem for item in lists[1:8]] == [
        "events",
        "replicationcontrollers",
        "services",
        "daemonsets",
        "deployments",
        "replicasets",
        "pods",
    ]
    assert lists[4].path == "/apis/apps/v1/namespaces/kube-system/daemonsets"
    assert lists[-1].path == "/api/v1/namespaces/default/pods"
    assert len(lists) == 15
