"""Object validation: ObjectMeta rules, the Invalid error, and per-kind name rules."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubegate.api.validation import collect, validate
from kubegate.errors import Invalid

Obj = dict[str, Any]


def causes(kind: str, obj: Obj, old: Obj | None = None) -> list[tuple[str, str]]:
    """(cause type, field path) pairs for every problem found."""
    return [(c.type, c.field) for c in collect(kind, obj, old).causes]


def config_map(**metadata: Any) -> Obj:
    return {"kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default", **metadata}}


def edited(obj: Obj, edit: Callable[[Obj], None]) -> Obj:
    result = copy.deepcopy(obj)
    edit(result)
    return result


# -- the Invalid error --------------------------------------------------------------


def test_valid_object_passes() -> None:
    """A well-formed object raises nothing."""
    validate("ConfigMap", config_map(labels={"app": "web"}))


def test_invalid_error_carries_kube_message_and_causes() -> None:
    """The error reads like kube's and carries field causes for the Status."""
    with pytest.raises(Invalid) as caught:
        validate(
            "Service",
            {
                "metadata": {"name": "My-Svc", "namespace": "default"},
                "spec": {"ports": [{"port": 80}]},
            },
        )
    error = caught.value
    assert error.code == 422
    assert error.kind == "Service"
    assert error.name == "My-Svc"
    assert error.message.startswith(
        'Service "My-Svc" is invalid: metadata.name: Invalid value: "My-Svc": a DNS-1035 label must consist of'
    )
    (cause,) = error.causes
    assert (cause.type, cause.field) == ("FieldValueInvalid", "metadata.name")


def test_invalid_error_names_the_group() -> None:
    """Kinds outside the core group are qualified by their group in the message."""
    binding = {
        "metadata": {"name": "b", "namespace": "d"},
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [],
    }
    with pytest.raises(Invalid) as caught:
        validate("RoleBinding", binding)
    assert caught.value.message.startswith(
        'RoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef.apiGroup'
    )
    assert caught.value.group == "rbac.authorization.k8s.io"


# -- ObjectMeta on create -----------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"name": "ok.name-1", "namespace": "default"}, []),
        ({"namespace": "default"}, [("FieldValueRequired", "metadata.name")]),
        ({"generateName": "web-", "namespace": "default"}, []),
        (
            {"generateName": "Web-", "namespace": "default"},
            [("FieldValueInvalid", "metadata.generateName")],
        ),
        ({"name": "Bad_Name", "namespace": "default"}, [("FieldValueInvalid", "metadata.name")]),
        ({"name": "a" * 254, "namespace": "default"}, [("FieldValueInvalid", "metadata.name")]),
        ({"name": "-" * 254, "namespace": "default"}, [("FieldValueInvalid", "metadata.name")] * 2),
        ({"name": "c"}, [("FieldValueRequired", "metadata.namespace")]),
        ({"name": "c", "namespace": "Default"}, [("FieldValueInvalid", "metadata.namespace")]),
        ({"name": "c", "namespace": "d", "labels": {"app": "web", "example.com/tier": ""}}, []),
        (
            {"name": "c", "namespace": "d", "labels": {"bad key": "v"}},
            [("FieldValueInvalid", "metadata.labels")],
        ),
        (
            {"name": "c", "namespace": "d", "labels": {"k": "-v"}},
            [("FieldValueInvalid", "metadata.labels")],
        ),
        (
            {
                "name": "c",
                "namespace": "d",
                "annotations": {"Example.COM/Note": "any value at all"},
            },
            [],
        ),
        (
            {"name": "c", "namespace": "d", "annotations": {"a/b/c": "x"}},
            [("FieldValueInvalid", "metadata.annotations")],
        ),
        (
            {"name": "c", "namespace": "d", "annotations": {"big": "x" * (256 * 1024)}},
            [("FieldValueTooLong", "metadata.annotations")],
        ),
        ({"name": "c", "namespace": "d", "annotations": {"big": "x" * (256 * 1024 - 3)}}, []),
        ({"name": "c", "namespace": "d", "finalizers": ["example.com/cleanup"]}, []),
        (
            {"name": "c", "namespace": "d", "finalizers": ["bad finalizer"]},
            [("FieldValueInvalid", "metadata.finalizers")],
        ),
        (
            {"name": "c", "namespace": "d", "generation": -1},
            [("FieldValueInvalid", "metadata.generation")],
        ),
    ],
)
def test_object_meta(metadata: Obj, expected: list[tuple[str, str]]) -> None:
    """Names, namespaces, labels, annotations and finalizers follow kube's rules."""
    assert causes("ConfigMap", {"metadata": metadata}) == expected


