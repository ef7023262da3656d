"""Validation of Pods, ConfigMaps, Secrets, Namespaces, Nodes and Leases.

The rules are kube's (pkg/apis/core/validation, pkg/apis/coordination/validation), cut
down to what a proxy-oriented API server needs: container names, images and ports for
Pods; keys, sizes and type-specific keys for ConfigMaps and Secrets; and the update rules
that make Pod specs and ``immutable: true`` data read-only.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any, Final

from kubegate.api.validation_meta import (
    FIELD_IMMUTABLE,
    integer,
    invalid,
    mapping,
    sequence,
    string,
    too_long,
    validate_dns1123_label,
    validate_labels,
    validate_qualified_name,
)
from kubegate.api.validation_network import PROTOCOLS, validate_protocol
from kubegate.core import names
from kubegate.errors import FieldErrors

MAX_DATA_SIZE: Final = 1024 * 1024  # core.MaxSecretSize, also the ConfigMap limit
RESTART_POLICIES: Final = ["Always", "Never", "OnFailure"]
TAINT_EFFECTS: Final = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
_MAX_INT32: Final = 2**31 - 1

UPDATABLE_POD_SPEC_FIELDS: Final = ",".join(
    [
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    ]
)


# -- Pod ----------------------------------------------------------------------------


def _validate_container_ports(
    errs: FieldErrors, ports: list[Any], path: str, host_network: bool
) -> None:
    seen: set[str] = set()
    for i, port in enumerate(mapping(p) for p in ports):
        idx = f"{path}[{i}]"
        name = string(port.get("name"))
        if name:
            if msgs := names.is_valid_port_name(name):
                for msg in msgs:
                    errs.invalid(f"{idx}.name", name, msg)
            elif name in seen:
                errs.duplicate(f"{idx}.name", name)
            else:
                seen.add(name)
        container_port = integer(port.get("containerPort"))
        if container_port == 0:
            errs.required(f"{idx}.containerPort")
        else:
            for msg in names.is_valid_port_num(container_port):
                errs.invalid(f"{idx}.containerPort", container_port, msg)
        host_port = integer(port.get("hostPort"))
        if host_port:
            for msg in names.is_valid_port_num(host_port):
                errs.invalid(f"{idx}.hostPort", host_port, msg)
            if host_network and host_port != container_port:
                errs.invalid(
                    f"{idx}.hostPort",
                    host_port,
                    "must match `containerPort` when `hostNetwork` is true",
                )
        validate_protocol(errs, port.get("protocol"), f"{idx}.protocol")


def _validate_container(
    errs: FieldErrors, container: dict[str, Any], path: str, host_network: bool
) -> None:
    name = string(container.get("name"))
    if not name:
        errs.required(f"{path}.name")
    else:
        validate_dns1123_label(errs, name, f"{path}.name")
    image = string(container.get("image"))
    if not image:
        errs.required(f"{path}.image")
    elif image != image.strip():
        errs.invalid(f"{path}.image", image, "must not have leading or trailing whitespace")
    _validate_container_ports(errs, sequence(container.get("ports")), f"{path}.ports", host_network)


def validate_pod(errs: FieldErrors, pod: dict[str, Any]) -> None:
    spec = mapping(pod.get("spec"))
    host_network = bool(spec.get("hostNetwork"))
    containers = [mapping(c) for c in sequence(spec.get("containers"))]
    if not containers:
        errs.required("spec.containers")
    seen: set[str] = set()
    for i, container in enumerate(containers):
        path = f"spec.containers[{i}]"
        _validate_container(errs, container, path, host_network)
        name = string(container.get("name"))
        if name in seen:
            errs.duplicate(f"{path}.name", name)
        elif name:
            seen.add(name)
    for i, container in enumerate(mapping(c) for c in sequence(spec.get("initContainers"))):
        path = f"spec.initContainers[{i}]"
        _validate_container(errs, container, path, host_network)
        policy = container.get("restartPolicy")
        if policy is not None and policy != "Always":
            errs.not_supported(f"{path}.restartPolicy", string(policy), ["Always"])
        name = string(container.get("name"))
        if name in seen:
            errs.duplicate(f"{path}.name", name)
        elif name:
            seen.add(name)
    policy = spec.get("restartPolicy")
    if policy is not None and string(policy) not in RESTART_POLICIES:
        errs.not_supported("spec.restartPolicy", string(policy), RESTART_POLICIES)
    if spec.get("nodeSelector") is not None:
        validate_labels(errs, spec.get("nodeSelector"), "spec.nodeSelector")


def _without_toleration_seconds(toleration: Any) -> dict[str, Any]:
    return {k: v for k, v in mapping(toleration).items() if k != "tolerationSeconds"}


def _spec_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A short rendering of what changed, in the spirit of the cmp.Diff kube appends."""
    lines = ["  core.PodSpec{"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            field = key[:1].upper() + key[1:]
            lines.append(f"- \t{field}: {json.dumps(old.get(key), sort_keys=True)},")
            lines.append(f"+ \t{field}: {json.dumps(new.get(key), sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def validate_pod_update(errs: FieldErrors, pod: dict[str, Any], old: dict[str, Any]) -> None:
    """A Pod's spec is fixed once created, except images, deadlines and tolerations."""
    spec, old_spec = mapping(pod.get("spec")), mapping(old.get("spec"))
    for field in ("containers", "initContainers"):
        new_list, old_list = sequence(spec.get(field)), sequence(old_spec.get(field))
        if len(new_list) != len(old_list):
            errs.forbidden(f"spec.{field}", "pod updates may not add or remove containers")
            return
    deadline, old_deadline = (
        spec.get("activeDeadlineSeconds"),
        old_spec.get("activeDeadlineSeconds"),
    )
    if deadline is not None:
        value = integer(deadline)
        if not 0 <= value <= _MAX_INT32:
            errs.invalid(
                "spec.activeDeadlineSeconds", value, names.inclusive_range_error(0, _MAX_INT32)
            )
            return
        if old_deadline is not None and integer(old_deadline) < value:
            errs.invalid(
                "spec.activeDeadlineSeconds", value, "must be less than or equal to previous value"
            )
            return
    elif old_deadline is not None:
        invalid(
            errs,
            "spec.activeDeadlineSeconds",
            None,
            "must not update from a positive integer to nil value",
        )
    new_tolerations = [_without_toleration_seconds(t) for t in sequence(spec.get("tolerations"))]
    for toleration in sequence(old_spec.get("tolerations")):
        if _without_toleration_seconds(toleration) not in new_tolerations:
            errs.forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            )
            break

    munged = copy.deepcopy(spec)
    for field in ("containers", "initContainers"):
        for new_c, old_c in zip(
            sequence(munged.get(field)), sequence(old_spec.get(field)), strict=False
        ):
            if isinstance(new_c, dict):
                if "image" in mapping(old_c):
                    new_c["image"] = mapping(old_c)["image"]
                else:
                    new_c.pop("image", None)
    for field in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if field in old_spec:
            munged[field] = old_spec[field]
        else:
            munged.pop(field, None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if (
        isinstance(old_grace, int)
        and old_grace < 0
        and munged.get("terminationGracePeriodSeconds") == 1
    ):
        munged["terminationGracePeriodSeconds"] = old_grace
    if munged != old_spec:
        detail = f"pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n"
        errs.forbidden("spec", detail + _spec_diff(old_spec, munged))


# -- ConfigMap and Secret -----------------------------------------------------------


def _decoded_size(value: Any) -> int:
    text = string(value)
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return len(text) * 3 // 4


def validate_config_map(errs: FieldErrors, config_map: dict[str, Any]) -> None:
    data, binary = mapping(config_map.get("data")), mapping(config_map.get("binaryData"))
    total = 0
    for key, value in data.items():
        for msg in names.is_config_map_key(key):
            errs.invalid(f"data[{key}]", key, msg)
        if key in binary:
            errs.invalid(f"data[{key}]", key, "duplicate of key present in binaryData")
        total += len(string(value).encode())
    for key, value in binary.items():
        for msg in names.is_config_map_key(key):
            errs.invalid(f"binaryData[{key}]", key, msg)
        total += _decoded_size(value)
    if total > MAX_DATA_SIZE:
        too_long(errs, "", MAX_DATA_SIZE)  # kube reports the whole object, with an empty path


def _immutable_data(
    errs: FieldErrors, obj: dict[str, Any], old: dict[str, Any], fields: tuple[str, ...]
) -> None:
    if old.get("immutable") is not True:
        return
    if obj.get("immutable") is not True:
        errs.forbidden("immutable", "field is immutable when `immutable` is set")
    for field in fields:
        if mapping(obj.get(field)) != mapping(old.get(field)):
            errs.forbidden(field, "field is immutable when `immutable` is set")


def validate_config_map_update(
    errs: FieldErrors, config_map: dict[str, Any], old: dict[str, Any]
) -> None:
    _immutable_data(errs, config_map, old, ("data", "binaryData"))


def _secret_data(secret: dict[str, Any]) -> dict[str, int]:
    """Key -> decoded size, with stringData merged in as kube's conversion merges it."""
    sizes = {key: _decoded_size(value) for key, value in mapping(secret.get("data")).items()}
    for key, value in mapping(secret.get("stringData")).items():
        sizes[key] = len(string(value).encode())
    return sizes


def _valid_json(value: Any) -> bool:
    try:
        parsed = json.loads(base64.b64decode(string(value)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(parsed, dict)


def validate_secret(errs: FieldErrors, secret: dict[str, Any]) -> None:
    data = _secret_data(secret)
    for key in data:
        for msg in names.is_config_map_key(key):
            errs.invalid(f"data[{key}]", key, msg)
    if sum(data.values()) > MAX_DATA_SIZE:
        too_long(errs, "data", MAX_DATA_SIZE)
    raw = mapping(secret.get("data"))
    secret_type = string(secret.get("type"))
    annotations = mapping(mapping(secret.get("metadata")).get("annotations"))
    if secret_type == "kubernetes.io/service-account-token":
        if not string(annotations.get("kubernetes.io/service-account.name")):
            errs.required("metadata.annotations[kubernetes.io/service-account.name]")
    elif secret_type == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.required(f"data[{key}]")
    elif secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if secret_type.endswith("dockercfg") else ".dockerconfigjson"
        if key not in data:
            errs.required(f"data[{key}]")
        elif key in raw and not _valid_json(raw[key]):
            errs.invalid(f"data[{key}]", "<secret contents redacted>", "must be valid JSON")
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.required("data[username]")
            errs.required("data[password]")
    elif secret_type == "kubernetes.io/ssh-auth" and not data.get("ssh-privatekey"):
        errs.required("data[ssh-privatekey]")


def validate_secret_update(errs: FieldErrors, secret: dict[str, Any], old: dict[str, Any]) -> None:
    new_type = string(secret.get("type")) or "Opaque"
    old_type = string(old.get("type")) or "Opaque"
    if new_type != old_type:
        errs.invalid("type", new_type, FIELD_IMMUTABLE)
    _immutable_data(errs, secret, old, ("data",))


# -- Namespace, Node, Lease ---------------------------------------------------------


def validate_namespace(errs: FieldErrors, namespace: dict[str, Any]) -> None:
    for finalizer in sequence(mapping(namespace.get("spec")).get("finalizers")):
        name = string(finalizer)
        validate_qualified_name(errs, name, "spec.finalizers")
        if "/" not in name and name != "kubernetes":
            errs.invalid(
                "spec.finalizers",
                name,
                "name is neither a standard finalizer name nor is it fully qualified",
            )


def validate_node(errs: FieldErrors, node: dict[str, Any]) -> None:
    spec = mapping(node.get("spec"))
    for i, cidr in enumerate(sequence(spec.get("podCIDRs"))):
        if not names.is_valid_cidr(string(cidr)):
            errs.invalid(f"spec.podCIDRs[{i}]", string(cidr), names.CIDR_INVALID_MSG)
    # kube reports taints under metadata.taints (its field path is built from metadata).
    for i, taint in enumerate(mapping(t) for t in sequence(spec.get("taints"))):
        path = f"metadata.taints[{i}]"
        validate_qualified_name(errs, string(taint.get("key")), f"{path}.key")
        if msgs := names.is_label_value(string(taint.get("value"))):
            errs.invalid(f"{path}.value", string(taint.get("value")), ";".join(msgs))
        effect = string(taint.get("effect"))
        if not effect:
            errs.required(f"{path}.effect")
        elif effect not in TAINT_EFFECTS:
            errs.not_supported(f"{path}.effect", effect, TAINT_EFFECTS)


def validate_lease(errs: FieldErrors, lease: dict[str, Any]) -> None:
    spec = mapping(lease.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and integer(duration) <= 0:
        errs.invalid("spec.leaseDurationSeconds", integer(duration), "must be greater than 0")
    transitions = spec.get("leaseTransitions")
    if transitions is not None and integer(transitions) < 0:
        errs.invalid(
            "spec.leaseTransitions", integer(transitions), "must be greater than or equal to 0"
        )


__all__ = [
    "PROTOCOLS",
    "validate_config_map",
    "validate_config_map_update",
    "validate_lease",
    "validate_namespace",
    "validate_node",
    "validate_pod",
    "validate_pod_update",
    "validate_secret",
    "validate_secret_update",
]
