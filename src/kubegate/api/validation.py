"""Object validation: the 422 Invalid answers kube-apiserver gives, cause for cause.

``validate(kind, obj, old)`` checks an object on create (``old is None``) or update and
raises ``errors.Invalid`` carrying kube's field causes (``FieldValueRequired`` at
``spec.ports``, ``FieldValueInvalid`` at ``metadata.name``, ...), with the message kubectl
prints: ``Service "My-Svc" is invalid: metadata.name: Invalid value: "My-Svc": a DNS-1035
label must consist of ...``.

Every kind gets ObjectMeta checks (name rule per kind, namespace, labels, annotations,
finalizers, identity fields immutable on update). The kinds in ``RULES`` add their own
checks, split by area:

    validation_meta      ObjectMeta, labels, annotations, shared helpers
    validation_network   Service, Endpoints, EndpointSlice
    validation_core      Pod, ConfigMap, Secret, Namespace, Node, Lease
    validation_rbac      Role, ClusterRole, RoleBinding, ClusterRoleBinding

Objects are validated as sent: fields kube would default (Service type, port protocol,
targetPort, subject apiGroup) are read as their defaults when absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from kubegate.api import validation_core as core
from kubegate.api import validation_network as network
from kubegate.api import validation_rbac as rbac
from kubegate.api.validation_meta import (
    NameFn,
    mapping,
    string,
    validate_object_meta,
    validate_object_meta_update,
)
from kubegate.core import names
from kubegate.errors import FieldErrors

Check = Callable[[FieldErrors, dict[str, Any]], None]
UpdateCheck = Callable[[FieldErrors, dict[str, Any], dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class KindRules:
    """How one kind is validated: its name rule, scope, API group and extra checks."""

    name_fn: NameFn = names.name_is_dns_subdomain
    namespaced: bool = True
    group: str = ""
    check: Check | None = None
    check_update: UpdateCheck | None = None


_RBAC: Final = rbac.RBAC_GROUP
_PATH_SEGMENT: Final = names.is_valid_path_segment_name

RULES: Final[dict[str, KindRules]] = {
    "Pod": KindRules(check=core.validate_pod, check_update=core.validate_pod_update),
    "Service": KindRules(
        name_fn=names.name_is_dns1035_label,
        check=network.validate_service,
        check_update=network.validate_service_update,
    ),
    "Endpoints": KindRules(check=network.validate_endpoints),
    "EndpointSlice": KindRules(
        group="discovery.k8s.io",
        check=network.validate_endpoint_slice,
        check_update=network.validate_endpoint_slice_update,
    ),
    "ConfigMap": KindRules(
        check=core.validate_config_map, check_update=core.validate_config_map_update
    ),
    "Secret": KindRules(check=core.validate_secret, check_update=core.validate_secret_update),
    "ServiceAccount": KindRules(),
    "Namespace": KindRules(
        name_fn=names.name_is_dns_label, namespaced=False, check=core.validate_namespace
    ),
    "Node": KindRules(namespaced=False, check=core.validate_node),
    "Lease": KindRules(group="coordination.k8s.io", check=core.validate_lease),
    "Role": KindRules(
        name_fn=_PATH_SEGMENT, group=_RBAC, check=partial(rbac.validate_role, namespaced=True)
    ),
    "ClusterRole": KindRules(
        name_fn=_PATH_SEGMENT,
        namespaced=False,
        group=_RBAC,
        check=partial(rbac.validate_role, namespaced=False),
    ),
    "RoleBinding": KindRules(
        name_fn=_PATH_SEGMENT,
        group=_RBAC,
        check=partial(rbac.validate_binding, namespaced=True),
        check_update=rbac.validate_binding_update,
    ),
    "ClusterRoleBinding": KindRules(
        name_fn=_PATH_SEGMENT,
        namespaced=False,
        group=_RBAC,
        check=partial(rbac.validate_binding, namespaced=False),
        check_update=rbac.validate_binding_update,
    ),
}

# Cluster-scoped kinds without rules of their own: their namespace is ignored, not required.
CLUSTER_SCOPED_KINDS: Final = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)


def collect(
    kind: str,
    obj: dict[str, Any],
    old: dict[str, Any] | None = None,
    *,
    namespaced: bool | None = None,
) -> FieldErrors:
    """Run every check for ``kind`` and return the causes found (possibly none)."""
    rules = RULES.get(kind)
    if namespaced is None:
        if rules is not None:
            namespaced = rules.namespaced
        elif kind in CLUSTER_SCOPED_KINDS:
            namespaced = False
    errs = FieldErrors()
    name_fn = rules.name_fn if rules is not None else names.name_is_dns_subdomain
    validate_object_meta(errs, obj, name_fn=name_fn, namespaced=namespaced)
    if old is not None:
        validate_object_meta_update(errs, obj, old)
    if rules is not None and rules.check is not None:
        rules.check(errs, obj)
    if old is not None and rules is not None and rules.check_update is not None:
        rules.check_update(errs, obj, old)
    return errs


def validate(
    kind: str,
    obj: dict[str, Any],
    old: dict[str, Any] | None = None,
    *,
    namespaced: bool | None = None,
    group: str | None = None,
) -> None:
    """Validate ``obj`` (an update of ``old`` when given); raise ``errors.Invalid`` if bad.

    ``namespaced`` overrides the kind's scope (needed for custom kinds); ``group``
    overrides the API group shown in the message (``Role.rbac.authorization.k8s.io``).
    """
    errs = collect(kind, obj, old, namespaced=namespaced)
    rules = RULES.get(kind)
    if group is None:
        group = rules.group if rules is not None else ""
    meta = mapping(obj.get("metadata"))
    name = string(meta.get("name")) or string(meta.get("generateName"))
    errs.raise_if_any(kind, name, group)


__all__ = ["CLUSTER_SCOPED_KINDS", "RULES", "KindRules", "collect", "validate"]
