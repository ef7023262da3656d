"""Desired EndpointSlices and Endpoints for a Service, computed without IO.

This module owns the rules of three Kubernetes controllers, rewritten as pure functions over
plain JSON dicts:

* the EndpointSlice controller (``compute_endpoint_slices``): pods selected by a Service
  become endpoints, grouped by address family and by the port numbers their named
  ``targetPort``\\s resolve to, at most 100 per slice;
* the EndpointSliceMirroring controller (``mirror_endpoint_slices``): a hand-made Endpoints
  object of a selector-less Service is mirrored into slices;
* the legacy Endpoints controller (``compute_endpoints``): the repacked ``subsets`` form that
  ``kubectl get endpoints`` shows.

Placement is churn-averse like kube's reconciler: an endpoint stays in the slice that already
holds it, freed room is refilled before new slices are made, and a slice that would be
deleted is recycled (renamed into) when another of its address type is needed. Because the
store has no ``generateName``, new slices get deterministic names (``{service}-{5 chars}``)
derived from a hash, so recomputing the same state yields the same names.

``diff_endpoint_slices`` and ``plan_endpoints`` compare only the fields these controllers own,
so store-managed metadata (uid, resourceVersion, creationTimestamp) and foreign annotations
never cause an update.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
HEADLESS_LABEL = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
# kube's own controller names, so kubectl, kube-proxy-style consumers and humans recognise
# the slices; kubegate is the only writer of a kubegate store, so nothing competes for them.
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MIRRORING_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
_MIRROR_DROPPED_ANNOTATIONS = frozenset(
    {
        "endpoints.kubernetes.io/last-change-trigger-time",
        "kubectl.kubernetes.io/last-applied-configuration",
    }
)

MAX_ENDPOINTS_PER_SLICE = 100  # kube-controller-manager --max-endpoints-per-slice default
MAX_ENDPOINTS_PER_SUBSET = 1000  # --mirroring-max-endpoints-per-subset default
MAX_ENDPOINTS_CAPACITY = 1000  # legacy Endpoints objects are truncated past this

IPV4 = "IPv4"
IPV6 = "IPv6"
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's generateName alphabet
_MAX_PREFIX = 58  # 63 minus the 5-character suffix, as SimpleNameGenerator truncates


# --------------------------------------------------------------------------- small readers


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def service_selector(service: Mapping[str, Any]) -> dict[str, str]:
    """The Service's selector; empty when it has none (``{}`` counts as none)."""
    return dict(_spec(service).get("selector") or {})


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Equality-based match: every selector label is present with the same value."""
    return all(labels.get(key) == value for key, value in selector.items())


def wants_endpoint_slices(service: Mapping[str, Any]) -> bool:
    """Whether the EndpointSlice controller manages endpoints for this Service."""
    spec = _spec(service)
    return bool(service_selector(service)) and spec.get("type") != "ExternalName"


def selects_pod(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether ``pod`` is in the Service's namespace and matches its selector."""
    return (
        wants_endpoint_slices(service)
        and _meta(pod).get("namespace", "") == _meta(service).get("namespace", "")
        and selector_matches(service_selector(service), _labels(pod))
    )


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's ``Ready`` condition is ``True``."""
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool(_meta(pod).get("deletionTimestamp"))


def _canonical_ip(text: object) -> tuple[str, str] | None:
    """``(address_type, normalised ip)``, or None for anything that is not an IP."""
    if not isinstance(text, str):
        return None
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return (IPV6 if ip.version == 6 else IPV4), str(ip)


