"""What the service index lists: the proxy targets one user may reach, read from the
watch-fed cache (proxy/cache.py), never from the store per request.

Links are built the way ``kubegate url`` and ``cluster-info`` build them (client/urls.py,
client/clusterinfo.py): one link per port, by port name (else number), with the ``https:``
scheme when the port is named ``https`` or is 443. Ready counts are ``cluster-info -o
wide``'s (distinct ready endpoint addresses across the service's EndpointSlices).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubegate.client.clusterinfo import CLUSTER_SERVICE_SELECTOR, ready_endpoints
from kubegate.client.urls import ProxyURL, UrlError, proxy_url
from kubegate.proxy.cache import ProxyCache
from kubegate.server.ui.access import ProxyAccess

JSON = dict[str, Any]
_CLUSTER_SERVICE_LABEL, _, _CLUSTER_SERVICE_VALUE = CLUSTER_SERVICE_SELECTOR.partition("=")
# The title and description a service may carry for people (shown, always escaped).
TITLE_LABELS = ("app.kubernetes.io/name", "kubernetes.io/name")
DESCRIPTION_ANNOTATION = "kubegate.io/description"
MAX_PODS_PER_NAMESPACE = 200

AppURL = Callable[[str, str, str], str | None]  # (namespace, service, port) -> app origin URL


@dataclass(frozen=True, slots=True)
class PortLink:
    label: str  # what the user reads: "http 80/TCP"
    port: str  # the port as the proxy id carries it (name or number, "" for none)
    path: str  # the proxy URL path, "/api/v1/…/proxy/"
    https: bool
    app_url: str | None = None  # the per-service origin (--apps-domain), if any


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    namespace: str
    name: str
    title: str
    description: str
    type: str
    ports: tuple[PortLink, ...]
    unlinked_ports: tuple[str, ...]  # ports shown without a link (not TCP, or not allowed)
    ready: int
    total: int
    cluster_service: bool
    annotations: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PodEntry:
    namespace: str
    name: str
    phase: str
    ready: bool
    ports: tuple[PortLink, ...]


@dataclass(frozen=True, slots=True)
class NodeEntry:
    name: str
    ready: bool
    link: PortLink


@dataclass(slots=True)
class NamespaceGroup:
    name: str
    services: list[ServiceEntry] = field(default_factory=list)
    pods: list[PodEntry] = field(default_factory=list)
    pods_hidden: int = 0  # pods past MAX_PODS_PER_NAMESPACE


@dataclass(slots=True)
class Catalog:
    namespaces: list[NamespaceGroup]
    nodes: list[NodeEntry]
    cluster_services: list[ServiceEntry]  # kube-system's cluster-info services


def build_catalog(
    cache: ProxyCache, access: ProxyAccess, *, query: str = "", app_url: AppURL | None = None
) -> Catalog:
    """Every reachable target matching ``query`` (case-insensitive substring of
    ``namespace/name`` or the title), grouped by namespace in name order."""
    needle = query.strip().lower()
    groups: dict[str, NamespaceGroup] = {}
    cluster_services: list[ServiceEntry] = []

    def group(namespace: str) -> NamespaceGroup:
        return groups.setdefault(namespace, NamespaceGroup(namespace))

    for svc in sorted(cache.services.values(), key=_ns_name):
        entry = _service_entry(cache, access, svc, app_url)
        if entry is None:
            continue
        if entry.cluster_service and entry.namespace == "kube-system":
            cluster_services.append(entry)
        if _matches(needle, entry.namespace, entry.name, entry.title):
            group(entry.namespace).services.append(entry)
    for pod in sorted(cache.pods.values(), key=_ns_name):
        pod_entry = _pod_entry(access, pod)
        if pod_entry is None or not _matches(needle, pod_entry.namespace, pod_entry.name, ""):
            continue
        target = group(pod_entry.namespace)
        if len(target.pods) < MAX_PODS_PER_NAMESPACE:
            target.pods.append(pod_entry)
        else:
            target.pods_hidden += 1
    nodes = []
    for node in sorted(cache.nodes.values(), key=_ns_name):
        node_entry = _node_entry(access, node)
        if node_entry is not None and _matches(needle, "", node_entry.name, ""):
            nodes.append(node_entry)
    return Catalog([groups[n] for n in sorted(groups)], nodes, cluster_services)


def _service_entry(
    cache: ProxyCache, access: ProxyAccess, svc: JSON, app_url: AppURL | None
) -> ServiceEntry | None:
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    service_type = str(spec.get("type") or "ClusterIP")
    ports = [p for p in spec.get("ports") or [] if isinstance(p, Mapping)]
    links: list[PortLink] = []
    unlinked: list[str] = []
    for port in ports:
        label = _port_label(port)
        port_id = str(port.get("name") or port.get("port") or "")
        https = port.get("name") == "https" or port.get("port") == 443
        link = _link("service", namespace, name, port_id, https, label)
        proxiable = service_type != "ExternalName" and (port.get("protocol") or "TCP") == "TCP"
        if link is None or not proxiable:
            unlinked.append(label)
            continue
        target = ProxyURL("service", name, namespace, port=port_id, https=https)
        if not access.may_proxy("service", namespace, target.proxy_id):
            unlinked.append(label)
            continue
        if app_url is not None:
            link = PortLink(
                link.label, link.port, link.path, https, app_url(namespace, name, port_id)
            )
        links.append(link)
    if not links:
        # A role naming only the bare service (resourceNames: [web]) still allows its
        # default-port URL, which kube serves when the service has exactly one port.
        bare = _link("service", namespace, name, "", False, "default port")
        if not (len(ports) == 1 and bare and access.may_proxy("service", namespace, name)):
            return None
        if service_type != "ExternalName":
            links.append(bare)
            unlinked = []
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    ready, total = ready_endpoints(name, cache.endpoint_slices(namespace, name))
    return ServiceEntry(
        namespace=namespace,
        name=name,
        title=next((str(labels[k]) for k in TITLE_LABELS if labels.get(k)), ""),
        description=str(annotations.get(DESCRIPTION_ANNOTATION) or ""),
        type=service_type,
        ports=tuple(links),
        unlinked_ports=tuple(unlinked),
        ready=ready,
        total=total,
        cluster_service=labels.get(_CLUSTER_SERVICE_LABEL) == _CLUSTER_SERVICE_VALUE,
        annotations={
            str(k): str(v) for k, v in annotations.items() if str(k).startswith("kubegate.io/")
        },
    )


def _pod_entry(access: ProxyAccess, pod: JSON) -> PodEntry | None:
    meta = pod.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    status = pod.get("status") or {}
    links: list[PortLink] = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or [] if isinstance(container, Mapping) else []:
            if not isinstance(port, Mapping) or (port.get("protocol") or "TCP") != "TCP":
                continue
            number = port.get("containerPort")
            port_id = str(port.get("name") or number or "")
            https = port.get("name") == "https" or number == 443
            link = _link("pod", namespace, name, port_id, https, f"{port_id} {number}/TCP")
            target = ProxyURL("pod", name, namespace, port=port_id, https=https)
            if link is not None and access.may_proxy("pod", namespace, target.proxy_id):
                links.append(link)
    if not links:
        bare = _link("pod", namespace, name, "", False, "default port")
        if bare is None or not access.may_proxy("pod", namespace, name):
            return None
        links.append(bare)
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
        if isinstance(c, Mapping)
    )
    return PodEntry(namespace, name, str(status.get("phase") or "Unknown"), ready, tuple(links))


def _node_entry(access: ProxyAccess, node: JSON) -> NodeEntry | None:
    name = str((node.get("metadata") or {}).get("name") or "")
    link = _link("node", "", name, "", False, "kubelet")
    if link is None or not access.may_proxy("node", "", name):
        return None
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
        if isinstance(c, Mapping)
    )
    return NodeEntry(name, ready, link)


def _link(
    kind: str, namespace: str, name: str, port: str, https: bool, label: str
) -> PortLink | None:
    """The proxy link, or None when the object cannot make a valid URL (a malformed name
    or port that validation should have refused is shown, never linked)."""
    try:
        target = ProxyURL(kind, name, namespace or None, port=port, https=https)  # type: ignore[arg-type]
        path = proxy_url("", target)
    except UrlError:
        return None
    return PortLink(label, port, path, https)


def _port_label(port: Mapping[str, Any]) -> str:
    number = port.get("port")
    protocol = port.get("protocol") or "TCP"
    name = port.get("name") or ""
    return f"{name} {number}/{protocol}".strip()


def _matches(needle: str, namespace: str, name: str, title: str) -> bool:
    if not needle:
        return True
    return needle in f"{namespace}/{name}".lower() or needle in title.lower()


def _ns_name(obj: JSON) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
