"""The resource types kubegate serves, as one table: discovery, routing and storage keys
are all derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

CRUD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)
PROXY_VERBS = ("create", "delete", "get", "patch", "update")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = CRUD_VERBS
    # subresource name -> (kind it returns, verbs)
    subresources: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    stored: bool = True  # False for create-only review types answered on the fly
    _subresource_names: frozenset[str] = field(
        init=False, repr=False, compare=False, default=frozenset()
    )

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        """``services`` or ``endpointslices.discovery.k8s.io`` (as in kube messages)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def __post_init__(self) -> None:
        # has_subresource runs per request: a set lookup instead of a scan
        object.__setattr__(
            self, "_subresource_names", frozenset(s for s, _, _ in self.subresources)
        )

    def has_subresource(self, name: str) -> bool:
        return name in self._subresource_names

    def path_prefix(self) -> str:
        return f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"


_STATUS = lambda kind: ("status", kind, STATUS_VERBS)  # noqa: E731
_PROXY = lambda kind: ("proxy", kind + "ProxyOptions", PROXY_VERBS)  # noqa: E731

RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        ("ns",),
        verbs=tuple(v for v in CRUD_VERBS if v != "deletecollection"),
        subresources=(_STATUS("Namespace"), ("finalize", "Namespace", ("update",))),
    ),
    ResourceType(
        "",
        "v1",
        "services",
        "service",
        "Service",
        True,
        ("svc",),
        ("all",),
        subresources=(_STATUS("Service"), _PROXY("Service")),
    ),
    ResourceType("", "v1", "endpoints", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        True,
        ("po",),
        ("all",),
        subresources=(_STATUS("Pod"), _PROXY("Pod")),
    ),
    ResourceType(
        "",
        "v1",
        "nodes",
        "node",
        "Node",
        False,
        ("no",),
        subresources=(_STATUS("Node"), _PROXY("Node")),
    ),
    ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "secrets", "secret", "Secret", True),
    ResourceType(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        True,
        ("sa",),
        subresources=(("token", "TokenRequest", ("create",)),),
    ),
    ResourceType("", "v1", "events", "event", "Event", True, ("ev",)),
    ResourceType(
        "discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", True
    ),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", False
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        False,
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "tokenreview",
        "TokenReview",
        False,
        verbs=CREATE_ONLY,
        stored=False,
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        False,
        verbs=CREATE_ONLY,
        stored=False,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        False,
        verbs=CREATE_ONLY,
        stored=False,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        False,
        verbs=CREATE_ONLY,
        stored=False,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        False,
        verbs=CREATE_ONLY,
        stored=False,
    ),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCE_TYPES}
_BY_KIND = {(r.group, r.kind): r for r in RESOURCE_TYPES}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_PATH.get((group, version, plural))


def by_kind(group: str, kind: str) -> ResourceType | None:
    return _BY_KIND.get((group, kind))


def group_versions() -> list[tuple[str, str]]:
    """(group, version) pairs in a stable order, core first."""
    seen: dict[tuple[str, str], None] = {}
    for r in RESOURCE_TYPES:
        seen.setdefault((r.group, r.version), None)
    return list(seen)


def resources_in(group: str, version: str) -> list[ResourceType]:
    return [r for r in RESOURCE_TYPES if r.group == group and r.version == version]