def pod_ips(pod: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The pod's IPs as ``(address_type, ip)``: ``status.podIPs``, else ``status.podIP``."""
    status = pod.get("status") or {}
    raw = [entry.get("ip") for entry in status.get("podIPs") or () if isinstance(entry, Mapping)]
    if not raw and status.get("podIP"):
        raw = [status["podIP"]]
    found = [parsed for parsed in map(_canonical_ip, raw) if parsed is not None]
    return list(dict.fromkeys(found))


def _is_headless(service: Mapping[str, Any]) -> bool:
    return _spec(service).get("clusterIP") in (None, "", "None")


def address_types(service: Mapping[str, Any]) -> list[str]:
    """Address families served, primary first: ``spec.ipFamilies``, else the ClusterIP's
    family, else both (kube's rule for headless Services without families)."""
    spec = _spec(service)
    families = [f for f in spec.get("ipFamilies") or () if f in (IPV4, IPV6)]
    if families:
        return list(dict.fromkeys(families))
    if not _is_headless(service):
        parsed = _canonical_ip(spec.get("clusterIP"))
        return [parsed[0] if parsed else IPV4]
    return [IPV4, IPV6]


# --------------------------------------------------------------------------- ports


def _container_ports(pod: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    spec = _spec(pod)
    for container in spec.get("containers") or ():
        yield from container.get("ports") or ()
    # Sidecars (init containers that keep running) expose ports too, as in kube's FindPort.
    for container in spec.get("initContainers") or ():
        if container.get("restartPolicy") == "Always":
            yield from container.get("ports") or ()


def resolve_target_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """The pod-side port number of a Service port: an int ``targetPort`` as is, a named one
    looked up among the pod's container ports with the same protocol, default ``port``."""
    target = service_port.get("targetPort")
    if target in (None, 0, ""):
        target = service_port.get("port")
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    protocol = service_port.get("protocol") or "TCP"
    for port in _container_ports(pod):
        if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
            number = port.get("containerPort")
            return number if isinstance(number, int) else None
    return None


def _endpoint_port(service_port: Mapping[str, Any], number: int) -> JSON:
    port: JSON = {
        "name": service_port.get("name") or "",
        "port": number,
        "protocol": service_port.get("protocol") or "TCP",
    }
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def endpoint_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[JSON]:
    """The slice ports for one pod: Service ports whose targetPort resolves in that pod."""
    ports = []
    for service_port in _spec(service).get("ports") or ():
        number = resolve_target_port(pod, service_port)
        if number is not None:
            ports.append(_endpoint_port(service_port, number))
    return ports


def _ports_key(ports: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(sorted(json.dumps(p, sort_keys=True) for p in ports))


# --------------------------------------------------------------------------- endpoints


def _should_set_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    spec = _spec(pod)
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == _meta(service).get("name")
        and _meta(pod).get("namespace") == _meta(service).get("namespace")
    )


def _pod_ref(pod: Mapping[str, Any]) -> JSON:
    meta = _meta(pod)
    ref: JSON = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta.get("name")}
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def pod_to_endpoint(
    pod: Mapping[str, Any], service: Mapping[str, Any], address_type: str, zone: str | None = None
) -> JSON:
    """One slice endpoint for ``pod`` (its addresses of ``address_type`` only)."""
    serving = is_pod_ready(pod)
    terminating = _is_terminating(pod)
    publish = bool(_spec(service).get("publishNotReadyAddresses"))
    # kube: a terminating pod is never "ready" unless the Service publishes unready addresses.
    ready = publish or (serving and not terminating)
    endpoint: JSON = {
        "addresses": [ip for family, ip in pod_ips(pod) if family == address_type],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": _pod_ref(pod),
    }
    if _spec(pod).get("nodeName"):
        endpoint["nodeName"] = _spec(pod)["nodeName"]
    if zone:
        endpoint["zone"] = zone
    if _should_set_hostname(pod, service):
        endpoint["hostname"] = _spec(pod)["hostname"]
    return endpoint


def _endpoint_identity(endpoint: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two endpoints "the same" for placement (kube's endpoint hash)."""
    ref = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or ())),
        endpoint.get("hostname", ""),
        ref.get("namespace", ""),
        ref.get("name", ""),
    )


def _is_endpoint_candidate(pod: Mapping[str, Any]) -> bool:
    # Terminating pods stay (flagged terminating=true); terminal or IP-less pods never do.
    return not _is_terminal(pod) and bool(pod_ips(pod))


# --------------------------------------------------------------------------- naming


def _slice_prefix(name: str) -> str:
    return f"{name}-"[:_MAX_PREFIX]


class _Reserved:
    """Names not to use: a caller's (possibly large, lazily checked) container plus the
    ones reserved here. Never copies the caller's container (it may hold a namespace's
    every slice name, and copying it per Service made reconciling quadratic)."""

    __slots__ = ("_base", "_extra")

    def __init__(self, base: Container[str], extra: Iterable[str] = ()) -> None:
        self._base = base
        self._extra = set(extra)

    def __contains__(self, name: object) -> bool:
        return name in self._extra or name in self._base

    def add(self, name: str) -> None:
        self._extra.add(name)


