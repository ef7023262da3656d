"""What the endpoints controllers read from Services and Pods, as pure functions over JSON dicts.

Which pods a Service selects, whether a pod is ready, terminating or fit to be an endpoint,
its IPs by address family, the families a Service serves, and the pod-side port numbers its
``targetPort``\\s resolve to. The EndpointSlice rules (``core/endpointslices.py``) and the
legacy Endpoints rules (``core/legacy_endpoints.py``) both build on these, so the two views
of a Service's endpoints can never disagree about who is in them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

JSON = dict[str, Any]

IPV4 = "IPv4"
IPV6 = "IPv6"


# --------------------------------------------------------------------------- small readers


def metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj.metadata``, or an empty mapping when it is missing or not an object."""
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def spec_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj.spec``, or an empty mapping when it is missing or not an object."""
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """A copy of ``obj.metadata.labels`` (empty when there are none)."""
    return dict(metadata_of(obj).get("labels") or {})


# --------------------------------------------------------------------------- selection


def service_selector(service: Mapping[str, Any]) -> dict[str, str]:
    """The Service's selector; empty when it has none (``{}`` counts as none)."""
    return dict(spec_of(service).get("selector") or {})


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Equality-based match: every selector label is present with the same value."""
    return all(labels.get(key) == value for key, value in selector.items())


def wants_endpoint_slices(service: Mapping[str, Any]) -> bool:
    """Whether the EndpointSlice controller manages endpoints for this Service."""
    spec = spec_of(service)
    return bool(service_selector(service)) and spec.get("type") != "ExternalName"


def selects_pod(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether ``pod`` is in the Service's namespace and matches its selector."""
    return (
        wants_endpoint_slices(service)
        and metadata_of(pod).get("namespace", "") == metadata_of(service).get("namespace", "")
        and selector_matches(service_selector(service), labels_of(pod))
    )


# --------------------------------------------------------------------------- pod state


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's ``Ready`` condition is ``True``."""
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_pod_terminating(pod: Mapping[str, Any]) -> bool:
    """The pod has a ``deletionTimestamp`` (it is shutting down)."""
    return bool(metadata_of(pod).get("deletionTimestamp"))


def is_endpoint_candidate(pod: Mapping[str, Any]) -> bool:
    """Whether a selected pod can be an endpoint at all."""
    # Terminating pods stay (flagged terminating=true); terminal or IP-less pods never do.
    return not _is_terminal(pod) and bool(pod_ips(pod))


def pod_ref(pod: Mapping[str, Any]) -> JSON:
    """The ``targetRef`` pointing at ``pod``."""
    meta = metadata_of(pod)
    ref: JSON = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta.get("name")}
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def should_set_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    """kube publishes a pod's hostname when its ``subdomain`` names this Service."""
    spec = spec_of(pod)
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == metadata_of(service).get("name")
        and metadata_of(pod).get("namespace") == metadata_of(service).get("namespace")
    )


# --------------------------------------------------------------------------- addresses


def canonical_ip(text: object) -> tuple[str, str] | None:
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
    found = [parsed for parsed in map(canonical_ip, raw) if parsed is not None]
    return list(dict.fromkeys(found))


def is_headless(service: Mapping[str, Any]) -> bool:
    """The Service has no ClusterIP (``None``, empty or absent)."""
    return spec_of(service).get("clusterIP") in (None, "", "None")


def address_types(service: Mapping[str, Any]) -> list[str]:
    """Address families served, primary first: ``spec.ipFamilies``, else the ClusterIP's
    family, else both (kube's rule for headless Services without families)."""
    spec = spec_of(service)
    families = [f for f in spec.get("ipFamilies") or () if f in (IPV4, IPV6)]
    if families:
        return list(dict.fromkeys(families))
    if not is_headless(service):
        parsed = canonical_ip(spec.get("clusterIP"))
        return [parsed[0] if parsed else IPV4]
    return [IPV4, IPV6]


# --------------------------------------------------------------------------- ports


def _container_ports(pod: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    spec = spec_of(pod)
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


def endpoint_port(port: Mapping[str, Any], number: Any) -> JSON:
    """An endpoint port carrying ``port``'s name, protocol and appProtocol, numbered
    ``number`` (a Service port's resolved target, or an Endpoints port's own number)."""
    endpoint: JSON = {
        "name": port.get("name") or "",
        "port": number,
        "protocol": port.get("protocol") or "TCP",
    }
    if port.get("appProtocol"):
        endpoint["appProtocol"] = port["appProtocol"]
    return endpoint
