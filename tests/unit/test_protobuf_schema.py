"""The protobuf schema table (kubegate.api.protobuf_schema) and objects no kubectl command sends."""

from __future__ import annotations

import pytest
from test_protobuf import envelope, key, lf, vf

from kubegate.api.protobuf_schema import KINDS, SCHEMAS, parse_messages
from kubegate.core.protobuf import Field, Label, Presence, decode

T = 1767323045  # 2026-01-02T03:04:05Z
TS = "2026-01-02T03:04:05Z"


def time_(seconds: int) -> bytes:
    return vf(1, seconds)


def entry(name: str, value: str | bytes) -> bytes:
    return lf(1, name) + lf(2, value)


def quantities(number: int, **amounts: str) -> bytes:
    return b"".join(lf(number, entry(name, lf(1, amount))) for name, amount in amounts.items())


# --- the notation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("1 name string", Field(1, "name", "string")),
        ("6 appProtocol string ptr", Field(6, "appProtocol", "string", presence=Presence.POINTER)),
        ("3 port int32 always", Field(3, "port", "int32", presence=Presence.ALWAYS)),
        ("8 created time omitzero", Field(8, "created", "time", presence=Presence.OMITZERO)),
        ("2 ports []core.v1.P", Field(2, "ports", "core.v1.P", Label.REPEATED)),
        ("11 labels map[string]", Field(11, "labels", "string", Label.MAP)),
        ("2 inline core.v1.P  # embedded", Field(2, None, "core.v1.P")),
    ],
)
def test_notation_reads_one_field_a_line(line: str, field: Field):
    """Each line of a message is number, JSON name or inline, type and optional presence."""
    assert parse_messages(f"message t.M\n  {line}\n")["t.M"].fields == {field.number: field}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 name string", "line 1: cannot read"),
        ("message t.M\n name string", "line 2: cannot read"),
        ("message t.M\n 1 name", "line 2: cannot read"),
        ("message t.M\n 1 name string pointer", "unknown presence 'pointer'"),
        ("message t.M\n 1 a string\n 1 b string", "t.M field 1 twice"),
        ("message t.M\nmessage t.M", "message t.M defined twice"),
    ],
)
def test_notation_errors_name_the_line(text: str, message: str):
    """A malformed table fails at import with the offending line."""
    with pytest.raises(ValueError, match=message):
        parse_messages(text)


# --- the table -----------------------------------------------------------------------------


@pytest.mark.parametrize(("api_version", "kind"), sorted(KINDS))
def test_every_kind_decodes_its_zero_object(api_version: str, kind: str):
    """Every served kind decodes an empty object to Go's zero JSON form without reports."""
    obj, unknown = decode(envelope(api_version, kind, b""), SCHEMAS)
    assert obj["kind"] == kind and obj["apiVersion"] == api_version and unknown == []


# Field numbers read off k8s.io/api and k8s.io/apimachinery generated.proto, independently of
# how the table was written.
PROTO_NUMBERS = {
    "meta.v1.ObjectMeta": {
        "name": 1, "generateName": 2, "namespace": 3, "selfLink": 4, "uid": 5,
        "resourceVersion": 6, "generation": 7, "creationTimestamp": 8, "deletionTimestamp": 9,
        "deletionGracePeriodSeconds": 10, "labels": 11, "annotations": 12,
        "ownerReferences": 13, "finalizers": 14, "managedFields": 17,
    },
    "meta.v1.DeleteOptions": {
        "gracePeriodSeconds": 1, "preconditions": 2, "orphanDependents": 3,
        "propagationPolicy": 4, "dryRun": 5,
    },
    "meta.v1.LabelSelector": {"matchLabels": 1, "matchExpressions": 2},
    "core.v1.ServiceSpec": {
        "ports": 1, "selector": 2, "clusterIP": 3, "clusterIPs": 18, "type": 4,
        "externalIPs": 5, "sessionAffinity": 7, "loadBalancerIP": 8,
        "loadBalancerSourceRanges": 9, "externalName": 10, "externalTrafficPolicy": 11,
        "healthCheckNodePort": 12, "publishNotReadyAddresses": 13, "sessionAffinityConfig": 14,
        "ipFamilies": 19, "ipFamilyPolicy": 17, "allocateLoadBalancerNodePorts": 20,
        "loadBalancerClass": 21, "internalTrafficPolicy": 22,
    },
    "core.v1.ServiceStatus": {"loadBalancer": 1, "conditions": 2},
    "discovery.v1.Endpoint": {
        "addresses": 1, "conditions": 2, "hostname": 3, "targetRef": 4,
        "deprecatedTopology": 5, "nodeName": 6, "zone": 7, "hints": 8,
    },
    "discovery.v1.EndpointSlice": {"metadata": 1, "addressType": 4, "endpoints": 2, "ports": 3},
    "authentication.v1.TokenRequestSpec": {
        "audiences": 1, "expirationSeconds": 4, "boundObjectRef": 3,
    },
    "authentication.v1.BoundObjectReference": {"kind": 1, "apiVersion": 2, "name": 3, "uid": 4},
    "authentication.v1.UserInfo": {"username": 1, "uid": 2, "groups": 3, "extra": 4},
    "authentication.v1.TokenReviewStatus": {
        "authenticated": 1, "user": 2, "audiences": 4, "error": 3,
    },
}  # fmt: skip


