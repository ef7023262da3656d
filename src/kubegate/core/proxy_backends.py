"""Which backend a ``services|pods|nodes/{id}/proxy`` request reaches, by kube's rules.

Given the parsed id (:mod:`kubegate.core.proxy_target`) and the plain JSON objects the caller
has looked up -- a Service and its EndpointSlices, a Pod, or a Node -- these functions pick
the address and port to dial, as the apiserver's ``ResourceLocation`` functions do. They do
no IO and apply no address policy: the caller checks every address it is given with
:mod:`kubegate.core.addresses` and resolves node hostnames exactly once (CVE-2020-8562).
A target that cannot be resolved is a ``ProxyResolutionError`` (400 or 503, kube's text).

Two deliberate improvements over kube, both documented where they apply: an id without a
port selects a Service's only port whatever its name (:func:`resolve_service_port`), and a
named pod port is looked up among the container ports (:func:`pod_backend`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kubegate.core.endpoint_labels import SERVICE_NAME_LABEL
from kubegate.core.go_strconv import go_quote, parse_int64
from kubegate.core.names import is_dns1123_subdomain, parse_ip
from kubegate.core.proxy_target import ProxyResolutionError

__all__ = [
    "DEFAULT_KUBELET_PORT",
    "DEFAULT_NODE_ADDRESS_TYPES",
    "Endpoint",
    "NodeBackend",
    "PodBackend",
    "ServicePortChoice",
    "node_backend",
    "pod_backend",
    "resolve_service_port",
    "service_endpoints",
]

HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
DEFAULT_KUBELET_PORT: Final = 10250
# kube-apiserver --kubelet-preferred-address-types default.
DEFAULT_NODE_ADDRESS_TYPES: Final = (
    "Hostname",
    "InternalDNS",
    "InternalIP",
    "ExternalDNS",
    "ExternalIP",
)
_DECIMAL_PORT_RE: Final = re.compile(r"[0-9]+")
_CANONICAL_PORT_RE: Final = re.compile(r"[1-9][0-9]{0,4}")


def _unavailable(message: str) -> ProxyResolutionError:
    return ProxyResolutionError(503, "ServiceUnavailable", message)


def _bad_request(message: str) -> ProxyResolutionError:
    return ProxyResolutionError(400, "BadRequest", message)


# -- services ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServicePortChoice:
    """The endpoint port name to look for, and the service port number it came from."""

    port_name: str
    service_port: int | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One ready address of a Service, with the endpoint (target) port to dial."""

    ip: str
    port: int
    address_type: str  # IPv4 | IPv6
    target_name: str = ""  # targetRef.name, for logs


def resolve_service_port(service: Mapping[str, Any], port: str) -> ServicePortChoice:
    """Turn the id's port into the endpoint port name to match.

    * a number (Go ParseInt, base 10) is looked up among ``spec.ports[].port`` (the service
      port, not ``targetPort``) and replaced by that entry's name; no match is 503
      ``no service port <n> found for service "<name>"``;
    * any other non-empty string is a port name, used as given;
    * '' matches only an unnamed endpoint port in kube. **Improvement:** when the Service
      declares exactly one port, '' selects that port whatever its name, so ``svc`` works
      for a single-port Service whose port is named (kube answers 503 there).
    """
    ports = _service_ports(service)
    if port == "":
        if len(ports) == 1:
            only = ports[0]
            return ServicePortChoice(_port_name(only), _int_or_none(only.get("port")))
        return ServicePortChoice("")
    number = parse_int64(port)
    if number is None:
        return ServicePortChoice(port)
    for entry in ports:
        if _int_or_none(entry.get("port")) == number:
            return ServicePortChoice(_port_name(entry), number)
    raise _unavailable(
        f"no service port {number} found for service {go_quote(_object_name(service))}"
    )


