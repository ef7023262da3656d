"""Generate ``src/kubegate/api/data/schema.json``: the OpenAPI definitions kubegate serves.

The structure (properties, types, ``required``) and the descriptions come from the model
classes of the official ``kubernetes`` Python client, walked transitively from the top-level
kinds kubegate serves. What the client does not carry is added from the small tables below:

* which Go package a type lives in (the client's class names drop it),
* ``int-or-string``, ``Quantity`` and ``MicroTime`` fields (the client types them as plain
  ``object``/``str``/``datetime``),
* the descriptions of fields whose type is another model (the client drops them): kube's
  text for ``metadata`` and a few ``spec``/``status`` fields, else the referred type's own,
* the strategic-merge metadata (``x-kubernetes-patch-strategy`` / ``-patch-merge-key``) and
  list types, transcribed from the ``patchStrategy``/``patchMergeKey`` struct tags and
  ``+listType``/``+listMapKey`` markers of k8s.io/api core/v1/types.go (checked field by field),
  and from the atomic list markers of the rbac and discovery types.

Run it with the project venv and commit the output::

    .venv/bin/python tools/gen_schema.py
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import typing
from collections import deque
from pathlib import Path
from typing import Any

import kubernetes
import kubernetes.client.models as models

OUTPUT = Path(__file__).resolve().parents[1] / "src" / "kubegate" / "api" / "data" / "schema.json"

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
PACKAGES = {
    "meta": META,
    "core": "io.k8s.api.core.v1",
    "discovery": "io.k8s.api.discovery.v1",
    "rbac": "io.k8s.api.rbac.v1",
    "authentication": "io.k8s.api.authentication.v1",
    "authorization": "io.k8s.api.authorization.v1",
    "coordination": "io.k8s.api.coordination.v1",
}
GROUPS = {
    "core": "",
    "discovery": "discovery.k8s.io",
    "rbac": "rbac.authorization.k8s.io",
    "authentication": "authentication.k8s.io",
    "authorization": "authorization.k8s.io",
    "coordination": "coordination.k8s.io",
}

# Top-level kinds in walking order: a nested type belongs to the package of the first kind
# that reaches it (core first, so ObjectReference inside an EndpointSlice stays core/v1).
TOP_LEVEL: list[tuple[str, str, bool]] = [
    # (package, python client class, has a List kind)
    ("core", "V1Namespace", True),
    ("core", "V1Service", True),
    ("core", "V1Endpoints", True),
    ("core", "V1Pod", True),
    ("core", "V1Node", True),
    ("core", "V1ConfigMap", True),
    ("core", "V1Secret", True),
    ("core", "V1ServiceAccount", True),
    ("core", "CoreV1Event", True),
    ("discovery", "V1EndpointSlice", True),
    ("rbac", "V1Role", True),
    ("rbac", "V1ClusterRole", True),
    ("rbac", "V1RoleBinding", True),
    ("rbac", "V1ClusterRoleBinding", True),
    ("authentication", "AuthenticationV1TokenRequest", False),
    ("authentication", "V1TokenReview", False),
    ("authentication", "V1SelfSubjectReview", False),
    ("authorization", "V1SelfSubjectAccessReview", False),
    ("authorization", "V1SubjectAccessReview", False),
    ("authorization", "V1SelfSubjectRulesReview", False),
    ("coordination", "V1Lease", True),
]

# meta/v1 types: always io.k8s.apimachinery.pkg.apis.meta.v1, whoever reaches them.
META_CLASSES = {
    "V1ObjectMeta",
    "V1ListMeta",
    "V1Status",
    "V1StatusCause",
    "V1StatusDetails",
    "V1DeleteOptions",
    "V1Preconditions",
    "V1WatchEvent",
    "V1LabelSelector",
    "V1LabelSelectorRequirement",
    "V1OwnerReference",
    "V1ManagedFieldsEntry",
    "V1Condition",
    "V1FieldSelectorRequirement",
}
META_ROOTS = ["V1Status", "V1DeleteOptions", "V1WatchEvent", "V1ObjectMeta", "V1ListMeta"]

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIME = f"{META}.Time"
MICRO_TIME = f"{META}.MicroTime"
FIELDS_V1 = f"{META}.FieldsV1"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

# Scalar definitions kube publishes under their own names (descriptions as in kube).
SCALARS: dict[str, dict[str, Any]] = {
    INT_OR_STRING: {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used in "
        "JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  "
        "This allows you to have, for example, a JSON field that can accept a name or number.",
        "type": "string",
        "format": "int-or-string",
    },
    QUANTITY: {
        "description": "Quantity is a fixed-point representation of a number. It provides "
        "convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and "
        "AsInt64() accessors.\n\nThe serialization format is:\n\n``` <quantity>        ::= "
        '<signedNumber><suffix>\n```\n\nExamples: "100m" (0.1 cpu), "1Gi", "2.5", "1e3".',
        "type": "string",
    },
    TIME: {
        "description": "Time is a wrapper around time.Time which supports correct marshaling to "
        "YAML and JSON.  Wrappers are provided for many of the factory methods that the time "
        "package offers.",
        "type": "string",
        "format": "date-time",
    },
    MICRO_TIME: {
        "description": "MicroTime is version of Time with microsecond level precision.",
        "type": "string",
        "format": "date-time",
    },
    FIELDS_V1: {
        "description": "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON "
        "format.\n\nEach key is either a '.' representing the field itself, and will always "
        "map to an empty set, or a string representing a sub-field or item. The string will "
        "follow one of these four formats: 'f:<name>', where <name> is the name of a field in "
        "a struct, or key in a map 'v:<value>', where <value> is the exact json formatted "
        "value of a list item 'i:<index>', where <index> is position of a item in a list "
        "'k:<keys>', where <keys> is a map of  a list item's key fields to their unique "
        "values If a key maps to an empty Fields value, the field that key represents is "
        "part of the set.\n\nThe exact format is defined in sigs.k8s.io/structured-merge-diff",
        "type": "object",
    },
    f"{META}.Patch": {
        "description": "Patch is provided to give a concrete name and type to the Kubernetes "
        "PATCH request body.",
        "type": "object",
    },
    RAW_EXTENSION: {
        "description": "RawExtension is used to hold extensions in external versions.",
        "type": "object",
    },
}

# (python class, attribute) -> definition the field refers to, where the client flattened it.
QUANTITY_FIELDS = {
    ("V1ResourceRequirements", "limits"),
    ("V1ResourceRequirements", "requests"),
    ("V1VolumeResourceRequirements", "limits"),
    ("V1VolumeResourceRequirements", "requests"),
    ("V1ContainerStatus", "allocated_resources"),
    ("V1PodStatus", "allocated_resources"),
    ("V1PodSpec", "overhead"),
    ("V1NodeStatus", "capacity"),
    ("V1NodeStatus", "allocatable"),
    ("V1EmptyDirVolumeSource", "size_limit"),
    ("V1ResourceFieldSelector", "divisor"),
    ("V1NodeAllocatableMappedResources", "quantity"),
    ("V1NodeAllocatableOverheadResources", "per_container"),
    ("V1NodeAllocatableOverheadResources", "per_pod"),
}
MICRO_TIME_FIELDS = {
    ("CoreV1Event", "event_time"),
    ("CoreV1EventSeries", "last_observed_time"),
    ("V1LeaseSpec", "acquire_time"),
    ("V1LeaseSpec", "renew_time"),
}
OBJECT_FIELDS = {
    ("V1ManagedFieldsEntry", "fields_v1"): FIELDS_V1,
    ("V1WatchEvent", "object"): RAW_EXTENSION,
}

# Strategic-merge metadata and list types, by (definition short name, json field):
# (patch strategy, merge key, list type, list map keys). Transcribed from the Go struct tags.
M, MR = "merge", "merge,retainKeys"
LIST_META: dict[tuple[str, str], tuple[str, str, str, tuple[str, ...]]] = {
    # core/v1 Container and EphemeralContainer
    **{
        (kind, field): meta
        for kind in ("core.Container", "core.EphemeralContainer")
        for field, meta in {
            "ports": (M, "containerPort", "map", ("containerPort", "protocol")),
            "env": (M, "name", "map", ("name",)),
            "volumeMounts": (M, "mountPath", "map", ("mountPath",)),
            "volumeDevices": (M, "devicePath", "map", ("devicePath",)),
            "envFrom": ("", "", "atomic", ()),
            "command": ("", "", "atomic", ()),
            "args": ("", "", "atomic", ()),
            "resizePolicy": ("", "", "atomic", ()),
            "restartPolicyRules": ("", "", "atomic", ()),
        }.items()
    },
    ("core.ContainerStatus", "volumeMounts"): (M, "mountPath", "map", ("mountPath",)),
    ("core.ContainerStatus", "allocatedResourcesStatus"): (M, "name", "map", ("name",)),
    ("core.PodSpec", "volumes"): (MR, "name", "map", ("name",)),
    ("core.PodSpec", "initContainers"): (M, "name", "map", ("name",)),
    ("core.PodSpec", "containers"): (M, "name", "map", ("name",)),
    ("core.PodSpec", "ephemeralContainers"): (M, "name", "map", ("name",)),
    ("core.PodSpec", "imagePullSecrets"): (M, "name", "map", ("name",)),
    ("core.PodSpec", "tolerations"): ("", "", "atomic", ()),
    ("core.PodSpec", "hostAliases"): (M, "ip", "map", ("ip",)),
    ("core.PodSpec", "readinessGates"): ("", "", "atomic", ()),
    ("core.PodSpec", "topologySpreadConstraints"): (
        M,
        "topologyKey",
        "map",
        ("topologyKey", "whenUnsatisfiable"),
    ),
    ("core.PodSpec", "schedulingGates"): (M, "name", "map", ("name",)),
    ("core.PodSpec", "resourceClaims"): (MR, "name", "map", ("name",)),
    ("core.PodStatus", "conditions"): (M, "type", "map", ("type",)),
    ("core.PodStatus", "hostIPs"): (M, "ip", "atomic", ()),
    ("core.PodStatus", "podIPs"): (M, "ip", "map", ("ip",)),
    ("core.PodStatus", "initContainerStatuses"): ("", "", "atomic", ()),
    ("core.PodStatus", "containerStatuses"): ("", "", "atomic", ()),
    ("core.PodStatus", "ephemeralContainerStatuses"): ("", "", "atomic", ()),
    ("core.PodStatus", "resourceClaimStatuses"): (MR, "name", "map", ("name",)),
    ("core.PodDNSConfig", "nameservers"): ("", "", "atomic", ()),
    ("core.PodDNSConfig", "searches"): ("", "", "atomic", ()),
    ("core.PodDNSConfig", "options"): ("", "", "atomic", ()),
    ("core.ResourceRequirements", "claims"): ("", "", "map", ("name",)),
    ("core.Capabilities", "add"): ("", "", "atomic", ()),
    ("core.Capabilities", "drop"): ("", "", "atomic", ()),
    ("core.ExecAction", "command"): ("", "", "atomic", ()),
    ("core.HTTPGetAction", "httpHeaders"): ("", "", "atomic", ()),
    ("core.NodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"): (
        "",
        "",
        "atomic",
        (),
    ),
    ("core.ServiceSpec", "ports"): (M, "port", "map", ("port", "protocol")),
    ("core.ServiceSpec", "clusterIPs"): ("", "", "atomic", ()),
    ("core.ServiceSpec", "externalIPs"): ("", "", "atomic", ()),
    ("core.ServiceSpec", "loadBalancerSourceRanges"): ("", "", "atomic", ()),
    ("core.ServiceStatus", "conditions"): (M, "type", "map", ("type",)),
    ("core.LoadBalancerStatus", "ingress"): ("", "", "atomic", ()),
    ("core.LoadBalancerIngress", "ports"): ("", "", "atomic", ()),
    ("core.ServiceAccount", "secrets"): (M, "name", "map", ("name",)),
    ("core.ServiceAccount", "imagePullSecrets"): ("", "", "atomic", ()),
    ("core.Endpoints", "subsets"): ("", "", "atomic", ()),
    ("core.EndpointSubset", "addresses"): ("", "", "atomic", ()),
    ("core.EndpointSubset", "notReadyAddresses"): ("", "", "atomic", ()),
    ("core.EndpointSubset", "ports"): ("", "", "atomic", ()),
    ("core.NodeSpec", "podCIDRs"): (M, "", "set", ()),
    ("core.NodeSpec", "taints"): ("", "", "atomic", ()),
    ("core.NodeStatus", "conditions"): (M, "type", "map", ("type",)),
    # Declared mergeable by type although the key is not unique (kube says so itself).
    ("core.NodeStatus", "addresses"): (M, "type", "map", ("type",)),
    ("core.NodeStatus", "images"): ("", "", "atomic", ()),
    ("core.NodeStatus", "volumesInUse"): ("", "", "atomic", ()),
    ("core.NodeStatus", "volumesAttached"): ("", "", "atomic", ()),
    ("core.NodeStatus", "runtimeHandlers"): ("", "", "atomic", ()),
    ("core.NodeStatus", "declaredFeatures"): ("", "", "atomic", ()),
    ("core.NamespaceStatus", "conditions"): (M, "type", "map", ("type",)),
    ("core.NamespaceSpec", "finalizers"): ("", "", "atomic", ()),
    # meta/v1
    ("meta.ObjectMeta", "ownerReferences"): (M, "uid", "map", ("uid",)),
    ("meta.ObjectMeta", "finalizers"): (M, "", "set", ()),
    # discovery.k8s.io/v1: EndpointSlice lists are atomic (no strategic merge).
    ("discovery.EndpointSlice", "endpoints"): ("", "", "atomic", ()),
    ("discovery.EndpointSlice", "ports"): ("", "", "atomic", ()),
    ("discovery.Endpoint", "addresses"): ("", "", "set", ()),
    # rbac.authorization.k8s.io/v1: rules and subjects are atomic.
    ("rbac.Role", "rules"): ("", "", "atomic", ()),
    ("rbac.ClusterRole", "rules"): ("", "", "atomic", ()),
    ("rbac.RoleBinding", "subjects"): ("", "", "atomic", ()),
    ("rbac.ClusterRoleBinding", "subjects"): ("", "", "atomic", ()),
    ("rbac.AggregationRule", "clusterRoleSelectors"): ("", "", "atomic", ()),
    **{
        ("rbac.PolicyRule", field): ("", "", "atomic", ())
        for field in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
    },
}
# +structType=atomic / +mapType=atomic on whole types.
ATOMIC_STRUCTS = {
    "meta.LabelSelector",
    "core.ObjectReference",
    "core.LocalObjectReference",
    "core.EndpointAddress",
    "core.EndpointPort",
    "core.ConfigMapKeySelector",
    "core.SecretKeySelector",
    "core.ObjectFieldSelector",
    "core.ResourceFieldSelector",
    "core.NodeSelector",
    "core.NodeSelectorTerm",
    "core.TypedLocalObjectReference",
}

# The client drops the description of a field whose type is another model (OpenAPI puts it
# beside the $ref). These few are restored verbatim from kube; any other such field falls
# back to the description of the type it refers to.
API_CONVENTIONS = (
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
)
OBJECT_METADATA = f"Standard object's metadata. More info: {API_CONVENTIONS}#metadata"
LIST_METADATA = f"Standard list metadata. More info: {API_CONVENTIONS}#types-kinds"
REF_FIELD_DESCRIPTIONS = {
    ("core.Service", "spec"): "Spec defines the behavior of a service. "
    f"{API_CONVENTIONS}#spec-and-status",
    ("core.Service", "status"): "Most recently observed status of the service. Populated by "
    f"the system. Read-only. More info: {API_CONVENTIONS}#spec-and-status",
    ("core.Pod", "spec"): "Specification of the desired behavior of the pod. More info: "
    f"{API_CONVENTIONS}#spec-and-status",
    ("core.Pod", "status"): "Most recently observed status of the pod. This data may not be up "
    f"to date. Populated by the system. Read-only. More info: {API_CONVENTIONS}#spec-and-status",
}

CLASS_PREFIX = re.compile(r"^(?P<pkg>[A-Z][a-z]+)?V1(?=[A-Z])")


def short_name(cls_name: str) -> str:
    return CLASS_PREFIX.sub("", cls_name)


def class_package(cls_name: str) -> str | None:
    """The package a prefixed class name states (CoreV1Event -> core), if any."""
    match = CLASS_PREFIX.match(cls_name)
    pkg = (match.group("pkg") or "").lower() if match else ""
    return pkg if pkg in PACKAGES else None


def class_description(cls: type) -> str:
    return inspect.cleandoc((cls.__doc__ or "").split("Attributes:")[0]).strip()


def model_field(cls: type, attr: str, json_name: str) -> Any:
    """The pydantic field behind an attribute; reserved words are renamed (``_exec`` ->
    ``var_exec``, ``_continue`` -> ``var_continue``) so match on the wire name too."""
    fields = cls.model_fields  # type: ignore[attr-defined]
    if attr in fields:
        return fields[attr]
    for field_name, field in fields.items():
        if json_name in (field.serialization_alias, field.alias, field_name):
            return field
    raise SystemExit(f"no model field for {cls.__name__}.{attr}")


def references(type_str: str) -> list[str]:
    return [t for t in re.findall(r"[A-Z][A-Za-z0-9]+", type_str) if t not in ("List", "Dict")]


class Generator:
    def __init__(self) -> None:
        self.package_of: dict[str, str] = {}  # python class -> package key
        self.definitions: dict[str, dict[str, Any]] = {}

    def assign_packages(self) -> None:
        roots: list[tuple[str, str]] = [("meta", c) for c in META_ROOTS]
        for pkg, cls, has_list in TOP_LEVEL:
            roots.append((pkg, cls))
            if has_list:
                roots.append((pkg, cls + "List"))
        for pkg, root in roots:
            queue = deque([root])
            while queue:
                name = queue.popleft()
                if name in self.package_of:
                    continue
                self.package_of[name] = (
                    "meta" if name in META_CLASSES else class_package(name) or pkg
                )
                for type_str in getattr(models, name).openapi_types.values():
                    queue.extend(references(type_str))

    def full_name(self, cls_name: str) -> str:
        return f"{PACKAGES[self.package_of[cls_name]]}.{short_name(cls_name)}"

    def key(self, cls_name: str) -> str:
        return f"{self.package_of[cls_name]}.{short_name(cls_name)}"

    def type_schema(self, type_str: str, owner: str, attr: str) -> dict[str, Any]:
        if (owner, attr) in QUANTITY_FIELDS:
            if type_str.startswith("Dict["):
                return {"type": "object", "additionalProperties": ref(QUANTITY)}
            return ref(QUANTITY)
        if (owner, attr) in MICRO_TIME_FIELDS:
            return ref(MICRO_TIME)
        if (owner, attr) in OBJECT_FIELDS:
            return ref(OBJECT_FIELDS[(owner, attr)])
        return self.plain_schema(type_str, owner, attr)

    def plain_schema(self, type_str: str, owner: str, attr: str) -> dict[str, Any]:
        if type_str.startswith("List[") and type_str.endswith("]"):
            return {"type": "array", "items": self.plain_schema(type_str[5:-1], owner, attr)}
        if type_str.startswith("Dict[str, ") and type_str.endswith("]"):
            inner = self.plain_schema(type_str[len("Dict[str, ") : -1], owner, attr)
            return {"type": "object", "additionalProperties": inner}
        scalar = {
            "str": {"type": "string"},
            "int": {"type": "integer"},
            "float": {"type": "number", "format": "double"},
            "bool": {"type": "boolean"},
            "bytes": {"type": "string", "format": "byte"},
            "datetime": ref(TIME),
            "date": {"type": "string", "format": "date"},
        }.get(type_str)
        if scalar is not None:
            return dict(scalar)
        if type_str == "object":
            cls = getattr(models, owner)
            annotation = model_field(cls, attr, cls.attribute_map[attr]).annotation
            args = {a for a in typing.get_args(annotation) if a is not type(None)}
            flat = {typing.get_args(a)[0] if typing.get_args(a) else a for a in args}
            if flat == {int, str}:
                return ref(INT_OR_STRING)
            raise SystemExit(f"unmapped object field {owner}.{attr}: {annotation}")
        if hasattr(models, type_str):
            return ref(self.full_name(type_str))
        raise SystemExit(f"unmapped type {type_str!r} at {owner}.{attr}")

    def ref_field_description(self, key: str, json_name: str, type_str: str) -> str:
        if (key, json_name) in REF_FIELD_DESCRIPTIONS:
            return REF_FIELD_DESCRIPTIONS[(key, json_name)]
        if type_str == "V1ObjectMeta":
            return OBJECT_METADATA
        if type_str == "V1ListMeta":
            return LIST_METADATA
        if hasattr(models, type_str):
            return class_description(getattr(models, type_str))
        return ""

    def build(self) -> None:
        self.assign_packages()
        for cls_name in sorted(self.package_of):
            cls = getattr(models, cls_name)
            key = self.key(cls_name)
            properties: dict[str, Any] = {}
            required: list[str] = []
            for attr, json_name in cls.attribute_map.items():
                schema = self.type_schema(cls.openapi_types[attr], cls_name, attr)
                field = model_field(cls, attr, json_name)
                description = field.description or self.ref_field_description(
                    key, json_name, cls.openapi_types[attr]
                )
                if description:
                    schema["description"] = description
                if field.is_required():
                    required.append(json_name)
                strategy, merge_key, list_type, map_keys = LIST_META.get(
                    (key, json_name), ("", "", "", ())
                )
                if strategy:
                    schema["x-kubernetes-patch-strategy"] = strategy
                if merge_key:
                    schema["x-kubernetes-patch-merge-key"] = merge_key
                if list_type:
                    schema["x-kubernetes-list-type"] = list_type
                if map_keys:
                    schema["x-kubernetes-list-map-keys"] = list(map_keys)
                properties[json_name] = schema
            definition: dict[str, Any] = {
                "description": class_description(cls),
                "type": "object",
                "properties": properties,
            }
            if required:
                definition["required"] = sorted(required)
            if key in ATOMIC_STRUCTS:
                definition["x-kubernetes-map-type"] = "atomic"
            self.definitions[self.full_name(cls_name)] = definition
        self.definitions.update({name: dict(schema) for name, schema in SCALARS.items()})
        self.add_group_version_kinds()
        unused = {k for (k, _f) in LIST_META if k not in self._keys()}
        if unused:
            raise SystemExit(f"LIST_META names unknown types: {sorted(unused)}")

    def _keys(self) -> set[str]:
        return {self.key(c) for c in self.package_of}

    def add_group_version_kinds(self) -> None:
        group_versions = sorted({(GROUPS[pkg], "v1") for pkg, _c, _l in TOP_LEVEL})
        for pkg, cls_name, has_list in TOP_LEVEL:
            group = GROUPS[pkg]
            kind = short_name(cls_name)
            names = [(cls_name, kind)] + ([(cls_name + "List", kind + "List")] if has_list else [])
            for name, gvk_kind in names:
                self.definitions[self.full_name(name)]["x-kubernetes-group-version-kind"] = [
                    {"group": group, "kind": gvk_kind, "version": "v1"}
                ]
        self.definitions[f"{META}.Status"]["x-kubernetes-group-version-kind"] = [
            {"group": "", "kind": "Status", "version": "v1"}
        ]
        for meta_kind in ("DeleteOptions", "WatchEvent"):
            self.definitions[f"{META}.{meta_kind}"]["x-kubernetes-group-version-kind"] = [
                {"group": group, "kind": meta_kind, "version": version}
                for group, version in group_versions
            ]


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


def render(definitions: dict[str, dict[str, Any]]) -> str:
    """One definition per line: compact, yet reviewable in a diff."""
    lines = [
        "{",
        f' "generator": {json.dumps(generator_note())},',
        ' "definitions": {',
    ]
    items = sorted(definitions.items())
    for i, (name, schema) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        body = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        lines.append(f"  {json.dumps(name)}: {body}{comma}")
    lines += [" }", "}", ""]
    return "\n".join(lines)


def generator_note() -> str:
    return (
        "tools/gen_schema.py from the kubernetes python client "
        f"{kubernetes.__version__}; do not edit by hand"
    )


def main() -> int:
    gen = Generator()
    gen.build()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(gen.definitions), encoding="utf-8")
    print(f"wrote {len(gen.definitions)} definitions to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