def _generated_name(prefix: str, seed: str, taken: _Reserved) -> str:
    """A deterministic ``generateName``-style name not in ``taken`` (and reserve it)."""
    attempt = 0
    while True:
        digest = hashlib.sha256(f"{seed}#{attempt}".encode()).digest()
        suffix = "".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in digest[:5])
        name = prefix + suffix
        if name not in taken:
            taken.add(name)
            return name
        attempt += 1


def _owner_ref(api_version: str, kind: str, owner: Mapping[str, Any]) -> JSON:
    meta = _meta(owner)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.get("name"),
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned_by(
    obj: Mapping[str, Any], api_version: str, kind: str, owner: Mapping[str, Any]
) -> bool:
    uid = _meta(owner).get("uid", "")
    return any(
        ref.get("apiVersion") == api_version
        and ref.get("kind") == kind
        and ref.get("uid", "") == uid
        for ref in _meta(obj).get("ownerReferences") or ()
    )


# --------------------------------------------------------------------------- placement


@dataclass(slots=True)
class _Group:
    """Desired endpoints sharing one address type and one resolved port set."""

    address_type: str
    ports: list[JSON]
    endpoints: dict[tuple[Any, ...], JSON]


@dataclass(slots=True)
class _Placed:
    """A slice-to-be: its name (None until one is assigned) and its endpoints."""

    name: str | None
    address_type: str
    ports: list[JSON]
    endpoints: list[JSON]


def _slice_key(slice_: Mapping[str, Any]) -> tuple[str, str]:
    return str(slice_.get("addressType", "")), _ports_key(slice_.get("ports") or ())


def _place_group(
    group: _Group, slices: Sequence[JSON], limit: int
) -> tuple[list[_Placed], list[JSON]]:
    """Kube's reconcileByPortMapping: keep endpoints where they already live, refill the
    slices that change anyway, then top up the unchanged slice that fits best, and only then
    open new slices. Returns the placed slices and the existing ones left empty."""
    remaining = dict(group.endpoints)
    changed: list[_Placed] = []
    unchanged: list[_Placed] = []
    freed: list[JSON] = []
    for slice_ in slices:
        current = list(slice_.get("endpoints") or ())
        kept = []
        for endpoint in current:
            identity = _endpoint_identity(endpoint)
            if identity in remaining:
                kept.append(remaining.pop(identity))
        if not kept:
            freed.append(slice_)
            continue
        placed = _Placed(_meta(slice_).get("name"), group.address_type, group.ports, kept)
        (changed if kept != current else unchanged).append(placed)

    queue = [remaining[identity] for identity in sorted(remaining)]
    changed.sort(key=lambda p: (-len(p.endpoints), p.name or ""))
    for placed in changed:
        room = max(limit - len(placed.endpoints), 0)
        placed.endpoints.extend(queue[:room])
        del queue[:room]

    fresh: list[_Placed] = []
    while queue:
        target = None
        if len(queue) < limit:
            fitting = [p for p in unchanged if len(p.endpoints) + len(queue) <= limit]
            if fitting:
                # The slice that ends up closest to full, as kube's getSliceToFill picks.
                target = max(fitting, key=lambda p: (len(p.endpoints), p.name or ""))
                unchanged.remove(target)
                changed.append(target)
        if target is None:
            target = _Placed(None, group.address_type, group.ports, [])
            fresh.append(target)
        room = limit - len(target.endpoints)
        target.endpoints.extend(queue[:room])
        del queue[:room]
    return changed + unchanged + fresh, freed


def _assign_names(
    placed: Iterable[_Placed], freed: Iterable[JSON], prefix: str, seed: str, taken: _Reserved
) -> None:
    """Name new slices: recycle a freed slice of the same address type (an update instead of
    a delete plus a create, as kube's finalize does), else derive a fresh name. ``freed`` is
    taken in the order given."""
    recyclable: dict[str, list[str]] = {}
    for slice_ in freed:
        recyclable.setdefault(str(slice_.get("addressType")), []).append(_meta(slice_)["name"])
    for index, item in enumerate(p for p in placed if p.name is None):
        pool = recyclable.get(item.address_type)
        if pool:
            item.name = pool.pop(0)
        else:
            ports = _ports_key(item.ports)
            item.name = _generated_name(
                prefix, f"{seed}/{item.address_type}/{ports}/{index}", taken
            )