@pytest.mark.parametrize("message", sorted(PROTO_NUMBERS))
def test_field_numbers_match_generated_proto(message: str):
    """Field numbers of the table agree with the upstream generated.proto files."""
    fields = SCHEMAS.messages[message].fields
    numbers = {field.json_name: number for number, field in fields.items()}
    assert {name: numbers.get(name) for name in PROTO_NUMBERS[message]} == PROTO_NUMBERS[message]


# --- objects no kubectl command sends as protobuf --------------------------------------------

POD = envelope(
    "v1",
    "Pod",
    lf(1, lf(1, "web") + lf(3, "team-a") + lf(8, b"") + lf(11, entry("app", "web")))
    + lf(
        2,
        lf(1, lf(1, "cfg") + lf(2, lf(19, lf(1, lf(1, "settings")) + vf(3, 420))))
        + lf(
            2,
            lf(1, "web")
            + lf(2, "nginx:1.27")
            + lf(6, lf(1, "http") + vf(3, 80) + lf(4, "TCP"))
            + lf(7, lf(1, "MODE") + lf(2, "fast"))
            + lf(7, lf(1, "POD_IP") + lf(3, lf(1, lf(1, "v1") + lf(2, "status.podIP"))))
            + lf(8, quantities(1, cpu="500m") + quantities(2, memory="64Mi"))
            + lf(9, lf(1, "cfg") + vf(2, 1) + lf(3, "/etc/cfg"))
            + lf(11, lf(1, lf(2, lf(1, "/healthz") + lf(2, vf(1, 1) + lf(3, "http")))) + vf(4, 5))
            + lf(14, "IfNotPresent")
            + lf(15, vf(5, 1) + vf(7, 0)),
        )
        + lf(3, "Always")
        + vf(4, 30)
        + lf(6, "ClusterFirst")
        + lf(7, entry("disk", "ssd"))
        + lf(22, lf(1, "dedicated") + lf(2, "Exists") + lf(4, "NoSchedule")),
    )
    + lf(
        3,
        lf(1, "Running")
        + lf(2, lf(1, "Ready") + lf(2, "True") + lf(3, b"") + lf(4, time_(T)))
        + lf(7, time_(T))
        + lf(
            8,
            lf(1, "web")
            + lf(2, lf(2, lf(1, time_(T))))
            + lf(3, b"")
            + vf(4, 1)
            + vf(5, 0)
            + lf(6, "nginx:1.27")
            + lf(7, "docker.io/library/nginx@sha256:abc")
            + vf(9, 1),
        ),
    ),
)

POD_JSON = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "team-a", "labels": {"app": "web"}},
    "spec": {
        "volumes": [{"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}}],
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.27",
                "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                "env": [
                    {"name": "MODE", "value": "fast"},
                    {
                        "name": "POD_IP",
                        "valueFrom": {
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}
                        },
                    },
                ],
                "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                "volumeMounts": [{"name": "cfg", "readOnly": True, "mountPath": "/etc/cfg"}],
                "readinessProbe": {
                    "httpGet": {"path": "/healthz", "port": "http"},
                    "periodSeconds": 5,
                },
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
    },
    "status": {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": TS}
        ],
        "startTime": TS,
        "containerStatuses": [
            {
                "name": "web",
                "state": {"running": {"startedAt": TS}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": "nginx:1.27",
                "imageID": "docker.io/library/nginx@sha256:abc",
                "started": True,
            }
        ],
    },
}