def service_endpoints(
    service: Mapping[str, Any], slices: Sequence[Mapping[str, Any]], port_name: str
) -> list[Endpoint]:
    """The ready endpoints of ``service`` serving ``port_name``, primary IP family first.

    Mirrors apiserver's RandomEndpoint over EndpointSlices (v1.37): only slices labelled
    ``kubernetes.io/service-name=<service>``; the slice port whose name equals
    ``port_name`` (a missing name counts as ''), a missing port number is skipped;
    endpoints whose ``conditions.ready`` is explicitly false are skipped (missing = ready);
    ``addresses[0]`` is used. FQDN slices are skipped: their addresses are names, not IPs.
    The order is deterministic (primary family, then slice and endpoint order, duplicates
    dropped); the caller picks among them. None at all is 503
    ``no endpoints available for service "<name>"``.
    """
    name = _object_name(service)
    families = (service.get("spec") or {}).get("ipFamilies") or []
    primary = families[0] if families and isinstance(families[0], str) else None
    preferred: list[Endpoint] = []
    others: list[Endpoint] = []
    seen: set[tuple[str, int]] = set()
    for slice_ in slices:
        meta = slice_.get("metadata") or {}
        if (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) != name:
            continue
        address_type = slice_.get("addressType")
        if address_type not in ("IPv4", "IPv6"):
            continue
        number = _slice_port(slice_, port_name)
        if number is None:
            continue
        bucket = preferred if primary is None or address_type == primary else others
        for endpoint in slice_.get("endpoints") or []:
            if not isinstance(endpoint, Mapping):
                continue
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            addresses = endpoint.get("addresses") or []
            if not addresses or not isinstance(addresses[0], str) or not addresses[0]:
                continue
            key = (addresses[0], number)
            if key in seen:
                continue
            seen.add(key)
            target = (endpoint.get("targetRef") or {}).get("name") or ""
            bucket.append(Endpoint(addresses[0], number, address_type, str(target)))
    found = preferred + others
    if not found:
        raise _unavailable(f"no endpoints available for service {go_quote(name)}")
    return found


def _slice_port(slice_: Mapping[str, Any], port_name: str) -> int | None:
    for entry in slice_.get("ports") or []:
        if not isinstance(entry, Mapping):
            continue
        if (entry.get("name") or "") != port_name:
            continue
        number = _int_or_none(entry.get("port"))
        if number is not None and 1 <= number <= 65535:
            return number
    return None


def _service_ports(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ports = (service.get("spec") or {}).get("ports") or []
    return [p for p in ports if isinstance(p, Mapping)]


def _port_name(entry: Mapping[str, Any]) -> str:
    name = entry.get("name")
    return name if isinstance(name, str) else ""


# -- pods ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodBackend:
    """A pod's IP (text, still to be checked) and port (None: the scheme's default)."""

    ip: str
    port: int | None


def pod_backend(pod: Mapping[str, Any], port: str) -> PodBackend:
    """Pick the pod IP and port as kube's pod ResourceLocation does, plus named ports.

    * '' is the first ``containerPort`` of the first container that declares ports, or None
      (the scheme's default, 80 or 443) when no container declares any;
    * a decimal number is used as is and must be 1-65535 (400 otherwise);
    * **improvement:** any other string is looked up by name among the containers' ports
      (kube uses it literally and the dial fails); an unknown name is 503
      ``no container port named "<x>" found for pod "<name>"``.

    The IP is ``status.podIPs[0].ip``, else ``status.podIP``; a missing or unparsable one is
    400 ``address not allowed`` (kube's text; a Pending pod has none). Whether the address
    may be dialled is the caller's check (core.addresses).
    """
    name = _object_name(pod)
    status = pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    first = pod_ips[0] if pod_ips and isinstance(pod_ips[0], Mapping) else {}
    ip = first.get("ip") or status.get("podIP") or ""
    if not isinstance(ip, str) or parse_ip(ip) is None:
        raise _bad_request("address not allowed")
    containers = [
        c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, Mapping)
    ]
    if port == "":
        for container in containers:
            ports = _container_ports(container)
            if ports:
                return PodBackend(ip, _int_or_none(ports[0].get("containerPort")))
        return PodBackend(ip, None)
    if _DECIMAL_PORT_RE.fullmatch(port):
        number = int(port)
        if not 1 <= number <= 65535:
            raise _bad_request(
                f"invalid port {go_quote(port)} for pod {go_quote(name)}: "
                "must be between 1 and 65535, inclusive"
            )
        return PodBackend(ip, number)
    for container in containers:
        for declared in _container_ports(container):
            if declared.get("name") == port:
                return PodBackend(ip, _int_or_none(declared.get("containerPort")))
    raise _unavailable(f"no container port named {go_quote(port)} found for pod {go_quote(name)}")