def test_annotation_size_message() -> None:
    """Oversized annotations report the 256 KiB limit."""
    (cause,) = collect("ConfigMap", config_map(annotations={"a": "x" * 300_000})).causes
    assert cause.message == "Too long: may not be more than 262144 bytes"


def test_required_name_message() -> None:
    """A missing name says name or generateName is required."""
    (cause,) = collect("ConfigMap", {"metadata": {"namespace": "d"}}).causes
    assert cause.message == "Required value: name or generateName is required"


@pytest.mark.parametrize(
    ("kind", "name", "valid"),
    [
        ("Namespace", "team-a", True),
        ("Namespace", "team.a", False),
        ("Service", "web", True),
        ("Service", "1web", False),
        ("Service", "web.svc", False),
        ("Pod", "web.0", True),
        ("Node", "node-1.example.com", True),
        ("Role", "system:controller:x", True),
        ("Role", "a/b", False),
        ("ClusterRole", "..", False),
        ("Lease", "kube-controller-manager", True),
        ("Widget", "UPPER", False),
    ],
)
def test_name_rule_per_kind(kind: str, name: str, valid: bool) -> None:
    """Each kind validates names with kube's rule for it."""
    obj = {"metadata": {"name": name, "namespace": "d"}}
    if kind == "Service":
        obj["spec"] = {"clusterIP": "None"}
    if kind == "Pod":
        obj["spec"] = {"containers": [{"name": "c", "image": "i"}]}
    found = [c for c in causes(kind, obj) if c[1] == "metadata.name"]
    assert (found == []) is valid


def test_cluster_scoped_kinds_ignore_namespace() -> None:
    """Cluster-scoped kinds need no namespace; one sent along is ignored."""
    assert causes("Namespace", {"metadata": {"name": "dev"}}) == []
    assert causes("ClusterRole", {"metadata": {"name": "r", "namespace": "x"}}) == []
    assert causes("PersistentVolume", {"metadata": {"name": "pv1"}}) == []


def test_scope_override_for_custom_kinds() -> None:
    """Callers can declare a custom kind namespaced."""
    assert collect("Widget", {"metadata": {"name": "w"}}).causes == []
    assert [
        (c.type, c.field)
        for c in collect("Widget", {"metadata": {"name": "w"}}, namespaced=True).causes
    ] == [("FieldValueRequired", "metadata.namespace")]


# -- ObjectMeta on update -----------------------------------------------------------

OLD = config_map(uid="u-1", creationTimestamp="2024-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: o["metadata"].update(labels={"new": "label"}), []),
        (lambda o: o["metadata"].update(name="other"), [("FieldValueInvalid", "metadata.name")]),
        (
            lambda o: o["metadata"].update(namespace="other"),
            [("FieldValueInvalid", "metadata.namespace")],
        ),
        (lambda o: o["metadata"].update(uid="u-2"), [("FieldValueInvalid", "metadata.uid")]),
        (
            lambda o: o["metadata"].update(creationTimestamp="2025-01-01T00:00:00Z"),
            [("FieldValueInvalid", "metadata.creationTimestamp")],
        ),
        (lambda o: o["metadata"].pop("uid"), []),
    ],
)
def test_object_meta_update(edit: Callable[[Obj], None], expected: list[tuple[str, str]]) -> None:
    """Identity fields cannot change; everything else in metadata may."""
    assert causes("ConfigMap", edited(OLD, edit), OLD) == expected


def test_immutable_message() -> None:
    """Changing an immutable field says so."""
    (cause,) = collect(
        "ConfigMap", edited(OLD, lambda o: o["metadata"].update(uid="x")), OLD
    ).causes
    assert cause.message == 'Invalid value: "x": field is immutable'