def test_pod():
    """A typical Pod (volumes, containers, env, resources, probes, status) decodes completely."""
    assert decode(POD, SCHEMAS) == (POD_JSON, [])


def test_pod_with_a_deprecated_volume_plugin_reports_it():
    """In-tree volume plugins left out of the table are reported at the volume's path."""
    pod = envelope("v1", "Pod", lf(2, lf(1, lf(1, "old") + lf(2, lf(3, lf(1, "pd-1"))))))
    obj, unknown = decode(pod, SCHEMAS)
    assert obj["spec"]["volumes"] == [{"name": "old"}]
    assert unknown == ["unknown field 3 in .spec.volumes[0]"]


def test_node():
    """A Node with quantities, taints, conditions, addresses and nodeInfo decodes completely."""
    node_info = lf(1, "m-1") + lf(7, "v1.37.1") + lf(9, "linux") + lf(10, "amd64")
    status = (
        quantities(1, cpu="4", memory="16Gi", pods="110")
        + quantities(2, cpu="3800m")
        + lf(
            4,
            lf(1, "Ready")
            + lf(2, "True")
            + lf(3, time_(T))
            + lf(4, time_(T))
            + lf(5, "KubeletReady"),
        )
        + lf(5, lf(1, "InternalIP") + lf(2, "10.0.0.5"))
        + lf(6, lf(1, vf(1, 10250)))
        + lf(7, node_info)
        + lf(8, lf(1, "nginx:1.27") + vf(2, 1000))
    )
    spec = lf(1, "10.244.0.0/24") + lf(7, "10.244.0.0/24") + vf(4, 1)
    spec += lf(5, lf(1, "role") + lf(2, "db") + lf(3, "NoSchedule"))
    obj, unknown = decode(
        envelope("v1", "Node", lf(1, lf(1, "node-1")) + lf(2, spec) + lf(3, status)), SCHEMAS
    )
    assert unknown == []
    assert obj["spec"] == {
        "podCIDR": "10.244.0.0/24",
        "podCIDRs": ["10.244.0.0/24"],
        "unschedulable": True,
        "taints": [{"key": "role", "value": "db", "effect": "NoSchedule"}],
    }
    assert obj["status"] == {
        "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        "allocatable": {"cpu": "3800m"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastHeartbeatTime": TS,
                "lastTransitionTime": TS,
                "reason": "KubeletReady",
            }
        ],
        "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "m-1",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": "",
            "osImage": "",
            "containerRuntimeVersion": "",
            "kubeletVersion": "v1.37.1",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "images": [{"names": ["nginx:1.27"], "sizeBytes": 1000}],
    }


def test_event():
    """A core/v1 Event with MicroTime eventTime and a series decodes completely."""
    raw = (
        lf(1, lf(1, "web.1") + lf(3, "team-a"))
        + lf(2, lf(1, "Pod") + lf(2, "team-a") + lf(3, "web") + lf(4, "u-1") + lf(5, "v1"))
        + lf(3, "Started")
        + lf(4, "Started container web")
        + lf(5, lf(1, "kubelet") + lf(2, "node-1"))
        + lf(6, time_(T))
        + lf(7, time_(T))
        + vf(8, 3)
        + lf(9, "Normal")
        + lf(10, time_(T) + vf(2, 5_000))
        + lf(11, vf(1, 2) + lf(2, time_(T + 1)))
        + lf(14, "kubelet")
        + lf(15, "node-1")
    )
    assert decode(envelope("v1", "Event", raw), SCHEMAS) == (
        {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": "web.1", "namespace": "team-a"},
            "involvedObject": {
                "kind": "Pod",
                "namespace": "team-a",
                "name": "web",
                "uid": "u-1",
                "apiVersion": "v1",
            },
            "reason": "Started",
            "message": "Started container web",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": TS,
            "lastTimestamp": TS,
            "count": 3,
            "type": "Normal",
            "eventTime": "2026-01-02T03:04:05.000005Z",
            "series": {"count": 2, "lastObservedTime": "2026-01-02T03:04:06.000000Z"},
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1",
        },
        [],
    )


