"""Desired EndpointSlices for a Service with a selector, computed without IO.

This module owns the rules of kube's EndpointSlice controller, rewritten as a pure function
over plain JSON dicts (``compute_endpoint_slices``): pods selected by a Service become
endpoints, grouped by address family and by the port numbers their named ``targetPort``\\s
resolve to, at most 100 per slice. Placement and naming are churn-averse and deterministic
(``core/slice_placement.py``).

Its neighbours: what is read from Services and Pods (``core/endpoint_inputs.py``), kube's
label and controller names (``core/endpoint_labels.py``), the slices mirrored from hand-made
Endpoints (``core/endpointslice_mirroring.py``), the legacy Endpoints object
(``core/legacy_endpoints.py``), and the diffs that turn desired objects into writes
(``core/endpoint_diffs.py``).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Any

from kubegate.core.endpoint_inputs import (
    address_types,
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
    wants_endpoint_slices,
)
from kubegate.core.endpoint_labels import (
    CONTROLLER_NAME,
    HEADLESS_LABEL,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
)
from kubegate.core.slice_placement import (
    EndpointGroup,
    PlacedSlice,
    SliceKey,
    assign_names,
    endpoint_identity,
    is_owned_by,
    owner_ref,
    place_group,
    ports_key,
    slice_object,
    slices_by_key,
)

JSON = dict[str, Any]

MAX_ENDPOINTS_PER_SLICE = 100  # kube-controller-manager --max-endpoints-per-slice default

_RESERVED_SLICE_LABELS = frozenset({SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL})


def endpoint_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[JSON]:
    """The slice ports for one pod: Service ports whose targetPort resolves in that pod."""
    ports = []
    for service_port in spec_of(service).get("ports") or ():
        number = resolve_target_port(pod, service_port)
        if number is not None:
            ports.append(endpoint_port(service_port, number))
    return ports


def pod_to_endpoint(
    pod: Mapping[str, Any], service: Mapping[str, Any], address_type: str, zone: str | None = None
) -> JSON:
    """One slice endpoint for ``pod`` (its addresses of ``address_type`` only)."""
    serving = is_pod_ready(pod)
    terminating = is_pod_terminating(pod)
    publish = bool(spec_of(service).get("publishNotReadyAddresses"))
    # kube: a terminating pod is never "ready" unless the Service publishes unready addresses.
    ready = publish or (serving and not terminating)
    endpoint: JSON = {
        "addresses": [ip for family, ip in pod_ips(pod) if family == address_type],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": pod_ref(pod),
    }
    if spec_of(pod).get("nodeName"):
        endpoint["nodeName"] = spec_of(pod)["nodeName"]
    if zone:
        endpoint["zone"] = zone
    if should_set_hostname(pod, service):
        endpoint["hostname"] = spec_of(pod)["hostname"]
    return endpoint


def _controller_slice(service: Mapping[str, Any], placed: PlacedSlice) -> JSON:
    meta = metadata_of(service)
    labels = {k: v for k, v in labels_of(service).items() if k not in _RESERVED_SLICE_LABELS}
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = meta.get("name", "")
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    metadata: JSON = {
        "name": placed.name,
        "namespace": meta.get("namespace", ""),
        "labels": labels,
        "ownerReferences": [owner_ref("v1", "Service", service)],
    }
    return slice_object(placed, metadata)


def compute_endpoint_slices(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    *,
    existing: Sequence[JSON] = (),
    node_zones: Mapping[str, str] | None = None,
    taken_names: Container[str] = (),
    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
) -> list[JSON]:
    """The complete desired set of controller-managed slices for ``service``.

    ``existing`` are the slices currently labelled as this controller's for this Service;
    their names are reused so endpoints do not move. ``taken_names`` are other slice names
    in the namespace that new names must avoid. ``node_zones`` maps node name to its
    ``topology.kubernetes.io/zone``. Returns ``[]`` for Services the controller ignores.
    """
    if not wants_endpoint_slices(service):
        return []
    types = address_types(service)
    zones = node_zones or {}
    groups: dict[SliceKey, EndpointGroup] = {}
    for pod in sorted(pods, key=lambda p: str(metadata_of(p).get("name"))):
        if not selects_pod(service, pod) or not is_endpoint_candidate(pod):
            continue
        ports = endpoint_ports(service, pod)
        zone = zones.get(str(spec_of(pod).get("nodeName", "")))
        for address_type in types:
            endpoint = pod_to_endpoint(pod, service, address_type, zone)
            if endpoint["addresses"]:
                key = (address_type, ports_key(ports))
                group = groups.setdefault(key, EndpointGroup(address_type, ports, {}))
                group.endpoints[endpoint_identity(endpoint)] = endpoint

    # Slices of another incarnation of the Service, or of a family it no longer serves,
    # are never reused: the diff deletes them.
    by_key = slices_by_key(
        s
        for s in existing
        if is_owned_by(s, "v1", "Service", service) and s.get("addressType") in types
    )
    placed: list[PlacedSlice] = []
    freed = [s for key, slices in by_key.items() if key not in groups for s in slices]
    for key in sorted(groups):
        group_placed, group_freed = place_group(
            groups[key], by_key.get(key, []), max_endpoints_per_slice
        )
        placed += group_placed
        freed += group_freed
    freed.sort(key=lambda s: str(metadata_of(s).get("name")))
    if not placed:
        # kube keeps one empty "placeholder" slice so consumers can tell "no endpoints" from
        # "not yet reconciled". We keep it for the primary family only, reusing a slice that
        # already is such a placeholder when there is one.
        freed.sort(key=lambda s: bool(s.get("endpoints") or s.get("ports")))
        placed = [PlacedSlice(None, types[0], [], [])]

    meta = metadata_of(service)
    assign_names(
        placed,
        freed,
        owner_name=str(meta.get("name", "")),
        seed=f"{CONTROLLER_NAME}/{meta.get('namespace')}/{meta.get('name')}/{meta.get('uid', '')}",
        existing=existing,
        taken_names=taken_names,
    )
    slices = [_controller_slice(service, p) for p in placed]
    return sorted(slices, key=lambda s: str(s["metadata"]["name"]))
