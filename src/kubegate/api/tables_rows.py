"""Row cells for the built-in kinds other than Pod, as kube-apiserver prints them.

Each function returns every cell of a row, the priority-1 ("wide") cells included:
the API server always generates wide rows and kubectl hides priority columns unless
``-o wide`` is asked for. Formats follow pkg/printers/internalversion/printers.go.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubegate.api.tables_format import age, format_labels, get, items, text

Row = list[Any]

_LIST_MAX = 3  # endpoints, ports: show three, then "+ N more..."


def _created(obj: dict[str, Any], now: datetime) -> str:
    return age(get(obj, "metadata", "creationTimestamp"), now)


def _name(obj: dict[str, Any]) -> str:
    return text(obj, "metadata", "name")


def _with_more(shown: list[str], total: int, empty: str) -> str:
    joined = ",".join(shown)
    if total > len(shown):
        return f"{joined} + {total - len(shown)} more..."
    return joined or empty


# -- Service ------------------------------------------------------------------------


def _load_balancer_ips(service: dict[str, Any]) -> list[str]:
    found: set[str] = set()
    for ingress in items(service, "status", "loadBalancer", "ingress"):
        if ingress.get("ip"):
            found.add(ingress["ip"])
        elif ingress.get("hostname"):
            found.add(ingress["hostname"])
    return sorted(found)


def service_external_ip(service: dict[str, Any]) -> str:
    """EXTERNAL-IP: external IPs, load-balancer ingress, "<pending>" or "<none>"."""
    svc_type = text(service, "spec", "type") or "ClusterIP"
    external = [str(ip) for ip in items(service, "spec", "externalIPs")]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if svc_type == "LoadBalancer":
        combined = _load_balancer_ips(service) + external
        return ",".join(combined) or "<pending>"
    if svc_type == "ExternalName":
        return text(service, "spec", "externalName")
    return "<unknown>"


def service_ports(service: dict[str, Any]) -> str:
    """PORT(S): "80/TCP,443:30443/TCP", or "<none>"."""
    pieces = []
    for port in items(service, "spec", "ports"):
        protocol = port.get("protocol") or "TCP"
        node_port = int(port.get("nodePort") or 0)
        if node_port > 0:
            pieces.append(f"{port.get('port', 0)}:{node_port}/{protocol}")
        else:
            pieces.append(f"{port.get('port', 0)}/{protocol}")
    return ",".join(pieces) or "<none>"


def service_row(service: dict[str, Any], now: datetime) -> Row:
    cluster_ips = items(service, "spec", "clusterIPs")
    cluster_ip = str(cluster_ips[0]) if cluster_ips else text(service, "spec", "clusterIP")
    return [
        _name(service),
        text(service, "spec", "type"),
        cluster_ip or "<none>",
        service_external_ip(service),
        service_ports(service),
        _created(service, now),
        format_labels(get(service, "spec", "selector")),
    ]


# -- Endpoints and EndpointSlices ---------------------------------------------------


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(endpoints: dict[str, Any]) -> str:
    """ENDPOINTS: "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...", or "<none>"."""
    subsets = items(endpoints, "subsets")
    if not subsets:
        return "<none>"
    shown: list[str] = []
    total = 0
    for subset in subsets:
        addresses = [text(a, "ip") for a in items(subset, "addresses")]
        ports = items(subset, "ports")
        if not ports:  # headless services may have no ports
            total += len(addresses)
            shown.extend(addresses[: _LIST_MAX - len(shown)])
            continue
        for port in ports:
            total += len(addresses)
            for ip in addresses:
                if len(shown) == _LIST_MAX:
                    break
                shown.append(_host_port(ip, port.get("port", 0)))
    return _with_more(shown, total, "")


def endpoints_row(endpoints: dict[str, Any], now: datetime) -> Row:
    return [_name(endpoints), format_endpoints(endpoints), _created(endpoints, now)]


def endpoint_slice_row(slice_: dict[str, Any], now: datetime) -> Row:
    ports = []
    for port in items(slice_, "ports"):
        if port.get("port") is not None:
            ports.append(str(port["port"]))
        elif port.get("name") is not None:
            ports.append(str(port["name"]))
        else:
            ports.append("*")
    addresses = [str(a) for e in items(slice_, "endpoints") for a in items(e, "addresses")]
    return [
        _name(slice_),
        text(slice_, "addressType"),
        _with_more(ports[:_LIST_MAX], len(ports), "<unset>"),
        _with_more(addresses[:_LIST_MAX], len(addresses), "<unset>"),
        _created(slice_, now),
    ]


# -- Node and Namespace -------------------------------------------------------------


def node_roles(node: dict[str, Any]) -> str:
    roles: set[str] = set()
    for key, value in (get(node, "metadata", "labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            if role := key.removeprefix("node-role.kubernetes.io/"):
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or "<none>"


def node_status(node: dict[str, Any]) -> str:
    status: list[str] = []
    for condition in items(node, "status", "conditions"):
        if condition.get("type") == "Ready":
            status = ["Ready" if condition.get("status") == "True" else "NotReady"]
    if not status:
        status = ["Unknown"]
    if get(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    return ",".join(status)


def _node_address(node: dict[str, Any], address_type: str) -> str:
    for address in items(node, "status", "addresses"):
        if address.get("type") == address_type:
            return str(address.get("address", ""))
    return "<none>"


def node_row(node: dict[str, Any], now: datetime) -> Row:
    info = get(node, "status", "nodeInfo") or {}
    return [
        _name(node),
        node_status(node),
        node_roles(node),
        _created(node, now),
        text(info, "kubeletVersion"),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        text(info, "osImage") or "<unknown>",
        text(info, "kernelVersion") or "<unknown>",
        text(info, "containerRuntimeVersion") or "<unknown>",
    ]


def namespace_row(namespace: dict[str, Any], now: datetime) -> Row:
    return [_name(namespace), text(namespace, "status", "phase"), _created(namespace, now)]


# -- configuration ------------------------------------------------------------------


def config_map_row(config_map: dict[str, Any], now: datetime) -> Row:
    count = len(get(config_map, "data") or {}) + len(get(config_map, "binaryData") or {})
    return [_name(config_map), count, _created(config_map, now)]


def secret_row(secret: dict[str, Any], now: datetime) -> Row:
    # stringData is merged into data when a Secret is decoded, so count the union.
    keys = set(get(secret, "data") or {}) | set(get(secret, "stringData") or {})
    return [_name(secret), text(secret, "type"), len(keys), _created(secret, now)]


def service_account_row(account: dict[str, Any], now: datetime) -> Row:
    return [_name(account), len(items(account, "secrets")), _created(account, now)]


def lease_row(lease: dict[str, Any], now: datetime) -> Row:
    return [_name(lease), text(lease, "spec", "holderIdentity"), _created(lease, now)]


# -- RBAC ---------------------------------------------------------------------------


def binding_row(binding: dict[str, Any], now: datetime) -> Row:
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in items(binding, "subjects"):
        kind, name = subject.get("kind"), text(subject, "name")
        if kind == "ServiceAccount":
            accounts.append(f"{text(subject, 'namespace')}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    role = f"{text(binding, 'roleRef', 'kind')}/{text(binding, 'roleRef', 'name')}"
    return [
        _name(binding),
        role,
        _created(binding, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


# -- Event --------------------------------------------------------------------------


def _event_source(event: dict[str, Any]) -> str:
    component = text(event, "source", "component") or text(event, "reportingComponent")
    instance = text(event, "source", "host") or text(event, "reportingInstance")
    return f"{component}, {instance}" if instance else component


def event_row(event: dict[str, Any], now: datetime) -> Row:
    first_raw = get(event, "firstTimestamp") or get(event, "eventTime")
    first_seen = age(first_raw, now)
    last_raw = get(event, "lastTimestamp")
    last_seen = age(last_raw, now) if last_raw else first_seen
    count = int(get(event, "count") or 0)
    series = get(event, "series")
    if isinstance(series, dict):
        last_seen = age(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1  # singleton events from the events.k8s.io API carry no count
    kind = text(event, "involvedObject", "kind").lower()
    involved = text(event, "involvedObject", "name")
    return [
        last_seen,
        text(event, "type"),
        text(event, "reason"),
        f"{kind}/{involved}" if involved else kind,
        text(event, "involvedObject", "fieldPath"),
        _event_source(event),
        text(event, "message").strip(),
        first_seen,
        count,
        _name(event),
    ]
