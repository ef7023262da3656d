"""What ``cluster-info`` prints and what ``cluster-info dump`` fetches. Pure.

The text is kubectl's, byte for byte (``kubectl/pkg/cmd/clusterinfo/clusterinfo.go``, v1.37):

    Kubernetes control plane is running at <host as written in the kubeconfig>
    <label kubernetes.io/name, else the name> is running at <link>      (one per service)
                                                                          (blank line)
    To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.

A link is ``http://<ingress ip or hostname>:<port> `` per service port (trailing space
included) when ``status.loadBalancer.ingress`` is set, else
``<host>/api/v1/namespaces/<ns>/services/<JoinSchemeNamePort>/proxy`` where the scheme is
``https`` when the first port is named ``https`` or is 443. kubegate's additions: a
local-proxy base for the links (``--via-proxy``) and ready-endpoint counts (``-o wide``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubegate.core.endpoint_labels import SERVICE_NAME_LABEL

__all__ = [
    "CLUSTER_SERVICE_SELECTOR",
    "DUMP_HINT",
    "DumpList",
    "cluster_info_text",
    "control_plane_line",
    "dump_lists",
    "join_scheme_name_port",
    "ready_endpoints",
    "service_line",
    "service_link",
]

CLUSTER_SERVICE_SELECTOR = "kubernetes.io/cluster-service=true"
DUMP_HINT = "\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n"
_NAME_LABEL = "kubernetes.io/name"


def control_plane_line(host: str) -> str:
    return f"Kubernetes control plane is running at {host}\n"


def service_link(service: Mapping[str, Any], host: str) -> str:
    """The link kubectl prints for one cluster service (``host`` without a trailing slash
    is what kubectl joins to; a kubeconfig server ending in "/" gives "//api", as kubectl)."""
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, Mapping)]
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        first = ingress[0] if isinstance(ingress[0], Mapping) else {}
        ip = first.get("ip") or first.get("hostname") or ""
        return "".join(f"http://{ip}:{_port_number(p)} " for p in ports)
    name = str(meta.get("name") or "")
    if ports:
        first_port = ports[0]
        port_name = str(first_port.get("name") or "")
        scheme = "https" if port_name == "https" or _port_number(first_port) == 443 else ""
        name = join_scheme_name_port(scheme, name, port_name)
    namespace = meta.get("namespace") or ""
    return f"{host}/api/v1/namespaces/{namespace}/services/{name}/proxy"


def service_line(service: Mapping[str, Any], host: str, suffix: str = "") -> str:
    """``<title> is running at <link>`` for one service."""
    meta = service.get("metadata") or {}
    title = (meta.get("labels") or {}).get(_NAME_LABEL) or meta.get("name") or ""
    return f"{title} is running at {service_link(service, host)}{suffix}\n"


def cluster_info_text(
    host: str,
    services: Sequence[Mapping[str, Any]],
    *,
    link_base: str | None = None,
    readiness: Mapping[tuple[str, str], tuple[int, int]] | None = None,
) -> str:
    """The whole output for one list of services (kubectl's when the options are unset).

    ``link_base`` replaces the server in the control-plane line and the proxy links (a local
    ``kubectl proxy``/``kubegate proxy``); ``readiness`` maps (namespace, name) to
    (ready, total) endpoints, printed after each link.
    """
    base = host if link_base is None else link_base.rstrip("/")
    out = [control_plane_line(base)]
    for service in services:
        suffix = ""
        if readiness is not None:
            meta = service.get("metadata") or {}
            ready, total = readiness.get((meta.get("namespace", ""), meta.get("name", "")), (0, 0))
            suffix = f" ({ready}/{total} endpoints ready)"
        out.append(service_line(service, base, suffix))
    return "".join(out) + DUMP_HINT


def ready_endpoints(service_name: str, slices: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """(ready, total) distinct endpoint addresses of a service across its EndpointSlices
    (a missing ``conditions.ready`` counts as ready, as in kube)."""
    ready: set[str] = set()
    every: set[str] = set()
    for slice_ in slices:
        labels = (slice_.get("metadata") or {}).get("labels") or {}
        if labels.get(SERVICE_NAME_LABEL) != service_name:
            continue
        for endpoint in slice_.get("endpoints") or []:
            addresses = endpoint.get("addresses") or [] if isinstance(endpoint, Mapping) else []
            if not addresses:
                continue
            every.add(str(addresses[0]))
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                ready.add(str(addresses[0]))
    return len(ready), len(every)


def join_scheme_name_port(scheme: str, name: str, port: str) -> str:
    """apimachinery ``JoinSchemeNamePort`` (no validation: kubectl prints what it gets)."""
    if scheme:
        return f"{scheme}:{name}:{port}"
    return f"{name}:{port}" if port else name


def _port_number(port: Mapping[str, Any]) -> int:
    value = port.get("port")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- dump -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DumpList:
    """One list ``cluster-info dump`` writes: where it comes from and its file name."""

    path: str  # the API path of the list
    kind: str  # e.g. "PodList", for a list the server does not serve
    api_version: str
    namespace: str | None  # None: cluster-scoped (nodes)
    file_stem: str  # "<dir>/[<ns>/]<stem>.<format>"


_NAMESPACED = (
    ("events", "v1", "EventList"),
    ("replicationcontrollers", "v1", "ReplicationControllerList"),
    ("services", "v1", "ServiceList"),
    ("daemonsets", "apps/v1", "DaemonSetList"),
    ("deployments", "apps/v1", "DeploymentList"),
    ("replicasets", "apps/v1", "ReplicaSetList"),
    ("pods", "v1", "PodList"),
)


def dump_lists(namespaces: Sequence[str]) -> list[DumpList]:
    """kubectl's order: nodes, then per namespace events ... pods."""
    lists = [DumpList("/api/v1/nodes", "NodeList", "v1", None, "nodes")]
    for namespace in namespaces:
        for plural, version, kind in _NAMESPACED:
            prefix = "/api/v1" if version == "v1" else f"/apis/{version}"
            path = f"{prefix}/namespaces/{namespace}/{plural}"
            lists.append(DumpList(path, kind, version, namespace, plural))
    return lists