# --------------------------------------------------------------------------- slices

_RESERVED_SLICE_LABELS = frozenset({SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL})


def _controller_slice(service: Mapping[str, Any], placed: _Placed) -> JSON:
    meta = _meta(service)
    labels = {k: v for k, v in _labels(service).items() if k not in _RESERVED_SLICE_LABELS}
    if _is_headless(service):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = meta.get("name", "")
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": placed.name,
            "namespace": meta.get("namespace", ""),
            "labels": labels,
            "ownerReferences": [_owner_ref("v1", "Service", service)],
        },
        "addressType": placed.address_type,
        "endpoints": copy.deepcopy(placed.endpoints),
        "ports": copy.deepcopy(placed.ports),
    }


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
    groups: dict[tuple[str, str], _Group] = {}
    for pod in sorted(pods, key=lambda p: str(_meta(p).get("name"))):
        if not selects_pod(service, pod) or not _is_endpoint_candidate(pod):
            continue
        ports = endpoint_ports(service, pod)
        zone = zones.get(str(_spec(pod).get("nodeName", "")))
        for address_type in types:
            endpoint = pod_to_endpoint(pod, service, address_type, zone)
            if endpoint["addresses"]:
                key = (address_type, _ports_key(ports))
                group = groups.setdefault(key, _Group(address_type, ports, {}))
                group.endpoints[_endpoint_identity(endpoint)] = endpoint

    # Slices of another incarnation of the Service, or of a family it no longer serves,
    # are never reused: the diff deletes them.
    reusable = sorted(
        (
            s
            for s in existing
            if _owned_by(s, "v1", "Service", service) and s.get("addressType") in types
        ),
        key=lambda s: str(_meta(s).get("name")),
    )
    by_key: dict[tuple[str, str], list[JSON]] = {}
    for slice_ in reusable:
        by_key.setdefault(_slice_key(slice_), []).append(slice_)

    placed: list[_Placed] = []
    freed = [s for key, slices in by_key.items() if key not in groups for s in slices]
    for key in sorted(groups):
        group_placed, group_freed = _place_group(
            groups[key], by_key.get(key, []), max_endpoints_per_slice
        )
        placed += group_placed
        freed += group_freed
    freed.sort(key=lambda s: str(_meta(s).get("name")))
    if not placed:
        # kube keeps one empty "placeholder" slice so consumers can tell "no endpoints" from
        # "not yet reconciled". We keep it for the primary family only, reusing a slice that
        # already is such a placeholder when there is one.
        freed.sort(key=lambda s: bool(s.get("endpoints") or s.get("ports")))
        placed = [_Placed(None, types[0], [], [])]

    meta = _meta(service)
    taken = _Reserved(taken_names, (str(_meta(s).get("name")) for s in existing))
    seed = f"{CONTROLLER_NAME}/{meta.get('namespace')}/{meta.get('name')}/{meta.get('uid', '')}"
    _assign_names(placed, freed, _slice_prefix(str(meta.get("name", ""))), seed, taken)
    slices = [_controller_slice(service, p) for p in placed]
    return sorted(slices, key=lambda s: str(s["metadata"]["name"]))


# --------------------------------------------------------------------------- mirroring


def should_mirror(service: Mapping[str, Any] | None, endpoints: Mapping[str, Any] | None) -> bool:
    """Whether kube's EndpointSliceMirroring controller would mirror ``endpoints``: its
    Service exists without a selector, and it is neither marked skip-mirror nor a
    leader-election record."""
    if service is None or endpoints is None or service_selector(service):
        return False
    if _labels(endpoints).get(SKIP_MIRROR_LABEL) == "true":
        return False
    return LEADER_ANNOTATION not in (_meta(endpoints).get("annotations") or {})


