"""RBAC evaluation with Kubernetes semantics, as pure functions over values.

Mirrors k8s.io/kubernetes ``pkg/apis/rbac/v1/evaluation_helpers.go`` (rule matching) and
``plugin/pkg/auth/authorizer/rbac/rbac.go`` with ``pkg/registry/rbac/validation/rule.go``
(which bindings apply to a user, and how an allow is described):

* a rule allows a resource request when its verb, API group, resource (``resource/sub`` for
  subresources; ``*`` and ``*/sub`` are wildcards) and name all match; an empty
  ``resourceNames`` list matches every name, otherwise the *whole* name segment of the URL
  must be listed (``https:svc:`` for a proxy id, not ``svc``);
* a rule allows a non-resource request when its verb matches and one of its
  ``nonResourceURLs`` is ``*``, the path itself, or a ``prefix*`` of the path;
* there are no deny rules: a user may do what any applicable rule allows.

Kube has no ``resource/*`` wildcard, so neither does this module: a rule naming
``services/*`` matches only a subresource literally called ``*``. Accepting it as "every
subresource" would make a policy written for kube grant more here (``pods/*`` would include
``pods/exec``).

Request attributes and users are read through small protocols so this module needs no
import from ``auth`` (the authorizer's frozen ``Attributes`` and ``UserInfo`` satisfy them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from kubegate.core.selector_errors import SelectorError
from kubegate.core.selectors import from_label_selector_json

VERB_ALL: Final = "*"
API_GROUP_ALL: Final = "*"
RESOURCE_ALL: Final = "*"
NON_RESOURCE_ALL: Final = "*"

USER_KIND: Final = "User"
GROUP_KIND: Final = "Group"
SERVICE_ACCOUNT_KIND: Final = "ServiceAccount"
ROLE_KIND: Final = "Role"
CLUSTER_ROLE_KIND: Final = "ClusterRole"
SERVICE_ACCOUNT_USER_PREFIX: Final = "system:serviceaccount:"

# What an index of bindings is keyed by: ("user", name) or ("group", name).
SubjectKey = tuple[str, str]


class RequestAttributes(Protocol):
    """What is asked (kube's authorizer.Attributes); ``auth.types.Attributes`` fits."""

    @property
    def verb(self) -> str: ...
    @property
    def resource_request(self) -> bool: ...
    @property
    def path(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def api_group(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def subresource(self) -> str: ...
    @property
    def name(self) -> str: ...


class User(Protocol):
    """Who asks; ``auth.types.UserInfo`` fits."""

    @property
    def name(self) -> str: ...
    @property
    def groups(self) -> tuple[str, ...]: ...


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str))


# -- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One ``rbac.authorization.k8s.io/v1`` PolicyRule."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyRule:
        return cls(
            verbs=_strings(data.get("verbs")),
            api_groups=_strings(data.get("apiGroups")),
            resources=_strings(data.get("resources")),
            resource_names=_strings(data.get("resourceNames")),
            non_resource_urls=_strings(data.get("nonResourceURLs")),
        )

    def to_json(self) -> dict[str, Any]:
        """The rule as kube serialises it (empty lists omitted, ``verbs`` always present)."""
        data: dict[str, Any] = {"verbs": list(self.verbs)}
        for key, values in (
            ("apiGroups", self.api_groups),
            ("resources", self.resources),
            ("resourceNames", self.resource_names),
            ("nonResourceURLs", self.non_resource_urls),
        ):
            if values:
                data[key] = list(values)
        return data


def rules_from_json(rules: Any) -> tuple[PolicyRule, ...]:
    """The ``rules`` of a Role or ClusterRole (anything malformed is skipped)."""
    if not isinstance(rules, list):
        return ()
    return tuple(PolicyRule.from_json(rule) for rule in rules if isinstance(rule, Mapping))


def verb_matches(rule: PolicyRule, verb: str) -> bool:
    return any(v == VERB_ALL or v == verb for v in rule.verbs)


def api_group_matches(rule: PolicyRule, group: str) -> bool:
    return any(g == API_GROUP_ALL or g == group for g in rule.api_groups)


def resource_matches(rule: PolicyRule, combined: str, subresource: str) -> bool:
    """``combined`` is ``resource`` or ``resource/subresource``; ``*/sub`` matches any
    resource's ``sub`` subresource."""
    any_resource = f"*/{subresource}" if subresource else None
    return any(r == RESOURCE_ALL or r == combined or r == any_resource for r in rule.resources)


def resource_name_matches(rule: PolicyRule, name: str) -> bool:
    """An empty list matches every name (and nameless requests such as list or create)."""
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url == NON_RESOURCE_ALL or url == path:
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs: RequestAttributes, rule: PolicyRule) -> bool:
    """kube's RuleAllows."""
    if attrs.resource_request:
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        return (
            verb_matches(rule, attrs.verb)
            and api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, combined, attrs.subresource)
            and resource_name_matches(rule, attrs.name)
        )
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