def _container_ports(container: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ports = container.get("ports") or []
    return [
        p
        for p in ports
        if isinstance(p, Mapping) and 1 <= (_int_or_none(p.get("containerPort")) or 0) <= 65535
    ]


# -- nodes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeBackend:
    """Where a node proxy request goes; ``kubelet`` means the kubelet client transport."""

    host: str  # an address from status.addresses: IP literal or hostname, still unchecked
    port: int
    scheme: str  # http | https
    kubelet: bool


def node_backend(
    node: Mapping[str, Any],
    port: str,
    scheme: str,
    preferred_types: Sequence[str] = DEFAULT_NODE_ADDRESS_TYPES,
) -> NodeBackend:
    """Pick the node address and port as kube's node ResourceLocation does.

    The address is the first ``status.addresses`` entry of the earliest type in
    ``preferred_types`` (a Hostname falls back to the ``kubernetes.io/hostname`` label, as in
    kube's GetPreferredNodeAddress). The kubelet port is
    ``status.daemonEndpoints.kubeletEndpoint.Port`` or 10250. A port of '' or equal to the
    kubelet port selects the kubelet (https, kubelet credentials; the id's scheme is
    ignored); any other port is ``<scheme or http>://address:port`` with no credentials.

    Stricter than kube: a port must be '' or a canonical decimal 1-65535 (kube pastes it into
    the URL, so ``010250`` would reach the kubelet port by another name), and the address
    must be an IP literal or an RFC 1123 hostname; both refusals are 400.
    """
    name = _object_name(node)
    host = _preferred_address(node, preferred_types)
    if parse_ip(host) is None and is_dns1123_subdomain(host.lower().rstrip(".")):
        raise _bad_request("address not allowed")
    endpoint = ((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint")
    kubelet_port = _int_or_none((endpoint or {}).get("Port")) or 0
    if not 1 <= kubelet_port <= 65535:
        kubelet_port = DEFAULT_KUBELET_PORT
    if port == "":
        return NodeBackend(host, kubelet_port, "https", kubelet=True)
    if not _CANONICAL_PORT_RE.fullmatch(port) or int(port) > 65535:
        raise _bad_request(
            f"invalid port {go_quote(port)} for node {go_quote(name)}: "
            "must be a number between 1 and 65535"
        )
    number = int(port)
    if number == kubelet_port:
        return NodeBackend(host, kubelet_port, "https", kubelet=True)
    return NodeBackend(host, number, scheme or "http", kubelet=False)


def _preferred_address(node: Mapping[str, Any], preferred_types: Sequence[str]) -> str:
    addresses = [
        a for a in (node.get("status") or {}).get("addresses") or [] if isinstance(a, Mapping)
    ]
    labels = (node.get("metadata") or {}).get("labels") or {}
    for address_type in preferred_types:
        for address in addresses:
            if address.get("type") == address_type and isinstance(address.get("address"), str):
                if address["address"]:
                    return str(address["address"])
        if address_type == "Hostname":
            hostname = labels.get(HOSTNAME_LABEL)
            if isinstance(hostname, str) and hostname:
                return hostname
    # Go's %v of []NodeAddress: [{InternalIP 10.0.0.1} {Hostname n1}]
    known = " ".join(f"{{{a.get('type', '')} {a.get('address', '')}}}" for a in addresses)
    raise _bad_request(f"no preferred addresses found; known addresses: [{known}]")


# -- helpers -------------------------------------------------------------------------------


def _object_name(obj: Mapping[str, Any]) -> str:
    name = (obj.get("metadata") or {}).get("name")
    return name if isinstance(name, str) else ""


def _int_or_none(value: Any) -> int | None:
    # JSON numbers only: bools are ints in Python but never ports.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None