def _mirrored_endpoint(address: Mapping[str, Any], ip: str, ready: bool) -> JSON:
    endpoint: JSON = {"addresses": [ip], "conditions": {"ready": ready}}
    if address.get("targetRef"):
        endpoint["targetRef"] = copy.deepcopy(address["targetRef"])
    if address.get("nodeName"):
        endpoint["nodeName"] = address["nodeName"]
    if address.get("hostname"):
        endpoint["hostname"] = address["hostname"]
    return endpoint


def _mirrored_port(port: Mapping[str, Any]) -> JSON:
    mirrored: JSON = {
        "name": port.get("name") or "",
        "port": port.get("port"),
        "protocol": port.get("protocol") or "TCP",
    }
    if port.get("appProtocol"):
        mirrored["appProtocol"] = port["appProtocol"]
    return mirrored


def _mirrored_slice(endpoints: Mapping[str, Any], placed: _Placed) -> JSON:
    meta = _meta(endpoints)
    labels = _labels(endpoints)
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
        "ownerReferences": [_owner_ref("v1", "Endpoints", endpoints)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata,
        "addressType": placed.address_type,
        "endpoints": copy.deepcopy(placed.endpoints),
        "ports": copy.deepcopy(placed.ports),
    }


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
    groups: dict[tuple[str, str], _Group] = {}
    for subset in endpoints.get("subsets") or ():
        ports = [_mirrored_port(p) for p in subset.get("ports") or ()]
        addresses = [(a, True) for a in subset.get("addresses") or ()]
        addresses += [(a, False) for a in subset.get("notReadyAddresses") or ()]
        mirrored = 0
        for address, ready in addresses:
            parsed = _canonical_ip(address.get("ip"))
            if parsed is None:
                continue
            if mirrored >= max_endpoints_per_subset:
                break
            mirrored += 1
            address_type, ip = parsed
            group = groups.setdefault(
                (address_type, _ports_key(ports)), _Group(address_type, ports, {})
            )
            endpoint = _mirrored_endpoint(address, ip, ready)
            identity = _endpoint_identity(endpoint)
            previous = group.endpoints.get(identity)
            if previous is None or (ready and not previous["conditions"]["ready"]):
                group.endpoints[identity] = endpoint

    by_key: dict[tuple[str, str], list[JSON]] = {}
    for slice_ in sorted(existing, key=lambda s: str(_meta(s).get("name"))):
        by_key.setdefault(_slice_key(slice_), []).append(slice_)
    placed: list[_Placed] = []
    freed = [s for key, slices in by_key.items() if key not in groups for s in slices]
    for key in sorted(groups):
        group = groups[key]
        chosen = [group.endpoints[i] for i in sorted(group.endpoints)][:max_endpoints_per_subset]
        current = by_key.get(key, [])
        name = _meta(current[0]).get("name") if current else None
        freed += current[1:]
        placed.append(_Placed(name, group.address_type, group.ports, chosen))
    freed.sort(key=lambda s: str(_meta(s).get("name")))

    meta = _meta(endpoints)
    taken = _Reserved(taken_names, (str(_meta(s).get("name")) for s in existing))
    seed = f"{MIRRORING_CONTROLLER_NAME}/{meta.get('namespace')}/{meta.get('name')}"
    _assign_names(placed, freed, _slice_prefix(str(meta.get("name", ""))), seed, taken)
    slices = [_mirrored_slice(endpoints, p) for p in placed]
    return sorted(slices, key=lambda s: str(s["metadata"]["name"]))


# --------------------------------------------------------------------------- legacy Endpoints


def _endpoints_family(service: Mapping[str, Any], pod: Mapping[str, Any]) -> str | None:
    """The one family a legacy Endpoints object lists: the Service's primary family; for
    headless Services without families, the family of the pod's first IP."""
    spec = _spec(service)
    families = spec.get("ipFamilies") or ()
    if families:
        return str(families[0])
    if not _is_headless(service):
        parsed = _canonical_ip(spec.get("clusterIP"))
        return parsed[0] if parsed else IPV4
    ips = pod_ips(pod)
    return ips[0][0] if ips else None