def test_endpoint_slice():
    """An EndpointSlice keeps pointer booleans that are false and pointer ports."""
    raw = (
        lf(1, lf(1, "web-abc") + lf(11, entry("kubernetes.io/service-name", "web")))
        + lf(4, "IPv4")
        + lf(
            2,
            lf(1, "10.244.0.7")
            + lf(2, vf(1, 1) + vf(2, 1) + vf(3, 0))
            + lf(4, lf(1, "Pod") + lf(2, "team-a") + lf(3, "web"))
            + lf(6, "node-1"),
        )
        + lf(3, lf(1, "http") + lf(2, "TCP") + vf(3, 8080))
    )
    obj, unknown = decode(envelope("discovery.k8s.io/v1", "EndpointSlice", raw), SCHEMAS)
    assert unknown == []
    assert obj == {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["10.244.0.7"],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "namespace": "team-a", "name": "web"},
                "nodeName": "node-1",
            }
        ],
        "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
    }


@pytest.mark.parametrize(
    "api_version", ["v1", "rbac.authorization.k8s.io/v1", "meta.k8s.io/v1", "policy/v1"]
)
def test_delete_options_in_any_served_group_version(api_version: str):
    """DeleteOptions decodes under the group version of the resource being deleted."""
    raw = vf(1, 0) + lf(2, lf(1, "u-1")) + lf(4, "Foreground") + lf(5, "All")
    assert decode(envelope(api_version, "DeleteOptions", raw), SCHEMAS) == (
        {
            "kind": "DeleteOptions",
            "apiVersion": api_version,
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": "u-1"},
            "propagationPolicy": "Foreground",
            "dryRun": ["All"],
        },
        [],
    )


def test_eviction_carries_delete_options():
    """policy/v1 Eviction (kubectl drain) decodes with its nested DeleteOptions."""
    raw = lf(1, lf(1, "web") + lf(3, "team-a")) + lf(2, vf(1, 10))
    obj, _ = decode(envelope("policy/v1", "Eviction", raw), SCHEMAS)
    assert obj["deleteOptions"] == {"gracePeriodSeconds": 10}


def test_token_review_and_subject_access_review_extra():
    """UserInfo.extra and SubjectAccessReviewSpec.extra decode ExtraValue lists."""
    extra = lf(5, lf(1, "scopes") + lf(2, lf(1, "a") + lf(1, "b")))
    obj, _ = decode(
        envelope("authorization.k8s.io/v1", "SubjectAccessReview", lf(2, lf(3, "alice") + extra)),
        SCHEMAS,
    )
    assert obj["spec"] == {"user": "alice", "extra": {"scopes": ["a", "b"]}}
    status = lf(3, vf(1, 1) + lf(2, lf(1, "bob") + lf(4, lf(1, "k") + lf(2, lf(1, "v")))))
    obj, _ = decode(envelope("authentication.k8s.io/v1", "TokenReview", status), SCHEMAS)
    assert obj["status"] == {
        "authenticated": True,
        "user": {"username": "bob", "extra": {"k": ["v"]}},
    }


def test_managed_fields_and_owner_references():
    """ObjectMeta's ownerReferences and managedFields (FieldsV1 JSON) decode."""
    owner = lf(1, "ReplicaSet") + lf(3, "web-1") + lf(4, "u-2") + lf(5, "apps/v1") + vf(6, 1)
    managed = lf(1, "kubectl") + lf(2, "Update") + lf(3, "v1") + lf(4, time_(T))
    managed += lf(6, "FieldsV1") + lf(7, lf(1, b'{"f:data":{".":{}}}'))
    obj, _ = decode(envelope("v1", "ConfigMap", lf(1, lf(13, owner) + lf(17, managed))), SCHEMAS)
    assert obj["metadata"] == {
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-1",
                "uid": "u-2",
                "controller": True,
            }
        ],
        "managedFields": [
            {
                "manager": "kubectl",
                "operation": "Update",
                "apiVersion": "v1",
                "time": TS,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}}},
            }
        ],
    }


def test_immutable_false_is_kept():
    """ConfigMap.immutable is a pointer: an explicit false is part of the object."""
    obj, _ = decode(envelope("v1", "ConfigMap", vf(4, 0)), SCHEMAS)
    assert obj == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {}, "immutable": False}


def test_unknown_field_deep_in_a_service():
    """An unknown field in a nested list element is reported with its full path."""
    raw = lf(2, lf(1, vf(3, 80)) + lf(1, vf(3, 81) + key(99, 0) + b"\x01"))
    obj, unknown = decode(envelope("v1", "Service", raw), SCHEMAS)
    assert [port["port"] for port in obj["spec"]["ports"]] == [80, 81]
    assert unknown == ["unknown field 99 in .spec.ports[1]"]
