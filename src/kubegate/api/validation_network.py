"""Validation of Services, Endpoints and EndpointSlices.

Follows ValidateService / ValidateServiceUpdate, ValidateEndpoints and
discovery's ValidateEndpointSlice. kube validates *defaulted* objects; where a
field has a default (Service type ClusterIP, protocol TCP, targetPort = port,
sessionAffinity None) an absent value is read as that default rather than reported.
NodePort ranges are the allocator's business, not validation's.
"""

from __future__ import annotations

from typing import Any, Final

from kubegate.api.validation_meta import (
    FIELD_IMMUTABLE,
    integer,
    invalid,
    mapping,
    sequence,
    string,
    too_many,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_labels,
    validate_qualified_name,
)
from kubegate.core import names
from kubegate.errors import FieldErrors

PROTOCOLS: Final = ["SCTP", "TCP", "UDP"]
SERVICE_TYPES: Final = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
SESSION_AFFINITIES: Final = ["ClientIP", "None"]
IP_FAMILIES: Final = ["IPv4", "IPv6"]
IP_FAMILY_POLICIES: Final = ["PreferDualStack", "RequireDualStack", "SingleStack"]
TRAFFIC_POLICIES: Final = ["Cluster", "Local"]
ADDRESS_TYPES: Final = ["FQDN", "IPv4", "IPv6"]

MAX_SLICE_ENDPOINTS: Final = 1000
MAX_SLICE_ADDRESSES: Final = 100
MAX_SLICE_PORTS: Final = 100


# -- shared IP and port checks --------------------------------------------------------


def validate_ip(errs: FieldErrors, value: str, path: str) -> bool:
    """IsValidIP; True when the address parsed."""
    if names.is_valid_ip(value):
        return True
    errs.invalid(path, value, names.IP_INVALID_MSG)
    return False


def validate_non_special_ip(errs: FieldErrors, value: str, path: str) -> None:
    """ValidateNonSpecialIP: no unspecified, loopback or link-local addresses."""
    for msg in names.special_ip_errors(value):
        errs.invalid(path, value, msg)


def validate_port_num_or_name(errs: FieldErrors, value: Any, path: str) -> None:
    if isinstance(value, str):
        for msg in names.is_valid_port_name(value):
            errs.invalid(path, value, msg)
    else:
        for msg in names.is_valid_port_num(integer(value)):
            errs.invalid(path, integer(value), msg)


def validate_protocol(errs: FieldErrors, protocol: Any, path: str) -> None:
    # Absent means the default, TCP.
    if protocol is not None and string(protocol) not in PROTOCOLS:
        errs.not_supported(path, string(protocol), PROTOCOLS)


# -- Service ------------------------------------------------------------------------


def _cluster_ips(spec: dict[str, Any]) -> list[str]:
    """clusterIPs as the service strategy syncs them: clusterIPs, else [clusterIP]."""
    ips = [string(ip) for ip in sequence(spec.get("clusterIPs"))]
    if ips:
        return ips
    single = string(spec.get("clusterIP"))
    return [single] if single else []


def is_headless(spec: dict[str, Any]) -> bool:
    ips = _cluster_ips(spec)
    return len(ips) == 1 and ips[0] == "None"


def _validate_service_port(
    errs: FieldErrors, port: dict[str, Any], path: str, require_name: bool, seen: set[str]
) -> None:
    name = string(port.get("name"))
    if require_name and not name:
        errs.required(f"{path}.name")
    elif name:
        validate_dns1123_label(errs, name, f"{path}.name")
        if name in seen:
            errs.duplicate(f"{path}.name", name)
        seen.add(name)
    for msg in names.is_valid_port_num(integer(port.get("port"))):
        errs.invalid(f"{path}.port", integer(port.get("port")), msg)
    validate_protocol(errs, port.get("protocol"), f"{path}.protocol")
    target = port.get("targetPort")
    if target not in (None, 0, ""):  # unset targetPort defaults to port
        validate_port_num_or_name(errs, target, f"{path}.targetPort")
    if port.get("appProtocol") is not None:
        validate_qualified_name(errs, string(port.get("appProtocol")), f"{path}.appProtocol")


