"""Server-side Table printing: columns and cells as kube-apiserver prints them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubegate.api.tables import columns_for, table_for
from kubegate.api.tables_format import human_duration
from kubegate.errors import BadRequest

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2024-05-01T11:55:00Z"  # five minutes before NOW


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": CREATED, **extra}


def cells(kind: str, obj: dict[str, Any]) -> list[Any]:
    table = table_for(kind, [obj], now=NOW)
    (row,) = table["rows"]
    assert len(row["cells"]) == len(table["columnDefinitions"])
    return list(row["cells"])


# -- age formatting -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-5), "<invalid>"),
        (timedelta(seconds=-1.5), "0s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=59), "59s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(seconds=120), "2m"),
        (timedelta(seconds=185), "3m5s"),
        (timedelta(minutes=9, seconds=59), "9m59s"),
        (timedelta(minutes=10, seconds=30), "10m"),
        (timedelta(minutes=179), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=3, minutes=5), "3h5m"),
        (timedelta(hours=8, minutes=59), "8h"),
        (timedelta(hours=47), "47h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=2, hours=3), "2d3h"),
        (timedelta(days=7, hours=23), "7d23h"),
        (timedelta(days=8, hours=5), "8d"),
        (timedelta(days=729), "729d"),
        (timedelta(days=730), "2y"),
        (timedelta(days=760), "2y30d"),
        (timedelta(days=365 * 8 + 100), "8y"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    """Ages read like kubectl's AGE column (duration.HumanDuration)."""
    assert human_duration(delta) == text


# -- table envelope -----------------------------------------------------------------


def test_table_envelope_with_partial_metadata() -> None:
    """A Table carries list metadata, column definitions and PartialObjectMetadata rows."""
    cm = {"kind": "ConfigMap", "metadata": meta("c", uid="u1"), "data": {"a": "1"}}
    table = table_for("ConfigMap", [cm], now=NOW, resource_version="42")
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["columnDefinitions"][0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": table["columnDefinitions"][0]["description"],
        "priority": 0,
    }
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": cm["metadata"],
    }


def test_include_object_variants() -> None:
    """includeObject=Object attaches the object, None attaches nothing."""
    cm = {"metadata": meta("c")}
    assert table_for("ConfigMap", [cm], now=NOW, include_object="Object")["rows"][0]["object"] is cm
    assert "object" not in table_for("ConfigMap", [cm], now=NOW, include_object="None")["rows"][0]
    with pytest.raises(BadRequest):
        table_for("ConfigMap", [cm], now=NOW, include_object="Everything")


def test_no_headers_and_continue() -> None:
    """noHeaders drops column definitions; continue tokens pass through."""
    table = table_for("ConfigMap", [], now=NOW, no_headers=True, continue_token="abc")
    assert table["columnDefinitions"] == []
    assert table["metadata"] == {"continue": "abc"}
    assert table["rows"] == []


def test_unknown_kind_uses_default_table() -> None:
    """Kinds without a printer get Name and Created At."""
    cols = columns_for("Widget")
    assert [(c.name, c.type) for c in cols] == [("Name", "string"), ("Created At", "date")]
    assert cells("Widget", {"metadata": meta("w")}) == ["w", "2024-05-01T11:55:00Z"]


@pytest.mark.parametrize("kind", ["Role", "ClusterRole"])
def test_roles_use_default_table(kind: str) -> None:
    """Roles print NAME and CREATED AT, as kubectl shows them."""
    assert cells(
        kind, {"metadata": {"name": "r", "creationTimestamp": "2024-05-01T13:55:00+02:00"}}
    ) == [
        "r",
        "2024-05-01T11:55:00Z",
    ]


