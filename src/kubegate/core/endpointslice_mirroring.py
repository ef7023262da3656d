"""EndpointSlices mirrored from a hand-made Endpoints object, computed without IO.

This module owns the rules of kube's EndpointSliceMirroring controller: the Endpoints object
of a selector-less Service (which nothing else keeps endpoints for) is mirrored into slices,
one per distinct (address type, ports), so slice consumers see hand-managed backends too.
Naming shares the deterministic scheme of ``core/slice_placement.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Container, Mapping, Sequence
from typing import Any

from kubegate.core.endpoint_inputs import (
    canonical_ip,
    endpoint_port,
    labels_of,
    metadata_of,
    service_selector,
)
from kubegate.core.endpoint_labels import (
    LEADER_ANNOTATION,
    MANAGED_BY_LABEL,
    MIRRORING_CONTROLLER_NAME,
    SERVICE_NAME_LABEL,
    SKIP_MIRROR_LABEL,
)
from kubegate.core.slice_placement import (
    EndpointGroup,
    PlacedSlice,
    SliceKey,
    assign_names,
    endpoint_identity,
    owner_ref,
    ports_key,
    slice_object,
    slices_by_key,
)

JSON = dict[str, Any]

MAX_ENDPOINTS_PER_SUBSET = 1000  # --mirroring-max-endpoints-per-subset default

_MIRROR_DROPPED_ANNOTATIONS = frozenset(
    {
        "endpoints.kubernetes.io/last-change-trigger-time",
        "kubectl.kubernetes.io/last-applied-configuration",
    }
)


def should_mirror(service: Mapping[str, Any] | None, endpoints: Mapping[str, Any] | None) -> bool:
    """Whether kube's EndpointSliceMirroring controller would mirror ``endpoints``: its
    Service exists without a selector, and it is neither marked skip-mirror nor a
    leader-election record."""
    if service is None or endpoints is None or service_selector(service):
        return False
    if labels_of(endpoints).get(SKIP_MIRROR_LABEL) == "true":
        return False
    return LEADER_ANNOTATION not in (metadata_of(endpoints).get("annotations") or {})


def _mirrored_endpoint(address: Mapping[str, Any], ip: str, ready: bool) -> JSON:
    endpoint: JSON = {"addresses": [ip], "conditions": {"ready": ready}}
    if address.get("targetRef"):
        endpoint["targetRef"] = copy.deepcopy(address["targetRef"])
    if address.get("nodeName"):
        endpoint["nodeName"] = address["nodeName"]
    if address.get("hostname"):
        endpoint["hostname"] = address["hostname"]
    return endpoint


def _mirrored_slice(endpoints: Mapping[str, Any], placed: PlacedSlice) -> JSON:
    meta = metadata_of(endpoints)
    labels = labels_of(endpoints)
    labels[SERVICE_NAME_LABEL] = meta.get("name", "")
    labels[MANAGED_BY_LABEL] = MIRRORING_CONTROLLER_NAME
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k not in _MIRROR_DROPPED_ANNOTATIONS
    }
    metadata: JSON = {
        "name": placed.name,
        "namespace": meta.get("namespace", ""),
        "labels": labels,
        "ownerReferences": [owner_ref("v1", "Endpoints", endpoints)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return slice_object(placed, metadata)


def _mirrored_groups(
    endpoints: Mapping[str, Any], max_endpoints_per_subset: int
) -> dict[SliceKey, EndpointGroup]:
    """The endpoints of every subset, grouped by (address type, ports)."""
    groups: dict[SliceKey, EndpointGroup] = {}
    for subset in endpoints.get("subsets") or ():
        ports = [endpoint_port(p, p.get("port")) for p in subset.get("ports") or ()]
        addresses = [(a, True) for a in subset.get("addresses") or ()]
        addresses += [(a, False) for a in subset.get("notReadyAddresses") or ()]
        mirrored = 0
        for address, ready in addresses:
            parsed = canonical_ip(address.get("ip"))
            if parsed is None:
                continue
            if mirrored >= max_endpoints_per_subset:
                break
            mirrored += 1
            address_type, ip = parsed
            group = groups.setdefault(
                (address_type, ports_key(ports)), EndpointGroup(address_type, ports, {})
            )
            endpoint = _mirrored_endpoint(address, ip, ready)
            identity = endpoint_identity(endpoint)
            previous = group.endpoints.get(identity)
            if previous is None or (ready and not previous["conditions"]["ready"]):
                group.endpoints[identity] = endpoint
    return groups


def mirror_endpoint_slices(
    endpoints: Mapping[str, Any],
    *,
    existing: Sequence[JSON] = (),
    taken_names: Container[str] = (),
    max_endpoints_per_subset: int = MAX_ENDPOINTS_PER_SUBSET,
) -> list[JSON]:
    """The mirrored slices of a hand-made Endpoints object (check ``should_mirror`` first).

    Like kube, each distinct (address type, ports) gets exactly one slice, ``addresses``
    become ready endpoints and ``notReadyAddresses`` unready ones, invalid IPs are skipped
    and at most ``max_endpoints_per_subset`` addresses of a subset are mirrored.
    """
    groups = _mirrored_groups(endpoints, max_endpoints_per_subset)
    by_key = slices_by_key(existing)
    placed: list[PlacedSlice] = []
    freed = [s for key, slices in by_key.items() if key not in groups for s in slices]
    for key in sorted(groups):
        group = groups[key]
        chosen = [group.endpoints[i] for i in sorted(group.endpoints)][:max_endpoints_per_subset]
        current = by_key.get(key, [])
        name = metadata_of(current[0]).get("name") if current else None
        freed += current[1:]
        placed.append(PlacedSlice(name, group.address_type, group.ports, chosen))
    freed.sort(key=lambda s: str(metadata_of(s).get("name")))

    meta = metadata_of(endpoints)
    assign_names(
        placed,
        freed,
        owner_name=str(meta.get("name", "")),
        seed=f"{MIRRORING_CONTROLLER_NAME}/{meta.get('namespace')}/{meta.get('name')}",
        existing=existing,
        taken_names=taken_names,
    )
    slices = [_mirrored_slice(endpoints, p) for p in placed]
    return sorted(slices, key=lambda s: str(s["metadata"]["name"]))