def _validate_cluster_ips(errs: FieldErrors, spec: dict[str, Any]) -> None:
    cluster_ip = string(spec.get("clusterIP"))
    listed = [string(ip) for ip in sequence(spec.get("clusterIPs"))]
    if cluster_ip and listed and listed[0] != cluster_ip:
        invalid(errs, "spec.clusterIPs", listed, "first value must match `clusterIP`")
    if not cluster_ip and listed:
        invalid(errs, "spec.clusterIPs", listed, "must be empty when `clusterIP` is not specified")
    ips = _cluster_ips(spec)
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                invalid(errs, "spec.clusterIPs", ips, "'None' must be the first and only value")
            continue
        validate_ip(errs, ip, f"spec.clusterIPs[{i}]")
    if len(ips) > 2:
        invalid(errs, "spec.clusterIPs", ips, "may only hold up to 2 values")
    families = [string(f) for f in sequence(spec.get("ipFamilies"))]
    seen: set[str] = set()
    for i, family in enumerate(families):
        if family not in IP_FAMILIES:
            errs.not_supported(f"spec.ipFamilies[{i}]", family, IP_FAMILIES)
        if family in seen:
            errs.duplicate(f"spec.ipFamilies[{i}]", family)
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and string(policy) not in IP_FAMILY_POLICIES:
        errs.not_supported("spec.ipFamilyPolicy", string(policy), IP_FAMILY_POLICIES)
    if not is_headless(spec):
        for i, (ip, family) in enumerate(zip(ips, families, strict=False)):
            if not names.is_valid_ip(ip):
                continue
            if family == "IPv4" and names.is_ipv6_string(ip):
                errs.invalid(
                    f"spec.clusterIPs[{i}]",
                    ip,
                    f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                )
            if family == "IPv6" and not names.is_ipv6_string(ip):
                errs.invalid(
                    f"spec.clusterIPs[{i}]",
                    ip,
                    f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                )


