"""Validation of Pods, ConfigMaps, Secrets, Namespaces, Nodes and Leases."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubegate.api.validation import collect
from unit.validation_kit import Edit, Obj, causes, edited


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- Pod ----------------------------------------------------------------------------

POD: Obj = {
    "metadata": {"name": "web-0", "namespace": "default"},
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "nginx:1.27",
                "ports": [{"name": "http", "containerPort": 80}],
            },
            {"name": "sidecar", "image": "envoy:1"},
        ],
        "restartPolicy": "Always",
    },
}


def container_set(index: int, **fields: Any) -> Edit:
    return lambda o: o["spec"]["containers"][index].update(fields)


def port_set(**fields: Any) -> Edit:
    return lambda o: o["spec"]["containers"][0]["ports"][0].update(fields)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (lambda o: o["spec"].update(containers=[]), [("FieldValueRequired", "spec.containers")]),
        (container_set(0, name=""), [("FieldValueRequired", "spec.containers[0].name")]),
        (container_set(0, name="App"), [("FieldValueInvalid", "spec.containers[0].name")]),
        (container_set(1, name="app"), [("FieldValueDuplicate", "spec.containers[1].name")]),
        (container_set(0, image=""), [("FieldValueRequired", "spec.containers[0].image")]),
        (container_set(0, image=" nginx"), [("FieldValueInvalid", "spec.containers[0].image")]),
        (
            port_set(containerPort=0),
            [("FieldValueRequired", "spec.containers[0].ports[0].containerPort")],
        ),
        (
            port_set(containerPort=70000),
            [("FieldValueInvalid", "spec.containers[0].ports[0].containerPort")],
        ),
        (port_set(containerPort=65535), []),
        (port_set(hostPort=8080), []),
        (port_set(hostPort=70000), [("FieldValueInvalid", "spec.containers[0].ports[0].hostPort")]),
        (port_set(name="metrics-9090"), []),
        (port_set(name="9090"), [("FieldValueInvalid", "spec.containers[0].ports[0].name")]),
        (
            port_set(name="a-very-long-port-name"),
            [("FieldValueInvalid", "spec.containers[0].ports[0].name")],
        ),
        (port_set(name="a--b"), [("FieldValueInvalid", "spec.containers[0].ports[0].name")]),
        (port_set(protocol="UDP"), []),
        (
            port_set(protocol="QUIC"),
            [("FieldValueNotSupported", "spec.containers[0].ports[0].protocol")],
        ),
        (
            lambda o: o["spec"]["containers"][0]["ports"].append(
                {"name": "http", "containerPort": 81}
            ),
            [("FieldValueDuplicate", "spec.containers[0].ports[1].name")],
        ),
        (
            lambda o: (o["spec"].update(hostNetwork=True), port_set(hostPort=81)(o)),
            [("FieldValueInvalid", "spec.containers[0].ports[0].hostPort")],
        ),
        (
            lambda o: o["spec"].update(restartPolicy="Sometimes"),
            [("FieldValueNotSupported", "spec.restartPolicy")],
        ),
        (lambda o: o["spec"].update(initContainers=[{"name": "init", "image": "busybox"}]), []),
        (
            lambda o: o["spec"].update(initContainers=[{"name": "app", "image": "busybox"}]),
            [("FieldValueDuplicate", "spec.initContainers[0].name")],
        ),
        (
            lambda o: o["spec"].update(initContainers=[{"name": "init"}]),
            [("FieldValueRequired", "spec.initContainers[0].image")],
        ),
        (
            lambda o: o["spec"].update(
                initContainers=[{"name": "p", "image": "i", "restartPolicy": "Never"}]
            ),
            [("FieldValueNotSupported", "spec.initContainers[0].restartPolicy")],
        ),
        (lambda o: o["spec"].update(nodeSelector={"disk": "ssd"}), []),
        (
            lambda o: o["spec"].update(nodeSelector={"disk": "-ssd"}),
            [("FieldValueInvalid", "spec.nodeSelector")],
        ),
    ],
)
def test_pod_spec(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Containers need unique DNS-label names, images and valid ports."""
    assert causes("Pod", edited(POD, edit)) == expected


