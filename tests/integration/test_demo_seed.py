"""The API objects that publish the demo backends (pure; no sockets)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from kubernetes.client import ApiClient

from kubegate.demo import DEMO_ANNOTATION, DemoService, demo_objects

ECHO = DemoService(
    name="echo",
    port=80,
    target_port=40001,
    port_name="http",
    scheme="http",
    app="echo",
    title="Echo",
    description="echo",
)
SECURE = replace(
    ECHO, name="secure-echo", port=443, target_port=40002, port_name="https", scheme="https",
    app="secure-echo", title="Secure-Echo",
)  # fmt: skip
WEBAPP = replace(
    ECHO, name="webapp", target_port=40003, port_name="http-web", app="webapp", title="Webapp"
)
SERVICES = [ECHO, SECURE, WEBAPP]
MODEL_BY_KIND = {
    "Service": "V1Service",
    "Endpoints": "V1Endpoints",
    "EndpointSlice": "V1EndpointSlice",
}
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _objects(kind: str) -> dict[str, dict[str, Any]]:
    """The seeded objects of one kind, keyed by the Service they belong to."""
    found = {}
    for obj in demo_objects(SERVICES):
        if obj["kind"] == kind:
            owner = obj["metadata"]["labels"].get("kubernetes.io/service-name")
            found[owner or obj["metadata"]["name"]] = obj
    return found


def _cluster_info_path(service: dict[str, Any]) -> str:
    """The proxy id `kubectl cluster-info` derives (kubectl pkg/cmd/clusterinfo)."""
    port = service["spec"]["ports"][0]
    scheme = "https" if port["name"] == "https" or port["port"] == 443 else ""
    parts = [scheme, service["metadata"]["name"], port["name"]] if scheme else [
        service["metadata"]["name"], port["name"]
    ]  # fmt: skip
    return ":".join(parts)


def test_each_backend_gets_a_service_endpoints_and_slice_in_order() -> None:
    """Objects come per backend as Service, Endpoints, EndpointSlice."""
    kinds = [(o["kind"], o["metadata"]["namespace"]) for o in demo_objects(SERVICES)]
    assert (
        kinds
        == [
            ("Service", "kube-system"),
            ("Endpoints", "kube-system"),
            ("EndpointSlice", "kube-system"),
        ]
        * 3
    )


def test_objects_deserialise_into_official_client_models() -> None:
    """The official Python client reads every object into its typed model without error."""
    with ApiClient() as client:
        for obj in demo_objects(SERVICES):
            model = client.deserialize(
                json.dumps(obj), MODEL_BY_KIND[obj["kind"]], "application/json"
            )
            assert model.metadata.name == obj["metadata"]["name"]


def test_services_are_cluster_services_with_printable_names() -> None:
    """cluster-info lists them (cluster-service label) under their kubernetes.io/name."""
    services = _objects("Service")
    titles = {
        name: svc["metadata"]["labels"]["kubernetes.io/name"] for name, svc in services.items()
    }
    assert titles == {"echo": "Echo", "secure-echo": "Secure-Echo", "webapp": "Webapp"}
    for svc in services.values():
        assert svc["metadata"]["labels"]["kubernetes.io/cluster-service"] == "true"
        assert all(LABEL_VALUE.match(v) for v in svc["metadata"]["labels"].values())


def test_services_are_selectorless_and_target_the_real_port() -> None:
    """No selector (endpoints are explicit); targetPort is the port really listened on."""
    for backend in SERVICES:
        spec = _objects("Service")[backend.name]["spec"]
        assert "selector" not in spec
        assert spec["ports"] == [
            {
                "name": backend.port_name,
                "protocol": "TCP",
                "port": backend.port,
                "targetPort": backend.target_port,
            }
        ]


def test_cluster_info_links_use_https_only_for_secure_echo() -> None:
    """Port 443 named https yields an `https:` proxy id; the others stay plain."""
    paths = {name: _cluster_info_path(svc) for name, svc in _objects("Service").items()}
    assert paths == {
        "echo": "echo:http",
        "secure-echo": "https:secure-echo:https",
        "webapp": "webapp:http-web",
    }


def test_endpoint_slices_point_at_loopback_on_the_real_port() -> None:
    """Each slice is IPv4, labelled with its Service, one ready 127.0.0.1 endpoint."""
    for backend in SERVICES:
        endpoint_slice = _objects("EndpointSlice")[backend.name]
        assert endpoint_slice["apiVersion"] == "discovery.k8s.io/v1"
        assert endpoint_slice["addressType"] == "IPv4"
        assert endpoint_slice["metadata"]["labels"]["kubernetes.io/service-name"] == backend.name
        [endpoint] = endpoint_slice["endpoints"]
        assert endpoint["addresses"] == ["127.0.0.1"]
        assert endpoint["conditions"]["ready"] is True
        assert endpoint_slice["ports"] == [
            {"name": backend.port_name, "port": backend.target_port, "protocol": "TCP"}
        ]


def test_endpoint_slices_are_not_claimed_by_the_endpointslice_controller() -> None:
    """managed-by names the demo, not endpointslice-controller.k8s.io."""
    for endpoint_slice in _objects("EndpointSlice").values():
        managed_by = endpoint_slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"]
        assert managed_by != "endpointslice-controller.k8s.io"


def test_endpoints_match_their_service_and_skip_mirroring() -> None:
    """Endpoints share the Service's name and opt out of EndpointSlice mirroring."""
    for backend in SERVICES:
        endpoints = _objects("Endpoints")[backend.name]
        assert endpoints["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"
        assert endpoints["subsets"] == [
            {
                "addresses": [{"ip": "127.0.0.1"}],
                "ports": [
                    {"name": backend.port_name, "port": backend.target_port, "protocol": "TCP"}
                ],
            }
        ]


def test_every_object_is_annotated_as_a_demo_object() -> None:
    """The annotation the server checks before allowing loopback endpoints is on everything."""
    for obj in demo_objects(SERVICES):
        assert obj["metadata"]["annotations"][DEMO_ANNOTATION] == "true"


def test_demo_objects_returns_fresh_objects() -> None:
    """Mutating one result does not leak into the next call."""
    first = demo_objects([ECHO])
    first[0]["metadata"]["labels"]["mutated"] = "yes"
    first[0]["spec"]["ports"][0]["port"] = 1
    second = demo_objects([ECHO])
    assert "mutated" not in second[0]["metadata"]["labels"]
    assert second[0]["spec"]["ports"][0]["port"] == 80


def test_no_backends_no_objects() -> None:
    """An empty backend list seeds nothing."""
    assert demo_objects([]) == []


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Echo"},
        {"name": "-echo"},
        {"title": "Secure Echo"},
        {"port_name": "http_web"},
        {"port_name": "a-very-long-port-name"},
        {"port_name": "80"},
        {"port_name": "http--web"},
        {"port": 0},
        {"target_port": 70000},
        {"scheme": "ftp"},
    ],
)
def test_demo_service_refuses_values_kubernetes_would_reject(change: dict[str, Any]) -> None:
    """A DemoService that would produce an invalid object cannot be built."""
    with pytest.raises(ValueError):
        replace(ECHO, **change)