def validate_service(errs: FieldErrors, service: dict[str, Any]) -> None:
    spec = mapping(service.get("spec"))
    svc_type = string(spec.get("type")) or "ClusterIP"
    headless = is_headless(spec)
    ports = [mapping(p) for p in sequence(spec.get("ports"))]
    if not ports and not headless and svc_type != "ExternalName":
        errs.required("spec.ports")
    if svc_type in ("LoadBalancer", "NodePort") and headless:
        errs.invalid(
            "spec.clusterIPs[0]", "None", f"may not be set to 'None' for {svc_type} services"
        )
    if svc_type == "ExternalName":
        if _cluster_ips(spec):
            errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
        if sequence(spec.get("ipFamilies")):
            errs.forbidden("spec.ipFamilies", "may not be set for ExternalName services")
        if spec.get("ipFamilyPolicy") is not None:
            errs.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
        # The CNAME may carry a trailing dot to mark it fully qualified.
        cname = string(spec.get("externalName")).removesuffix(".")
        if cname:
            validate_dns1123_subdomain(errs, cname, "spec.externalName")
        else:
            errs.required("spec.externalName")
    else:
        _validate_cluster_ips(errs, spec)

    seen_names: set[str] = set()
    for i, port in enumerate(ports):
        _validate_service_port(errs, port, f"spec.ports[{i}]", len(ports) > 1, seen_names)
    if spec.get("selector") is not None:
        validate_labels(errs, spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    if affinity is not None and string(affinity) not in SESSION_AFFINITIES:
        errs.not_supported("spec.sessionAffinity", string(affinity), SESSION_AFFINITIES)
    for i, ip in enumerate(sequence(spec.get("externalIPs"))):
        if validate_ip(errs, string(ip), f"spec.externalIPs[{i}]"):
            validate_non_special_ip(errs, string(ip), f"spec.externalIPs[{i}]")
    if spec.get("type") is not None and svc_type not in SERVICE_TYPES:
        errs.not_supported("spec.type", svc_type, SERVICE_TYPES)
    for field in ("externalTrafficPolicy", "internalTrafficPolicy"):
        value = spec.get(field)
        if value is not None and string(value) not in TRAFFIC_POLICIES:
            errs.not_supported(f"spec.{field}", string(value), TRAFFIC_POLICIES)

    node_ports: set[tuple[str, int]] = set()
    port_keys: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        protocol = string(port.get("protocol")) or "TCP"
        node_port = integer(port.get("nodePort"))
        if node_port:
            if svc_type == "ClusterIP":
                errs.forbidden(
                    f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"
                )
            if not 0 <= node_port <= 65535:
                errs.invalid(
                    f"spec.ports[{i}].nodePort", node_port, names.inclusive_range_error(0, 65535)
                )
            if (protocol, node_port) in node_ports:
                errs.duplicate(f"spec.ports[{i}].nodePort", node_port)
            node_ports.add((protocol, node_port))
        key = (protocol, integer(port.get("port")))
        if key in port_keys:
            errs.duplicate(f"spec.ports[{i}]", f"{key[1]}/{key[0]}")
        port_keys.add(key)


def validate_service_update(
    errs: FieldErrors, service: dict[str, Any], old: dict[str, Any]
) -> None:
    """Allocated cluster IPs and IP families stay put, except to or from ExternalName.

    An update that omits clusterIP(s) is accepted: kube's Service REST copies allocated
    values forward, and the caller is expected to do the same before storing.
    """
    spec, old_spec = mapping(service.get("spec")), mapping(old.get("spec"))
    new_type = string(spec.get("type")) or "ClusterIP"
    old_type = string(old_spec.get("type")) or "ClusterIP"
    if "ExternalName" in (new_type, old_type):
        return
    new_ips, old_ips = _cluster_ips(spec), _cluster_ips(old_spec)
    if new_ips and old_ips and not (is_headless(spec) and is_headless(old_spec)):
        for i, (new_ip, old_ip) in enumerate(zip(new_ips, old_ips, strict=False)):
            if new_ip != old_ip:
                invalid(errs, f"spec.clusterIPs[{i}]", new_ips, "may not change once set")
    new_families = [string(f) for f in sequence(spec.get("ipFamilies"))]
    old_families = [string(f) for f in sequence(old_spec.get("ipFamilies"))]
    if is_headless(spec) or is_headless(old_spec):
        return
    if new_families and old_families and new_families[0] != old_families[0]:
        invalid(errs, "spec.ipFamilies[0]", new_families, "may not change once set")


# -- Endpoints ----------------------------------------------------------------------


def _validate_endpoint_address(errs: FieldErrors, address: dict[str, Any], path: str) -> None:
    ip = string(address.get("ip"))
    validate_ip(errs, ip, f"{path}.ip")
    if address.get("hostname"):
        validate_dns1123_label(errs, string(address.get("hostname")), f"{path}.hostname")
    if address.get("nodeName") is not None:
        node_name = string(address.get("nodeName"))
        for msg in names.name_is_dns_subdomain(node_name):
            errs.invalid(f"{path}.nodeName", node_name, msg)
    validate_non_special_ip(errs, ip, f"{path}.ip")


def _validate_endpoint_port(
    errs: FieldErrors, port: dict[str, Any], path: str, require_name: bool
) -> None:
    name = string(port.get("name"))
    if require_name and not name:
        errs.required(f"{path}.name")
    elif name:
        validate_dns1123_label(errs, name, f"{path}.name")
    for msg in names.is_valid_port_num(integer(port.get("port"))):
        errs.invalid(f"{path}.port", integer(port.get("port")), msg)
    validate_protocol(errs, port.get("protocol"), f"{path}.protocol")
    if port.get("appProtocol") is not None:
        validate_qualified_name(errs, string(port.get("appProtocol")), f"{path}.appProtocol")


def validate_endpoints(errs: FieldErrors, endpoints: dict[str, Any]) -> None:
    for i, subset in enumerate(mapping(s) for s in sequence(endpoints.get("subsets"))):
        path = f"subsets[{i}]"
        addresses = [mapping(a) for a in sequence(subset.get("addresses"))]
        not_ready = [mapping(a) for a in sequence(subset.get("notReadyAddresses"))]
        if not addresses and not not_ready:
            errs.required(path, "must specify `addresses` or `notReadyAddresses`")
        for j, address in enumerate(addresses):
            _validate_endpoint_address(errs, address, f"{path}.addresses[{j}]")
        for j, address in enumerate(not_ready):
            _validate_endpoint_address(errs, address, f"{path}.notReadyAddresses[{j}]")
        ports = [mapping(p) for p in sequence(subset.get("ports"))]
        for j, port in enumerate(ports):
            _validate_endpoint_port(errs, port, f"{path}.ports[{j}]", len(ports) > 1)


# -- EndpointSlice ------------------------------------------------------------------


def _validate_fqdn(errs: FieldErrors, value: str, path: str) -> None:
    """IsFullyQualifiedDomainName: two or more labels, an optional trailing dot."""
    if not value:
        errs.required(path)
        return
    name = value.removesuffix(".")
    if msgs := names.is_dns1123_subdomain(name):
        errs.invalid(path, name, ",".join(msgs))
        return
    labels = name.split(".")
    if len(labels) < 2:
        errs.invalid(path, name, "should be a domain with at least two segments separated by dots")
        return
    for label in labels:
        if msgs := names.is_dns1123_label(label):
            errs.invalid(path, label, ",".join(msgs))
            return


def _validate_slice_address(errs: FieldErrors, address_type: str, address: str, path: str) -> None:
    if address_type == "IPv4":
        if not names.is_valid_ipv4(address):
            errs.invalid(path, address, "must be a valid IPv4 address")
        validate_non_special_ip(errs, address, path)
    elif address_type == "IPv6":
        if not names.is_valid_ipv6(address):
            errs.invalid(path, address, "must be a valid IPv6 address")
        validate_non_special_ip(errs, address, path)
    elif address_type == "FQDN":
        _validate_fqdn(errs, address, path)


def validate_endpoint_slice(errs: FieldErrors, slice_: dict[str, Any]) -> None:
    address_type = string(slice_.get("addressType"))
    if not address_type:
        errs.required("addressType")
    elif address_type not in ADDRESS_TYPES:
        errs.not_supported("addressType", address_type, ADDRESS_TYPES)

    endpoints = [mapping(e) for e in sequence(slice_.get("endpoints"))]
    if len(endpoints) > MAX_SLICE_ENDPOINTS:
        too_many(errs, "endpoints", len(endpoints), MAX_SLICE_ENDPOINTS)
        endpoints = []
    for i, endpoint in enumerate(endpoints):
        path = f"endpoints[{i}]"
        addresses = [string(a) for a in sequence(endpoint.get("addresses"))]
        if not addresses:
            errs.required(f"{path}.addresses", "must contain at least 1 address")
        elif len(addresses) > MAX_SLICE_ADDRESSES:
            too_many(errs, f"{path}.addresses", len(addresses), MAX_SLICE_ADDRESSES)
        for j, address in enumerate(addresses):
            _validate_slice_address(errs, address_type, address, f"{path}.addresses[{j}]")
        if endpoint.get("nodeName") is not None:
            node_name = string(endpoint.get("nodeName"))
            for msg in names.name_is_dns_subdomain(node_name):
                errs.invalid(f"{path}.nodeName", node_name, msg)
        if endpoint.get("hostname") is not None:
            validate_dns1123_label(errs, string(endpoint.get("hostname")), f"{path}.hostname")

    ports = [mapping(p) for p in sequence(slice_.get("ports"))]
    if len(ports) > MAX_SLICE_PORTS:
        too_many(errs, "ports", len(ports), MAX_SLICE_PORTS)
        ports = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        path = f"ports[{i}]"
        name = string(port.get("name"))  # defaulted to "" so unnamed ports clash too
        if name:
            validate_dns1123_label(errs, name, f"{path}.name")
        if name in seen:
            errs.duplicate(f"{path}.name", name)
        seen.add(name)
        validate_protocol(errs, port.get("protocol"), f"{path}.protocol")
        if port.get("appProtocol") is not None:
            validate_qualified_name(errs, string(port.get("appProtocol")), f"{path}.appProtocol")


def validate_endpoint_slice_update(
    errs: FieldErrors, slice_: dict[str, Any], old: dict[str, Any]
) -> None:
    new_type, old_type = string(slice_.get("addressType")), string(old.get("addressType"))
    if new_type != old_type:
        errs.invalid("addressType", new_type, FIELD_IMMUTABLE)