# -- Service ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        (
            {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                "selector": {"k8s-app": "dns", "a": "b"},
            },
            {},
            ["ClusterIP", "10.96.0.10", "<none>", "80/TCP,53/UDP", "a=b,k8s-app=dns"],
        ),
        (
            {
                "type": "NodePort",
                "clusterIPs": ["10.96.0.11"],
                "ports": [
                    {"port": 80, "protocol": "TCP", "nodePort": 30080},
                    {"port": 443, "protocol": "TCP", "nodePort": 30443},
                ],
                "externalIPs": ["1.2.3.4"],
            },
            {},
            ["NodePort", "10.96.0.11", "1.2.3.4", "80:30080/TCP,443:30443/TCP", "<none>"],
        ),
        (
            {
                "type": "LoadBalancer",
                "clusterIPs": ["10.96.0.12"],
                "ports": [{"port": 80, "nodePort": 31000}],
            },
            {},
            ["LoadBalancer", "10.96.0.12", "<pending>", "80:31000/TCP", "<none>"],
        ),
        (
            {
                "type": "LoadBalancer",
                "clusterIPs": ["10.96.0.12"],
                "ports": [{"port": 80, "protocol": "TCP"}],
            },
            {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}},
            ["LoadBalancer", "10.96.0.12", "5.6.7.8,lb.example.com", "80/TCP", "<none>"],
        ),
        (
            {"type": "ExternalName", "externalName": "db.example.com"},
            {},
            ["ExternalName", "<none>", "db.example.com", "<none>", "<none>"],
        ),
        (
            {
                "type": "ClusterIP",
                "clusterIP": "None",
                "clusterIPs": ["None"],
                "selector": {"app": "x"},
            },
            {},
            ["ClusterIP", "None", "<none>", "<none>", "app=x"],
        ),
    ],
)
def test_service_cells(spec: dict[str, Any], status: dict[str, Any], expected: list[str]) -> None:
    """Service rows show type, cluster IP, external IP and ports like kubectl."""
    row = cells("Service", {"metadata": meta("svc"), "spec": spec, "status": status})
    assert row == ["svc", *expected[:4], "5m", expected[4]]


def test_service_columns() -> None:
    """Selector is the only wide Service column."""
    assert [(c.name, c.priority) for c in columns_for("Service")] == [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ]


# -- Pod ----------------------------------------------------------------------------


def running(name: str, ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {}}}