def rules_allow(attrs: RequestAttributes, rules: Iterable[PolicyRule]) -> bool:
    return any(rule_allows(attrs, rule) for rule in rules)


# -- subjects and bindings --------------------------------------------------------------------


def service_account_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}"


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Subject:
        return cls(
            kind=str(data.get("kind") or ""),
            name=str(data.get("name") or ""),
            namespace=str(data.get("namespace") or ""),
        )

    def describe(self, binding_namespace: str) -> str:
        """kube's describeSubject: ``User "alice"``, ``ServiceAccount "robot/team-a"``."""
        if self.kind == SERVICE_ACCOUNT_KIND:
            return f'{self.kind} "{self.name}/{self.namespace or binding_namespace}"'
        return f'{self.kind} "{self.name}"'


@dataclass(frozen=True, slots=True)
class RoleRef:
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (``namespace`` set) or ClusterRoleBinding (``namespace`` empty)."""

    name: str
    namespace: str
    role_ref: RoleRef
    subjects: tuple[Subject, ...]

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Binding:
        meta = obj.get("metadata") or {}
        ref = obj.get("roleRef") or {}
        subjects = obj.get("subjects") or []
        return cls(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            role_ref=RoleRef(str(ref.get("kind") or ""), str(ref.get("name") or "")),
            subjects=tuple(Subject.from_json(s) for s in subjects if isinstance(s, Mapping)),
        )

    def describe(self, subject: Subject) -> str:
        """kube's clusterRoleBindingDescriber / roleBindingDescriber."""
        ref = self.role_ref
        if self.namespace:
            return (
                f'RoleBinding "{self.name}/{self.namespace}" of {ref.kind} "{ref.name}" '
                f"to {subject.describe(self.namespace)}"
            )
        return (
            f'ClusterRoleBinding "{self.name}" of {ref.kind} "{ref.name}" to {subject.describe("")}'
        )


def applies_to(user: User, subject: Subject, namespace: str) -> bool:
    """kube's appliesToUser. A ServiceAccount subject without a namespace means the
    binding's own namespace (for a ClusterRoleBinding: nothing)."""
    if subject.kind == USER_KIND:
        return user.name == subject.name
    if subject.kind == GROUP_KIND:
        return subject.name in user.groups
    if subject.kind == SERVICE_ACCOUNT_KIND:
        sa_namespace = subject.namespace or namespace
        return bool(sa_namespace) and user.name == service_account_username(
            sa_namespace, subject.name
        )
    return False


def applying_subject(user: User, binding: Binding) -> Subject | None:
    """The first of the binding's subjects that is ``user`` (None if none is)."""
    for subject in binding.subjects:
        if applies_to(user, subject, binding.namespace):
            return subject
    return None


def subject_keys(binding: Binding) -> Iterator[SubjectKey]:
    """Index keys under which a binding must be found: the user names and groups it names.
    A ServiceAccount subject is keyed by its user name, which is how kube matches it."""
    for subject in binding.subjects:
        if subject.kind == USER_KIND:
            yield ("user", subject.name)
        elif subject.kind == GROUP_KIND:
            yield ("group", subject.name)
        elif subject.kind == SERVICE_ACCOUNT_KIND:
            sa_namespace = subject.namespace or binding.namespace
            if sa_namespace:
                yield ("user", service_account_username(sa_namespace, subject.name))


def user_keys(user: User) -> tuple[SubjectKey, ...]:
    """Index keys a user's bindings are found under (see ``subject_keys``)."""
    return (("user", user.name), *(("group", group) for group in user.groups))


def not_found_message(ref: RoleRef) -> str:
    """What kube's role getters say when a binding points at a missing role."""
    if ref.kind == ROLE_KIND:
        return f'role.rbac.authorization.k8s.io "{ref.name}" not found'
    if ref.kind == CLUSTER_ROLE_KIND:
        return f'clusterrole.rbac.authorization.k8s.io "{ref.name}" not found'
    return f'unsupported role reference kind: "{ref.kind}"'