def test_port_name_message() -> None:
    """Port names that are all digits say a letter is needed."""
    (cause,) = collect("Pod", edited(POD, port_set(name="9090"))).causes
    assert cause.message == 'Invalid value: "9090": must contain at least one letter (a-z)'


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (container_set(0, image="nginx:1.28"), []),
        (lambda o: o["spec"].update(activeDeadlineSeconds=30), []),
        (lambda o: o["spec"].update(tolerations=[{"key": "k", "operator": "Exists"}]), []),
        (lambda o: o["metadata"].update(labels={"new": "label"}), []),
        (lambda o: o["spec"].update(nodeName="node-b"), [("FieldValueForbidden", "spec")]),
        (container_set(0, ports=[]), [("FieldValueForbidden", "spec")]),
        (lambda o: o["spec"].update(restartPolicy="Never"), [("FieldValueForbidden", "spec")]),
        (lambda o: o["spec"]["containers"].pop(), [("FieldValueForbidden", "spec.containers")]),
        (container_set(0, image=""), [("FieldValueRequired", "spec.containers[0].image")]),
    ],
)
def test_pod_update(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Pod specs are immutable apart from images, deadlines and added tolerations."""
    assert causes("Pod", edited(POD, edit), POD) == expected


def test_pod_update_message_lists_updatable_fields() -> None:
    """The forbidden-update message lists what may change, then what did."""
    new = edited(POD, lambda o: o["spec"].update(nodeName="node-b"))
    (cause,) = collect("Pod", new, POD).causes
    assert cause.message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
        "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
        "(allow it to be set to 1 if it was previously negative)\n"
    )
    assert '+ \tNodeName: "node-b",' in cause.message


@pytest.mark.parametrize(
    ("old_spec", "new_spec", "expected"),
    [
        ({"activeDeadlineSeconds": 60}, {"activeDeadlineSeconds": 30}, []),
        (
            {"activeDeadlineSeconds": 30},
            {"activeDeadlineSeconds": 60},
            [("FieldValueInvalid", "spec.activeDeadlineSeconds")],
        ),
        ({"activeDeadlineSeconds": 30}, {}, [("FieldValueInvalid", "spec.activeDeadlineSeconds")]),
        ({}, {"activeDeadlineSeconds": -1}, [("FieldValueInvalid", "spec.activeDeadlineSeconds")]),
        (
            {
                "tolerations": [
                    {
                        "key": "a",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 5,
                    }
                ]
            },
            {
                "tolerations": [
                    {
                        "key": "a",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 9,
                    },
                    {"key": "b", "operator": "Exists"},
                ]
            },
            [],
        ),
        (
            {"tolerations": [{"key": "a", "operator": "Exists"}]},
            {"tolerations": [{"key": "b", "operator": "Exists"}]},
            [("FieldValueForbidden", "spec.tolerations")],
        ),
    ],
)
def test_pod_update_deadlines_and_tolerations(
    old_spec: Obj, new_spec: Obj, expected: list[tuple[str, str]]
) -> None:
    """Deadlines may only shrink; existing tolerations may only change their seconds."""
    old = edited(POD, lambda o: o["spec"].update(old_spec))
    new = edited(POD, lambda o: o["spec"].update(new_spec))
    assert causes("Pod", new, old) == expected


# -- ConfigMap ----------------------------------------------------------------------

CONFIG_MAP: Obj = {
    "metadata": {"name": "cfg", "namespace": "default"},
    "data": {"app.yaml": "x: 1"},
}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (lambda o: o["data"].update({"KEY_name-1.txt": ""}), []),
        (lambda o: o["data"].update({"bad/key": "x"}), [("FieldValueInvalid", "data[bad/key]")]),
        (lambda o: o["data"].update({"..data": "x"}), [("FieldValueInvalid", "data[..data]")]),
        (lambda o: o.update(binaryData={"blob": b64(b"\x00\x01")}), []),
        (
            lambda o: o.update(binaryData={"b b": b64(b"x")}),
            [("FieldValueInvalid", "binaryData[b b]")],
        ),
        (
            lambda o: o.update(binaryData={"app.yaml": b64(b"x")}),
            [("FieldValueInvalid", "data[app.yaml]")],
        ),
        (lambda o: o["data"].update(big="x" * (1024 * 1024 - 10)), []),
        (lambda o: o["data"].update(big="x" * (1024 * 1024)), [("FieldValueTooLong", "")]),
    ],
)
def test_config_map(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Keys are file-name safe; data and binaryData total at most 1 MiB."""
    assert causes("ConfigMap", edited(CONFIG_MAP, edit)) == expected


IMMUTABLE_CM = edited(CONFIG_MAP, lambda o: o.update(immutable=True))


@pytest.mark.parametrize(
    ("old", "edit", "expected"),
    [
        (CONFIG_MAP, lambda o: o["data"].update(new="v"), []),
        (IMMUTABLE_CM, lambda o: o["metadata"].update(labels={"a": "b"}), []),
        (IMMUTABLE_CM, lambda o: o["data"].update(new="v"), [("FieldValueForbidden", "data")]),
        (
            IMMUTABLE_CM,
            lambda o: o.update(binaryData={"b": "AA=="}),
            [("FieldValueForbidden", "binaryData")],
        ),
        (IMMUTABLE_CM, lambda o: o.update(immutable=False), [("FieldValueForbidden", "immutable")]),
    ],
)
def test_config_map_update(old: Obj, edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Once immutable, a ConfigMap's data and immutability cannot change."""
    assert causes("ConfigMap", edited(old, edit), old) == expected


# -- Secret -------------------------------------------------------------------------

SECRET: Obj = {
    "metadata": {"name": "s", "namespace": "default"},
    "type": "Opaque",
    "data": {"password": b64(b"hunter2")},
}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (
            lambda o: o["data"].update({"bad key": b64(b"x")}),
            [("FieldValueInvalid", "data[bad key]")],
        ),
        (lambda o: o.update(stringData={"bad key": "x"}), [("FieldValueInvalid", "data[bad key]")]),
        (
            lambda o: o["data"].update(big=b64(b"x" * (1024 * 1024))),
            [("FieldValueTooLong", "data")],
        ),
        (lambda o: o.update(type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""}), []),
        (
            lambda o: o.update(type="kubernetes.io/tls", data={"tls.crt": b64(b"c")}),
            [("FieldValueRequired", "data[tls.key]")],
        ),
        (
            lambda o: o.update(type="kubernetes.io/tls", data={}),
            [("FieldValueRequired", "data[tls.crt]"), ("FieldValueRequired", "data[tls.key]")],
        ),
        (
            lambda o: o.update(
                type="kubernetes.io/tls", data={}, stringData={"tls.crt": "c", "tls.key": "k"}
            ),
            [],
        ),
        (
            lambda o: (
                o.update(type="kubernetes.io/service-account-token"),
                o["metadata"].update(annotations={"kubernetes.io/service-account.name": "default"}),
            ),
            [],
        ),
        (
            lambda o: o.update(type="kubernetes.io/service-account-token"),
            [("FieldValueRequired", "metadata.annotations[kubernetes.io/service-account.name]")],
        ),
        (
            lambda o: o.update(
                type="kubernetes.io/dockerconfigjson",
                data={".dockerconfigjson": b64(b'{"auths":{}}')},
            ),
            [],
        ),
        (
            lambda o: o.update(
                type="kubernetes.io/dockerconfigjson", data={".dockerconfigjson": b64(b"nope")}
            ),
            [("FieldValueInvalid", "data[.dockerconfigjson]")],
        ),
        (
            lambda o: o.update(type="kubernetes.io/basic-auth", data={}),
            [("FieldValueRequired", "data[username]"), ("FieldValueRequired", "data[password]")],
        ),
        (lambda o: o.update(type="example.com/custom"), []),
    ],
)
def test_secret(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Secret keys, size and type-specific required keys follow ValidateSecret."""
    assert causes("Secret", edited(SECRET, edit)) == expected


@pytest.mark.parametrize(
    ("old", "edit", "expected"),
    [
        (SECRET, lambda o: o["data"].update(more=b64(b"x")), []),
        (
            SECRET,
            lambda o: o.update(type="kubernetes.io/basic-auth", data={"username": ""}),
            [("FieldValueInvalid", "type")],
        ),
        ({**SECRET, "type": ""}, lambda o: o.update(type="Opaque"), []),
        (
            {**SECRET, "immutable": True},
            lambda o: o["data"].update(more=b64(b"x")),
            [("FieldValueForbidden", "data")],
        ),
    ],
)
def test_secret_update(old: Obj, edit: Edit, expected: list[tuple[str, str]]) -> None:
    """A Secret's type never changes, nor its data once immutable."""
    assert causes("Secret", edited(old, edit), old) == expected


# -- Namespace, Node, ServiceAccount, Lease -----------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"finalizers": ["kubernetes"]}, []),
        ({"finalizers": ["example.com/cleanup"]}, []),
        ({"finalizers": ["cleanup"]}, [("FieldValueInvalid", "spec.finalizers")]),
    ],
)
def test_namespace(spec: Obj, expected: list[tuple[str, str]]) -> None:
    """Namespace finalizers are standard or fully qualified."""
    assert causes("Namespace", {"metadata": {"name": "dev"}, "spec": spec}) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"podCIDRs": ["10.244.0.0/24", "fd00:10::/64"]}, []),
        ({"podCIDRs": ["10.244.0.0"]}, [("FieldValueInvalid", "spec.podCIDRs[0]")]),
        ({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}, []),
        (
            {"taints": [{"key": "dedicated", "effect": "Sometimes"}]},
            [("FieldValueNotSupported", "metadata.taints[0].effect")],
        ),
        ({"taints": [{"key": "dedicated"}]}, [("FieldValueRequired", "metadata.taints[0].effect")]),
        (
            {"taints": [{"key": "bad key", "effect": "NoSchedule"}]},
            [("FieldValueInvalid", "metadata.taints[0].key")],
        ),
    ],
)
def test_node(spec: Obj, expected: list[tuple[str, str]]) -> None:
    """Node pod CIDRs and taints are checked (taints under kube's metadata.taints path)."""
    assert causes("Node", {"metadata": {"name": "node-a"}, "spec": spec}) == expected


def test_service_account_gets_meta_checks() -> None:
    """ServiceAccounts are checked for metadata only."""
    assert causes("ServiceAccount", {"metadata": {"name": "builder", "namespace": "ci"}}) == []
    assert causes("ServiceAccount", {"metadata": {"name": "Builder", "namespace": "ci"}}) == [
        ("FieldValueInvalid", "metadata.name")
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"holderIdentity": "node-a", "leaseDurationSeconds": 15, "leaseTransitions": 0}, []),
        ({"leaseDurationSeconds": 0}, [("FieldValueInvalid", "spec.leaseDurationSeconds")]),
        ({"leaseTransitions": -1}, [("FieldValueInvalid", "spec.leaseTransitions")]),
    ],
)
def test_lease(spec: Obj, expected: list[tuple[str, str]]) -> None:
    """Lease durations are positive and transitions non-negative."""
    assert (
        causes("Lease", {"metadata": {"name": "l", "namespace": "kube-system"}, "spec": spec})
        == expected
    )
