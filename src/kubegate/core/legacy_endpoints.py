"""The legacy ``v1/Endpoints`` object of a Service with a selector, computed without IO.

This module owns the rules of kube's Endpoints controller (``compute_endpoints``): the
selected pods' addresses of the Service's primary family, repacked into the ``subsets`` form
that ``kubectl get endpoints`` shows, and truncated past 1000 addresses. It reads pods and
Services exactly as the EndpointSlice rules do (``core/endpoint_inputs.py``).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from kubegate.core.endpoint_inputs import (
    IPV4,
    canonical_ip,
    endpoint_port,
    is_endpoint_candidate,
    is_headless,
    is_pod_ready,
    is_pod_terminating,
    labels_of,
    metadata_of,
    pod_ips,
    pod_ref,
    resolve_target_port,
    selects_pod,
    should_set_hostname,
    spec_of,
)
from kubegate.core.endpoint_labels import (
    HEADLESS_LABEL,
    OVER_CAPACITY_ANNOTATION,
    SKIP_MIRROR_LABEL,
)

JSON = dict[str, Any]

MAX_ENDPOINTS_CAPACITY = 1000  # legacy Endpoints objects are truncated past this


def _endpoints_family(service: Mapping[str, Any], pod: Mapping[str, Any]) -> str | None:
    """The one family a legacy Endpoints object lists: the Service's primary family; for
    headless Services without families, the family of the pod's first IP."""
    spec = spec_of(service)
    families = spec.get("ipFamilies") or ()
    if families:
        return str(families[0])
    if not is_headless(service):
        parsed = canonical_ip(spec.get("clusterIP"))
        return parsed[0] if parsed else IPV4
    ips = pod_ips(pod)
    return ips[0][0] if ips else None


def _endpoints_address(pod: Mapping[str, Any], service: Mapping[str, Any]) -> JSON | None:
    family = _endpoints_family(service, pod)
    ip = next((ip for fam, ip in pod_ips(pod) if fam == family), None)
    if ip is None:
        return None
    address: JSON = {"ip": ip}
    if should_set_hostname(pod, service):
        address["hostname"] = spec_of(pod)["hostname"]
    if spec_of(pod).get("nodeName"):
        address["nodeName"] = spec_of(pod)["nodeName"]
    address["targetRef"] = pod_ref(pod)
    return address


def _address_sort_key(address: Mapping[str, Any]) -> tuple[str, str]:
    return str(address.get("ip")), str((address.get("targetRef") or {}).get("uid", ""))


def _repack(entries: Iterable[tuple[JSON | None, JSON, bool]]) -> list[JSON]:
    """kube's RepackSubsets: one subset per distinct set of addresses sharing the same
    ports; an address ready on a port in any input stays ready."""
    by_port: dict[str, tuple[JSON | None, dict[tuple[str, str], tuple[JSON, bool]]]] = {}
    for port, address, ready in entries:
        port_id = json.dumps(port, sort_keys=True) if port is not None else ""
        _, addresses = by_port.setdefault(port_id, (port, {}))
        key = _address_sort_key(address)
        previous = addresses.get(key)
        addresses[key] = (address, ready or (previous is not None and previous[1]))

    by_address_set: dict[str, tuple[list[JSON], dict[tuple[str, str], tuple[JSON, bool]]]] = {}
    for port, addresses in by_port.values():
        set_id = json.dumps(sorted((k, r) for k, (_, r) in addresses.items()))
        ports, _ = by_address_set.setdefault(set_id, ([], addresses))
        if port is not None:
            ports.append(port)

    subsets = []
    for ports, addresses in by_address_set.values():
        ordered = sorted(addresses.values(), key=lambda entry: _address_sort_key(entry[0]))
        subset: JSON = {}
        ready_addresses = [copy.deepcopy(a) for a, r in ordered if r]
        not_ready = [copy.deepcopy(a) for a, r in ordered if not r]
        if ready_addresses:
            subset["addresses"] = ready_addresses
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = sorted(
                ports, key=lambda p: (p.get("name", ""), p["port"], p.get("protocol", ""))
            )
        subsets.append(subset)
    return sorted(subsets, key=lambda s: json.dumps(s, sort_keys=True))


def _truncate(subsets: list[JSON], capacity: int) -> bool:
    """kube's truncateEndpoints: past ``capacity`` addresses, shrink each subset in
    proportion, keeping ready addresses before not-ready ones. True if anything was cut."""
    total_ready = sum(len(s.get("addresses", ())) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses", ())) for s in subsets)
    if total_ready + total_not_ready <= capacity:
        return False
    truncate_ready = total_ready > capacity
    field = "addresses" if truncate_ready else "notReadyAddresses"
    budget = capacity if truncate_ready else capacity - total_ready
    total = total_ready if truncate_ready else total_not_ready
    left = budget
    for subset in subsets:
        share = min(math.ceil(len(subset.get(field, ())) / total * budget), left)
        if field in subset:
            subset[field] = subset[field][:share]
            left -= len(subset[field])
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
    return True


def compute_endpoints(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    *,
    capacity: int = MAX_ENDPOINTS_CAPACITY,
) -> JSON:
    """The legacy ``v1/Endpoints`` object kube's Endpoints controller keeps for a Service
    with a selector (call only when ``wants_endpoint_slices``)."""
    meta = metadata_of(service)
    spec = spec_of(service)
    publish = bool(spec.get("publishNotReadyAddresses"))
    entries: list[tuple[JSON | None, JSON, bool]] = []
    for pod in pods:
        if not selects_pod(service, pod) or not is_endpoint_candidate(pod):
            continue
        if is_pod_terminating(pod) and not publish:
            continue
        address = _endpoints_address(pod, service)
        if address is None:
            continue
        ready = publish or is_pod_ready(pod)
        service_ports = spec.get("ports") or ()
        if not service_ports and spec.get("clusterIP") == "None":
            entries.append((None, address, ready))  # headless Services may omit ports
        for service_port in service_ports:
            number = resolve_target_port(pod, service_port)
            if number is not None:
                port = endpoint_port(service_port, number)
                if not port["name"]:
                    del port["name"]  # Endpoints ports omit an empty name
                entries.append((port, address, ready))

    subsets = _repack(entries)
    truncated = _truncate(subsets, capacity)
    labels = {k: v for k, v in labels_of(service).items() if k != HEADLESS_LABEL}
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    # Marks the object as controller-made, so mirroring never copies it back into slices.
    labels[SKIP_MIRROR_LABEL] = "true"
    metadata: JSON = {
        "name": meta.get("name"),
        "namespace": meta.get("namespace", ""),
        "labels": labels,
    }
    if truncated:
        metadata["annotations"] = {OVER_CAPACITY_ANNOTATION: "truncated"}
    endpoints: JSON = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata}
    if subsets:
        endpoints["subsets"] = subsets
    return endpoints