def deny_reason(errors: Sequence[str]) -> str:
    """kube's deny reason: empty, or ``RBAC: `` and the aggregated resolution errors."""
    unique = list(dict.fromkeys(errors))
    if not unique:
        return ""
    if len(unique) == 1:
        return f"RBAC: {unique[0]}"
    return f"RBAC: [{', '.join(unique)}]"


# -- evaluation -------------------------------------------------------------------------------

# The rules of the role a binding refers to (None: that role does not exist).
RulesOf = Callable[[Binding], tuple[PolicyRule, ...] | None]


def visible_in(binding: Binding, namespace: str) -> bool:
    """ClusterRoleBindings apply everywhere; a RoleBinding only in its own namespace (so a
    RoleBinding to a ClusterRole grants that role's rules in that namespace alone)."""
    return not binding.namespace or binding.namespace == namespace


def evaluate(
    user: User, attrs: RequestAttributes, bindings: Iterable[Binding], rules_of: RulesOf
) -> tuple[bool, str]:
    """(allowed, reason) as kube's RBACAuthorizer.Authorize: the first applicable binding
    whose role has a rule allowing the request decides; otherwise deny, with any
    role-resolution errors as the reason."""
    errors: list[str] = []
    for binding in bindings:
        if not visible_in(binding, attrs.namespace):
            continue
        subject = applying_subject(user, binding)
        if subject is None:
            continue
        rules = rules_of(binding)
        if rules is None:
            errors.append(not_found_message(binding.role_ref))
        elif rules_allow(attrs, rules):
            return True, f"RBAC: allowed by {binding.describe(subject)}"
    return False, deny_reason(errors)


def rules_for(
    user: User, namespace: str, bindings: Iterable[Binding], rules_of: RulesOf
) -> tuple[list[PolicyRule], list[str]]:
    """Every rule applying to ``user`` in ``namespace`` and the role-resolution errors met
    (kube's DefaultRuleResolver.RulesFor)."""
    rules: list[PolicyRule] = []
    errors: list[str] = []
    for binding in bindings:
        if not visible_in(binding, namespace) or applying_subject(user, binding) is None:
            continue
        found = rules_of(binding)
        if found is None:
            errors.append(not_found_message(binding.role_ref))
        else:
            rules.extend(found)
    return rules, errors


# -- aggregation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabeledRole:
    """A ClusterRole as aggregation sees it."""

    name: str
    labels: Mapping[str, str]
    rules: tuple[PolicyRule, ...]


def aggregation_selectors(obj: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The ``aggregationRule.clusterRoleSelectors`` of a ClusterRole (None: not aggregated)."""
    rule = obj.get("aggregationRule")
    if not isinstance(rule, Mapping):
        return None
    selectors = rule.get("clusterRoleSelectors")
    if not isinstance(selectors, list):
        return []
    return [s for s in selectors if isinstance(s, Mapping)]


def aggregate_rules(
    name: str, selectors: Sequence[Mapping[str, Any]], roles: Iterable[LabeledRole]
) -> tuple[PolicyRule, ...]:
    """The rules of aggregated ClusterRole ``name``: the union of the rules of every other
    ClusterRole a selector matches, roles in name order, duplicates dropped (kube's
    clusterrole_aggregation_controller). An unparseable selector matches nothing."""
    parsed = []
    for selector in selectors:
        try:
            parsed.append(from_label_selector_json(selector))
        except SelectorError:
            continue
    chosen = sorted(
        (
            role
            for role in roles
            if role.name != name and any(s.matches(role.labels) for s in parsed)
        ),
        key=lambda role: role.name,
    )
    return tuple(dict.fromkeys(rule for role in chosen for rule in role.rules))


# -- rules review -----------------------------------------------------------------------------


def review_rules(
    rules: Iterable[PolicyRule],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(resourceRules, nonResourceRules) of a SubjectRulesReviewStatus, as kube's
    RBACAuthorizer.RulesFor splits policy rules."""
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for rule in rules:
        if rule.resources:
            entry: dict[str, Any] = {"verbs": list(rule.verbs)}
            if rule.api_groups:
                entry["apiGroups"] = list(rule.api_groups)
            entry["resources"] = list(rule.resources)
            if rule.resource_names:
                entry["resourceNames"] = list(rule.resource_names)
            resource_rules.append(entry)
        if rule.non_resource_urls:
            non_resource_rules.append(
                {"verbs": list(rule.verbs), "nonResourceURLs": list(rule.non_resource_urls)}
            )
    return resource_rules, non_resource_rules