def _endpoints_address(pod: Mapping[str, Any], service: Mapping[str, Any]) -> JSON | None:
    family = _endpoints_family(service, pod)
    ip = next((ip for fam, ip in pod_ips(pod) if fam == family), None)
    if ip is None:
        return None
    address: JSON = {"ip": ip}
    if _should_set_hostname(pod, service):
        address["hostname"] = _spec(pod)["hostname"]
    if _spec(pod).get("nodeName"):
        address["nodeName"] = _spec(pod)["nodeName"]
    address["targetRef"] = _pod_ref(pod)
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
    meta = _meta(service)
    spec = _spec(service)
    publish = bool(spec.get("publishNotReadyAddresses"))
    entries: list[tuple[JSON | None, JSON, bool]] = []
    for pod in pods:
        if not selects_pod(service, pod) or not _is_endpoint_candidate(pod):
            continue
        if _is_terminating(pod) and not publish:
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
                port = _endpoint_port(service_port, number)
                if not port["name"]:
                    del port["name"]  # Endpoints ports omit an empty name
                entries.append((port, address, ready))

    subsets = _repack(entries)
    truncated = _truncate(subsets, capacity)
    labels = {k: v for k, v in _labels(service).items() if k != HEADLESS_LABEL}
    if _is_headless(service):
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


# --------------------------------------------------------------------------- diffs


@dataclass(frozen=True, slots=True)
class SliceDiff:
    """Writes that turn the existing slices into the desired ones. Updates are full objects
    built on the stored ones, so they keep uid, creationTimestamp and resourceVersion."""

    to_create: tuple[JSON, ...] = ()
    to_update: tuple[JSON, ...] = ()
    to_delete: tuple[JSON, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.to_create or self.to_update or self.to_delete)


def _set_or_drop(target: JSON, key: str, value: Any) -> None:
    # Absent and empty are the same to Kubernetes clients; never churn between them.
    if value in (None, {}, []):
        target.pop(key, None)
    else:
        target[key] = copy.deepcopy(value)


def _merge_slice(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> JSON:
    merged = copy.deepcopy(dict(existing))
    for field in ("apiVersion", "kind", "addressType"):
        merged[field] = desired[field]
    for field in ("endpoints", "ports"):
        merged[field] = copy.deepcopy(desired.get(field) or [])
    meta = merged.setdefault("metadata", {})
    wanted = _meta(desired)
    meta["labels"] = dict(wanted.get("labels") or {})
    meta["ownerReferences"] = copy.deepcopy(wanted.get("ownerReferences") or [])
    if wanted.get("labels", {}).get(MANAGED_BY_LABEL) == MIRRORING_CONTROLLER_NAME:
        _set_or_drop(meta, "annotations", wanted.get("annotations"))  # mirrored wholesale
    return merged


def diff_endpoint_slices(desired: Iterable[JSON], existing: Iterable[JSON]) -> SliceDiff:
    """Match slices by name: create the new, update those whose owned fields differ, delete
    the rest. Only labels, ownerReferences, (for mirrored slices) annotations, addressType,
    endpoints and ports are compared."""
    current = {str(_meta(s).get("name")): s for s in existing}
    to_create, to_update = [], []
    for slice_ in desired:
        stored = current.pop(str(_meta(slice_).get("name")), None)
        if stored is None:
            to_create.append(copy.deepcopy(slice_))
            continue
        merged = _merge_slice(slice_, stored)
        if merged != stored:
            to_update.append(merged)
    to_delete = [current[name] for name in sorted(current)]
    return SliceDiff(tuple(to_create), tuple(to_update), tuple(to_delete))


def plan_endpoints(desired: Mapping[str, Any], existing: Mapping[str, Any] | None) -> JSON | None:
    """The Endpoints object to write (built on ``existing`` when there is one), or None when
    labels, subsets and the over-capacity annotation already match."""
    if existing is None:
        return copy.deepcopy(dict(desired))
    merged = copy.deepcopy(dict(existing))
    merged["apiVersion"], merged["kind"] = desired["apiVersion"], desired["kind"]
    meta = merged.setdefault("metadata", {})
    meta["labels"] = dict(_meta(desired).get("labels") or {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(OVER_CAPACITY_ANNOTATION, None)
    annotations.update(_meta(desired).get("annotations") or {})
    _set_or_drop(meta, "annotations", annotations)
    _set_or_drop(merged, "subsets", desired.get("subsets"))
    return None if merged == existing else merged
