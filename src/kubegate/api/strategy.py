"""Per-kind create/update strategies: metadata bookkeeping and defaults.

What kube's registry strategies (PrepareForCreate, PrepareForUpdate, defaulting) do for
the kinds kubegate serves, as plain functions over JSON dicts. Allocation of ClusterIPs
and NodePorts needs the store and lives in ``server/allocators.py``.
"""

from __future__ import annotations

import base64
import copy
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from kubegate.errors import BadRequest

JSON = dict[str, Any]

# Kinds whose status is only written through the status subresource.
STATUS_SUBRESOURCE_KINDS = {"Pod", "Service", "Node", "Namespace"}
# Kinds with a spec whose changes bump metadata.generation.
_GENERATION_FIELD = {"Service": "spec", "Pod": "spec", "Node": "spec", "Namespace": "spec"}
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apiserver names.SimpleNameGenerator


def now_rfc3339(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(base: str) -> str:
    base = base[: 63 - 5]
    return base + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def prepare_create(kind: str, obj: JSON, *, namespace: str, now: datetime | None = None) -> JSON:
    """Fill server-owned metadata and defaults for a new object (in place; returns it)."""
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be an object")
    if namespace:
        given = meta.get("namespace")
        if given and given != namespace:
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = generate_name(str(meta["generateName"]))
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_rfc3339(now)
    for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        meta.pop(field, None)
    if kind in _GENERATION_FIELD:
        meta["generation"] = 1
    apply_defaults(kind, obj)
    if kind in STATUS_SUBRESOURCE_KINDS and kind not in ("Node", "Pod"):
        # Status of a Service or Namespace is the server's to set, not the creator's.
        obj.pop("status", None)
        apply_status_defaults(kind, obj)
    return obj


def prepare_update(kind: str, new: JSON, old: JSON) -> JSON:
    """Carry server-owned fields from ``old`` into an update of the main resource."""
    meta = new.setdefault("metadata", {})
    old_meta = old["metadata"]
    for field in ("uid", "creationTimestamp", "deletionTimestamp", "namespace", "generation"):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    apply_defaults(kind, new)
    if kind == "Service":
        _carry_service_allocations(new, old)
    if kind in STATUS_SUBRESOURCE_KINDS:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    spec_field = _GENERATION_FIELD.get(kind)
    if spec_field and new.get(spec_field) != old.get(spec_field):
        meta["generation"] = int(old_meta.get("generation", 1)) + 1
    return new


def _carry_service_allocations(new: JSON, old: JSON) -> None:
    """An update that omits allocated values keeps them (kube's service storage does so)."""
    spec, old_spec = new.get("spec"), old.get("spec") or {}
    if (
        not isinstance(spec, dict)
        or spec.get("type") == "ExternalName"
        or old_spec.get("type") == "ExternalName"
    ):
        return
    for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        if not spec.get(field) and old_spec.get(field):
            spec[field] = copy.deepcopy(old_spec[field])
    old_node_ports = {
        (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
        for p in old_spec.get("ports") or []
        if isinstance(p, dict) and p.get("nodePort")
    }
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and not port.get("nodePort"):
                allocated = old_node_ports.get((port.get("port"), port.get("protocol", "TCP")))
                if allocated:
                    port["nodePort"] = allocated


def prepare_status_update(kind: str, new: JSON, old: JSON) -> JSON:
    """A status-subresource write changes only ``status`` (metav1.ResetObjectMetaForStatus)."""
    result = copy.deepcopy(old)
    result["metadata"]["resourceVersion"] = new.get("metadata", {}).get("resourceVersion", "")
    if "status" in new:
        result["status"] = new["status"]
    else:
        result.pop("status", None)
    return result


def apply_defaults(kind: str, obj: JSON) -> None:
    fn = _DEFAULTERS.get(kind)
    if fn:
        fn(obj)


def apply_status_defaults(kind: str, obj: JSON) -> None:
    if kind == "Namespace":
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind == "Service":
        obj.setdefault("status", {}).setdefault("loadBalancer", {})


def _namespace(obj: JSON) -> None:
    meta = obj["metadata"]
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        labels = meta["labels"] = {}
    labels["kubernetes.io/metadata.name"] = meta.get("name", "")
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("finalizers", ["kubernetes"])


def _service(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    if spec["type"] == "ExternalName":
        return
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def _image_pull_policy(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    if ":" not in tail or tail.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _containers(spec: JSON, field: str) -> None:
    for container in spec.get(field) or []:
        if not isinstance(container, dict):
            continue
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        if isinstance(container.get("image"), str):
            container.setdefault("imagePullPolicy", _image_pull_policy(container["image"]))
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _pod(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    _containers(spec, "containers")
    _containers(spec, "initContainers")
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", "BestEffort")


def _secret(obj: JSON) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _ports_protocol(obj: JSON) -> None:
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def _endpoints(obj: JSON) -> None:
    for subset in obj.get("subsets") or []:
        if isinstance(subset, dict):
            _ports_protocol(subset)


def _endpointslice(obj: JSON) -> None:
    _ports_protocol(obj)
    for endpoint in obj.get("endpoints") or []:
        if isinstance(endpoint, dict):
            endpoint.setdefault("conditions", {})


_DEFAULTERS = {
    "Namespace": _namespace,
    "Service": _service,
    "Pod": _pod,
    "Secret": _secret,
    "Endpoints": _endpoints,
    "EndpointSlice": _endpointslice,
}