def pod(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "app"}, {"name": "side"}])
    return {"metadata": meta("web-0"), "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("obj", "ready", "status", "restarts"),
    [
        (pod({"phase": "Pending"}), "0/2", "Pending", "0"),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [running("app"), running("side", ready=False)],
                }
            ),
            "1/2",
            "Running",
            "0",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "containerStatuses": [
                        {"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}},
                        {"name": "side", "state": {"waiting": {"reason": "ContainerCreating"}}},
                    ],
                }
            ),
            "0/2",
            "ContainerCreating",
            "0",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [
                        {
                            "name": "app",
                            "restartCount": 4,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                            "lastState": {
                                "terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}
                            },
                        },
                        running("side"),
                    ],
                }
            ),
            "1/2",
            "CrashLoopBackOff",
            "4 (2m ago)",
        ),
        (
            pod(
                {
                    "phase": "Succeeded",
                    "containerStatuses": [
                        {
                            "name": "app",
                            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                        },
                        {
                            "name": "side",
                            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                        },
                    ],
                }
            ),
            "0/2",
            "Completed",
            "0",
        ),
        (
            pod(
                {
                    "phase": "Failed",
                    "containerStatuses": [
                        {"name": "app", "state": {"terminated": {"exitCode": 137}}},
                        {"name": "side", "state": {"terminated": {"exitCode": 0, "signal": 9}}},
                    ],
                }
            ),
            "0/2",
            "ExitCode:137",
            "0",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "init", "state": {"waiting": {"reason": "PodInitializing"}}}
                    ],
                },
                initContainers=[{"name": "init"}, {"name": "init2"}],
            ),
            "0/2",
            "Init:0/2",
            "0",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "init", "state": {"terminated": {"exitCode": 0}}},
                        {
                            "name": "init2",
                            "restartCount": 2,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        },
                    ],
                },
                initContainers=[{"name": "init"}, {"name": "init2"}],
            ),
            "0/2",
            "Init:CrashLoopBackOff",
            "2",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "init", "state": {"terminated": {"exitCode": 2}}}
                    ],
                },
                initContainers=[{"name": "init"}],
            ),
            "0/2",
            "Init:ExitCode:2",
            "0",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "initContainerStatuses": [
                        {"name": "proxy", "started": True, "ready": True, "state": {"running": {}}}
                    ],
                    "containerStatuses": [running("app"), running("side")],
                },
                initContainers=[{"name": "proxy", "restartPolicy": "Always"}],
            ),
            "3/3",
            "Running",
            "0",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "conditions": [
                        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                    ],
                }
            ),
            "0/2",
            "SchedulingGated",
            "0",
        ),
        (
            pod({"phase": "Failed", "reason": "Evicted"}),
            "0/2",
            "Evicted",
            "0",
        ),
    ],
)
def test_pod_status_cells(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    """READY, STATUS and RESTARTS follow kube's printPod rules."""
    row = cells("Pod", obj)
    assert row[1:5] == [ready, status, restarts, "5m"]


def test_pod_terminating() -> None:
    """A running pod with a deletion timestamp shows Terminating."""
    obj = pod({"phase": "Running", "containerStatuses": [running("app"), running("side")]})
    obj["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    assert cells("Pod", obj)[2] == "Terminating"


def test_pod_node_lost_shows_unknown() -> None:
    """A deleted pod on an unreachable node shows Unknown."""
    obj = pod({"phase": "Running", "reason": "NodeLost"})
    obj["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    assert cells("Pod", obj)[2] == "Unknown"


def test_pod_completed_with_running_container_is_not_ready() -> None:
    """A pod whose first container completed while another runs is NotReady, not Completed."""
    obj = pod(
        {
            "phase": "Running",
            "containerStatuses": [
                {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                running("side"),
            ],
        }
    )
    assert cells("Pod", obj)[2] == "NotReady"


def test_pod_wide_cells() -> None:
    """Wide cells show IP, node, nominated node and readiness gates, or <none>."""
    obj = pod(
        {
            "phase": "Running",
            "podIPs": [{"ip": "10.1.0.5"}],
            "conditions": [{"type": "example.com/gate", "status": "True"}],
        },
        nodeName="node-a",
        readinessGates=[{"conditionType": "example.com/gate"}, {"conditionType": "other"}],
    )
    assert cells("Pod", obj)[5:] == ["10.1.0.5", "node-a", "<none>", "1/2"]
    assert cells("Pod", pod({"phase": "Pending"}))[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_pod_row_conditions() -> None:
    """Finished pods carry a Completed row condition."""
    table = table_for("Pod", [pod({"phase": "Succeeded"})], now=NOW)
    assert table["rows"][0]["conditions"][0]["reason"] == "Succeeded"
    table = table_for("Pod", [pod({"phase": "Running"})], now=NOW)
    assert "conditions" not in table["rows"][0]


def test_pod_columns() -> None:
    """Pod columns and priorities match kube."""
    assert [(c.name, c.priority) for c in columns_for("Pod")] == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]


# -- Node, Namespace ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "status", "roles"),
    [
        ({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, "Ready", "<none>"),
        ({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, "NotReady", "<none>"),
        (
            {"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}},
            "NotReady",
            "<none>",
        ),
        ({"status": {}}, "Unknown", "<none>"),
        (
            {
                "spec": {"unschedulable": True},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            },
            "Ready,SchedulingDisabled",
            "<none>",
        ),
        (
            {
                "labels": {
                    "node-role.kubernetes.io/control-plane": "",
                    "node-role.kubernetes.io/worker": "",
                    "kubernetes.io/role": "edge",
                }
            },
            "Unknown",
            "control-plane,edge,worker",
        ),
    ],
)
def test_node_status_and_roles(node: dict[str, Any], status: str, roles: str) -> None:
    """Node STATUS comes from the Ready condition; ROLES from node-role labels."""
    labels = node.pop("labels", {})
    obj = {"metadata": {**meta("n1"), "labels": labels}, **node}
    assert cells("Node", obj)[1:3] == [status, roles]


def test_node_cells() -> None:
    """Node rows show kubelet version and, wide, addresses and system info."""
    obj = {
        "metadata": meta("n1"),
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [
                {"type": "InternalIP", "address": "192.168.1.10"},
                {"type": "Hostname", "address": "n1"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.30.0",
                "osImage": "Debian 12",
                "kernelVersion": "6.1",
                "containerRuntimeVersion": "containerd://1.7",
            },
        },
    }
    assert cells("Node", obj) == [
        "n1",
        "Ready",
        "<none>",
        "5m",
        "v1.30.0",
        "192.168.1.10",
        "<none>",
        "Debian 12",
        "6.1",
        "containerd://1.7",
    ]
    assert cells("Node", {"metadata": meta("n2")})[7:] == ["<unknown>", "<unknown>", "<unknown>"]


def test_namespace_cells() -> None:
    """Namespaces show their phase."""
    assert cells("Namespace", {"metadata": meta("dev"), "status": {"phase": "Active"}}) == [
        "dev",
        "Active",
        "5m",
    ]


# -- Endpoints and EndpointSlice ----------------------------------------------------


def subset(ips: list[str], ports: list[int]) -> dict[str, Any]:
    return {"addresses": [{"ip": ip} for ip in ips], "ports": [{"port": p} for p in ports]}


@pytest.mark.parametrize(
    ("subsets", "text"),
    [
        ([], "<none>"),
        ([subset(["10.0.0.1", "10.0.0.2"], [80])], "10.0.0.1:80,10.0.0.2:80"),
        (
            [subset(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"], [80])],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...",
        ),
        (
            [subset(["10.0.0.1", "10.0.0.2"], [80, 443])],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
        ),
        ([subset(["10.0.0.1"], [])], "10.0.0.1"),
        ([subset(["fd00::1"], [80])], "[fd00::1]:80"),
    ],
)
def test_endpoints_cells(subsets: list[dict[str, Any]], text: str) -> None:
    """ENDPOINTS lists three host:port pairs, then counts the rest."""
    assert cells("Endpoints", {"metadata": meta("svc"), "subsets": subsets}) == ["svc", text, "5m"]


def test_endpoint_slice_cells() -> None:
    """EndpointSlice rows show address type, ports and addresses."""
    obj = {
        "metadata": meta("svc-abc"),
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80}, {"name": "metrics"}, {}, {"port": 9}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}],
    }
    assert cells("EndpointSlice", obj) == [
        "svc-abc",
        "IPv4",
        "80,metrics,* + 1 more...",
        "10.0.0.1,10.0.0.2",
        "5m",
    ]
    assert cells("EndpointSlice", {"metadata": meta("e"), "addressType": "IPv6"})[2:4] == [
        "<unset>",
        "<unset>",
    ]


# -- config, RBAC, leases, events ---------------------------------------------------


def test_config_map_and_secret_cells() -> None:
    """Data counts keys; Secrets also show their type."""
    assert cells(
        "ConfigMap", {"metadata": meta("c"), "data": {"a": "1"}, "binaryData": {"b": "AA=="}}
    ) == ["c", 2, "5m"]
    secret = {
        "metadata": meta("s"),
        "type": "Opaque",
        "data": {"a": "MQ=="},
        "stringData": {"b": "x"},
    }
    assert cells("Secret", secret) == ["s", "Opaque", 2, "5m"]


def test_service_account_cells() -> None:
    """ServiceAccounts show how many secrets they list."""
    assert cells("ServiceAccount", {"metadata": meta("default")}) == ["default", 0, "5m"]
    assert cells("ServiceAccount", {"metadata": meta("sa"), "secrets": [{"name": "t"}]}) == [
        "sa",
        1,
        "5m",
    ]


@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding"])
def test_binding_cells(kind: str) -> None:
    """Bindings show Kind/Name of the role and, wide, their subjects."""
    obj = {
        "metadata": meta("b"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
        ],
    }
    assert cells(kind, obj) == ["b", "ClusterRole/view", "5m", "alice, bob", "devs", "tools/ci"]


def test_lease_cells() -> None:
    """Leases show their holder."""
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "node-1_abc"}}
    assert cells("Lease", lease) == ["kube-scheduler", "node-1_abc", "5m"]
    assert cells("Lease", {"metadata": meta("l")}) == ["l", "", "5m"]


def test_event_cells() -> None:
    """Event rows: last seen, type, reason, kind/name, and wide details."""
    event = {
        "metadata": meta("web-0.17a"),
        "type": "Warning",
        "reason": "BackOff",
        "message": "  Back-off restarting failed container\n",
        "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": "2024-05-01T11:00:00Z",
        "lastTimestamp": "2024-05-01T11:59:30Z",
        "count": 7,
    }
    assert cells("Event", event) == [
        "30s",
        "Warning",
        "BackOff",
        "pod/web-0",
        "spec.containers{app}",
        "kubelet, node-a",
        "Back-off restarting failed container",
        "60m",
        7,
        "web-0.17a",
    ]


def test_event_from_events_api() -> None:
    """New-style events fall back to eventTime, reportingComponent and a count of 1."""
    event = {
        "metadata": meta("e"),
        "type": "Normal",
        "reason": "Scheduled",
        "involvedObject": {"kind": "Node"},
        "eventTime": "2024-05-01T11:59:50.123456Z",
        "reportingComponent": "default-scheduler",
    }
    row = cells("Event", event)
    assert row[0] == "9s"
    assert row[3] == "node"
    assert row[5] == "default-scheduler"
    assert row[7:9] == ["9s", 1]


def test_event_series() -> None:
    """An event series reports its own last observation and count."""
    event = {
        "metadata": meta("e"),
        "involvedObject": {"kind": "Pod", "name": "p"},
        "eventTime": "2024-05-01T11:00:00.000000Z",
        "series": {"count": 12, "lastObservedTime": "2024-05-01T11:58:00.000000Z"},
    }
    row = cells("Event", event)
    assert row[0] == "2m"
    assert row[8] == 12


def test_missing_creation_timestamp_is_unknown() -> None:
    """An object without a creation timestamp has an unknown age."""
    assert cells("ConfigMap", {"metadata": {"name": "c"}}) == ["c", 0, "<unknown>"]
