"""What the demo backends look like in the API: Services, Endpoints and EndpointSlices.

Pure data: `demo_objects` turns running backends into the Kubernetes objects `kubegate serve
--demo` creates, so that `kubectl cluster-info` lists them and the services proxy reaches them.

Each backend becomes a selector-less Service in kube-system (the shape kube-dns and
metrics-server have, minus the selector) with `kubernetes.io/cluster-service: "true"`, which is
what `cluster-info` lists, and `kubernetes.io/name`, which it prints. Its endpoints are declared
twice: as an EndpointSlice (what the proxy resolves) and as a legacy Endpoints object (what
older clients read). The Endpoints object carries `endpointslice.kubernetes.io/skip-mirror` so
that an EndpointSlice mirroring controller does not add a second slice for the same address.

The endpoints point at 127.0.0.1, which Kubernetes validation forbids in user-created
Endpoints and EndpointSlices (loopback would let a user aim the apiserver's proxy at itself).
Every object here is annotated `kubegate.io/demo: "true"`; the server honours that annotation
only for objects it creates itself at start-up, never for ones arriving through the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["DEMO_ANNOTATION", "DEMO_NAMESPACE", "DemoService", "demo_objects"]

DEMO_NAMESPACE = "kube-system"
#: Marks objects the server created for the demo; the only objects allowed loopback endpoints.
DEMO_ANNOTATION = "kubegate.io/demo"
_DESCRIPTION_ANNOTATION = "kubegate.io/description"
_MANAGED_BY = "kubegate.io/demo"

# k8s.io/apimachinery/pkg/util/validation: DNS-1035 label (Service names), label values, and
# IANA_SVC_NAME (port names: at most 15 characters, at least one letter, no "--").
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class DemoService:
    """One running demo backend and how it is published as a Service.

    `port` is the Service port clients name (80, or 443 for HTTPS so that `cluster-info` prints
    an `https:` link); `target_port` is the port the backend really listens on.
    """

    name: str
    port: int
    target_port: int
    port_name: str
    scheme: str
    app: str
    title: str
    description: str
    namespace: str = DEMO_NAMESPACE
    address: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if len(self.name) > 63 or not _DNS1035_LABEL.match(self.name):
            raise ValueError(f"service name {self.name!r} is not a DNS-1035 label")
        for label in (self.app, self.title):
            if len(label) > 63 or not _LABEL_VALUE.match(label):
                raise ValueError(f"{label!r} is not a valid label value")
        if (
            len(self.port_name) > 15
            or not _PORT_NAME.match(self.port_name)
            or "--" in self.port_name
            or not re.search("[a-z]", self.port_name)
        ):
            raise ValueError(f"port name {self.port_name!r} is not an IANA service name")
        for port in (self.port, self.target_port):
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} is out of range")
        if self.scheme not in {"http", "https"}:
            raise ValueError(f"scheme must be http or https, not {self.scheme!r}")


def demo_objects(backends: list[DemoService]) -> list[dict[str, Any]]:
    """Service, Endpoints and EndpointSlice objects for each backend, in creation order."""
    objects: list[dict[str, Any]] = []
    for backend in backends:
        objects += [_service(backend), _endpoints(backend), _endpoint_slice(backend)]
    return objects


def _metadata(backend: DemoService, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": backend.namespace,
        "labels": {"app": backend.app, "app.kubernetes.io/part-of": "kubegate-demo", **labels},
        "annotations": {
            DEMO_ANNOTATION: "true",
            _DESCRIPTION_ANNOTATION: backend.description,
        },
    }


def _service(backend: DemoService) -> dict[str, Any]:
    labels = {"kubernetes.io/cluster-service": "true", "kubernetes.io/name": backend.title}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(backend, backend.name, labels),
        "spec": {
            "type": "ClusterIP",
            "ports": [
                {
                    "name": backend.port_name,
                    "protocol": "TCP",
                    "port": backend.port,
                    "targetPort": backend.target_port,
                }
            ],
        },
    }


def _endpoints(backend: DemoService) -> dict[str, Any]:
    labels = {"endpointslice.kubernetes.io/skip-mirror": "true"}
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": _metadata(backend, backend.name, labels),
        "subsets": [
            {
                "addresses": [{"ip": backend.address}],
                "ports": [
                    {"name": backend.port_name, "port": backend.target_port, "protocol": "TCP"}
                ],
            }
        ],
    }


def _endpoint_slice(backend: DemoService) -> dict[str, Any]:
    labels = {
        "kubernetes.io/service-name": backend.name,
        # Anything but the endpointslice controller's own value keeps that controller's hands
        # off a slice for a selector-less Service.
        "endpointslice.kubernetes.io/managed-by": _MANAGED_BY,
    }
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": _metadata(backend, f"{backend.name}-demo", labels),
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [backend.address],
                "conditions": {"ready": True, "serving": True, "terminating": False},
            }
        ],
        "ports": [{"name": backend.port_name, "port": backend.target_port, "protocol": "TCP"}],
    }
