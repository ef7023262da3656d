"""Strategic merge patches of real kinds, with the metadata kubegate's schema provides."""

from __future__ import annotations

from typing import Any

import pytest

from kubegate.api.schema import patch_meta
from kubegate.core.patch import PatchError
from kubegate.core.strategic import apply_strategic_merge_patch
from kubegate.core.strategic_meta import NO_META

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "p",
        "finalizers": ["a"],
        "labels": {"app": "x"},
        "ownerReferences": [
            {"uid": "u1", "name": "rs", "kind": "ReplicaSet", "apiVersion": "apps/v1"}
        ],
    },
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "nginx:1",
                "ports": [{"containerPort": 80, "name": "http"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            },
            {"name": "side", "image": "busybox"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
    },
}

POD_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "containers merge by name",
        {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}},
        {
            "containers": [
                {**POD["spec"]["containers"][0], "image": "nginx:2"},
                POD["spec"]["containers"][1],
            ]
        },
    ),
    (
        "container ports merge by containerPort",
        {
            "spec": {
                "containers": [{"name": "app", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]
            }
        },
        {"ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}]},
    ),
    (
        "env merges by name and $patch: delete drops one",
        {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}],
                    }
                ]
            }
        },
        {"env": [{"name": "B", "value": "3"}]},
    ),
    (
        "volumeMounts merge by mountPath",
        {
            "spec": {
                "containers": [
                    {"name": "app", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}
                ]
            }
        },
        {"volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}]},
    ),
]


@pytest.mark.parametrize(
    ("patch", "expected"), [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES]
)
def test_pod_container_fields_merge_by_their_keys(
    patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Container lists and their ports/env/volumeMounts merge by their kube merge keys."""
    result = apply_strategic_merge_patch(POD, patch, patch_meta("", "v1", "Pod"))
    if "containers" in expected:
        assert result["spec"]["containers"] == expected["containers"]
    else:
        app = result["spec"]["containers"][0]
        for field, value in expected.items():
            assert app[field] == value


def test_volumes_honour_retain_keys() -> None:
    """A volume whose source changes drops the old source via $retainKeys."""
    patch = {
        "spec": {
            "volumes": [
                {"name": "data", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}
            ]
        }
    }
    result = apply_strategic_merge_patch(POD, patch, patch_meta("", "v1", "Pod"))
    assert result["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm"}}]


def test_tolerations_are_replaced() -> None:
    """Tolerations have no patch strategy, so a patch replaces the list."""
    patch = {"spec": {"tolerations": [{"key": "other", "operator": "Exists"}]}}
    result = apply_strategic_merge_patch(POD, patch, patch_meta("", "v1", "Pod"))
    assert result["spec"]["tolerations"] == [{"key": "other", "operator": "Exists"}]


def test_finalizers_are_a_merging_set() -> None:
    """metadata.finalizers merge as a set of strings."""
    result = apply_strategic_merge_patch(
        POD, {"metadata": {"finalizers": ["a", "b"]}}, patch_meta("", "v1", "Pod")
    )
    assert result["metadata"]["finalizers"] == ["a", "b"]


def test_owner_references_merge_by_uid() -> None:
    """metadata.ownerReferences merge by uid."""
    patch = {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}]}}
    result = apply_strategic_merge_patch(POD, patch, patch_meta("", "v1", "Pod"))
    assert result["metadata"]["ownerReferences"] == [
        {
            "uid": "u1",
            "name": "rs",
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "controller": True,
        }
    ]


def test_service_ports_merge_by_port() -> None:
    """Service spec.ports merge by port."""
    service = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    patch = {"spec": {"ports": [{"port": 80, "targetPort": "http"}]}}
    result = apply_strategic_merge_patch(service, patch, patch_meta("", "v1", "Service"))
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": "http"}, {"port": 443}]


def test_node_addresses_and_conditions_merge_by_type() -> None:
    """Node status.addresses and status.conditions merge by type."""
    node = {
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "conditions": [{"type": "Ready", "status": "False"}],
        }
    }
    patch = {
        "status": {
            "addresses": [{"type": "Hostname", "address": "n1"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    }
    result = apply_strategic_merge_patch(node, patch, patch_meta("", "v1", "Node"))
    assert result["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert {a["type"] for a in result["status"]["addresses"]} == {"InternalIP", "Hostname"}


@pytest.mark.parametrize(
    ("gvk", "path"),
    [
        (("rbac.authorization.k8s.io", "v1", "Role"), ("rules",)),
        (("rbac.authorization.k8s.io", "v1", "RoleBinding"), ("subjects",)),
        (("discovery.k8s.io", "v1", "EndpointSlice"), ("endpoints",)),
        (("", "v1", "Endpoints"), ("subsets",)),
    ],
)
def test_atomic_lists_are_replaced(gvk: tuple[str, str, str], path: tuple[str, ...]) -> None:
    """RBAC rules/subjects, EndpointSlice endpoints and Endpoints subsets are atomic."""
    field = path[0]
    original = {field: [{"name": "a", "x": 1}]}
    result = apply_strategic_merge_patch(original, {field: [{"name": "b"}]}, patch_meta(*gvk))
    assert result[field] == [{"name": "b"}]


def test_unknown_kind_has_no_meta() -> None:
    """A kind without a schema gets NO_META: lists replace, maps merge."""
    assert patch_meta("example.com", "v1", "Widget") is NO_META


def test_unknown_fields_merge_like_untyped_ones() -> None:
    """A field the schema does not know merges maps and replaces lists."""
    original = {"spec": {"extra": {"a": 1}, "more": [1]}}
    patch = {"spec": {"extra": {"b": 2}, "more": [2]}}
    result = apply_strategic_merge_patch(original, patch, patch_meta("", "v1", "Pod"))
    assert result["spec"] == {"extra": {"a": 1, "b": 2}, "more": [2]}


def test_merge_key_is_required_in_container_patches() -> None:
    """A container patch element without a name is rejected."""
    with pytest.raises(PatchError, match="merge key"):
        apply_strategic_merge_patch(
            POD, {"spec": {"containers": [{"image": "x"}]}}, patch_meta("", "v1", "Pod")
        )


def test_kubectl_apply_patch_round_trip() -> None:
    """The three-way patch kubectl 1.37 sends for a changed pod gives the applied result."""
    live = {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80}],
                },
                {"name": "side", "image": "busybox"},
            ]
        }
    }
    # Captured from `kubectl apply` against kubegate's OpenAPI (tests/unit/test_openapi_kubectl).
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
            "containers": [
                {
                    "$setElementOrder/env": [{"name": "B"}, {"name": "C"}],
                    "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}],
                    "env": [
                        {"name": "B", "value": "3"},
                        {"name": "C", "value": "4"},
                        {"$patch": "delete", "name": "A"},
                    ],
                    "image": "nginx:2",
                    "name": "app",
                    "ports": [{"containerPort": 443}],
                }
            ],
        }
    }
    result = apply_strategic_merge_patch(live, patch, patch_meta("", "v1", "Pod"))
    assert result == {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:2",
                    "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                    "ports": [{"containerPort": 80}, {"containerPort": 443}],
                },
                {"name": "side", "image": "busybox"},
            ]
        }
    }
