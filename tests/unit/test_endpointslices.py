"""Pure EndpointSlice / Endpoints rules (kubegate.core.endpointslices and its neighbours)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubegate.core.endpoint_diffs import diff_endpoint_slices, plan_endpoints
from kubegate.core.endpoint_inputs import (
    resolve_target_port,
    selector_matches,
    wants_endpoint_slices,
)
from kubegate.core.endpoint_labels import (
    HEADLESS_LABEL,
    LEADER_ANNOTATION,
    MANAGED_BY_LABEL,
    OVER_CAPACITY_ANNOTATION,
    SERVICE_NAME_LABEL,
    SKIP_MIRROR_LABEL,
)
from kubegate.core.endpointslice_mirroring import mirror_endpoint_slices, should_mirror
from kubegate.core.endpointslices import compute_endpoint_slices
from kubegate.core.legacy_endpoints import compute_endpoints

JSON = dict[str, Any]


def service(
    name: str = "web",
    *,
    selector: dict[str, str] | None = None,
    ports: list[JSON] | None = None,
    **spec: Any,
) -> JSON:
    spec.setdefault("clusterIP", "10.96.0.10")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {
            "selector": {"app": "web"} if selector is None else selector,
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}] if ports is None else ports,
            **spec,
        },
    }


def pod(
    name: str,
    ip: str | list[str] | None = "10.0.0.1",
    *,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    namespace: str = "default",
    phase: str = "Running",
    terminating: bool = False,
    container_ports: list[JSON] | None = None,
    **spec: Any,
) -> JSON:
    status: JSON = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if isinstance(ip, list):
        status["podIPs"] = [{"ip": i} for i in ip]
        status["podIP"] = ip[0]
    elif ip:
        status["podIP"] = ip
    meta: JSON = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "labels": {"app": "web"} if labels is None else labels,
    }
    if terminating:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "ports": container_ports or []}], **spec},
        "status": status,
    }


def endpoints_of(slices: list[JSON]) -> list[str]:
    return sorted(ep["targetRef"]["name"] for s in slices for ep in s["endpoints"])


def by_pod(slices: list[JSON]) -> dict[str, JSON]:
    return {ep["targetRef"]["name"]: ep for s in slices for ep in s["endpoints"]}


def stored(slices: list[JSON], revision: int = 7) -> list[JSON]:
    """What the store would hand back after creating ``slices``."""
    result = copy.deepcopy(slices)
    for i, s in enumerate(result):
        s["metadata"].update(
            uid=f"slice-{i}",
            resourceVersion=str(revision + i),
            creationTimestamp="2024-01-01T00:00:00Z",
        )
    return result


# --------------------------------------------------------------------------- selection


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({"app": "web"}, {"app": "web", "tier": "fe"}, True),
        ({"app": "web", "tier": "fe"}, {"app": "web", "tier": "fe"}, True),
        ({"app": "web", "tier": "fe"}, {"app": "web"}, False),
        ({"app": "web"}, {"app": "db"}, False),
        ({"app": "web"}, {}, False),
    ],
)
def test_selector_matches_by_equality_on_every_label(selector, labels, matches):
    """A selector matches only when every one of its labels is present with the same value."""
    assert selector_matches(selector, labels) is matches


@pytest.mark.parametrize(
    ("svc", "wanted"),
    [
        (service(), True),
        (service(selector={}), False),
        (service(selector={"app": "web"}, type="ExternalName"), False),
        ({"metadata": {"name": "x"}, "spec": {}}, False),
    ],
)
def test_only_services_with_a_selector_and_not_external_name_get_slices(svc, wanted):
    """Selector-less and ExternalName Services get no controller-managed slices."""
    assert wants_endpoint_slices(svc) is wanted
    assert (compute_endpoint_slices(svc, [pod("a")]) != []) is wanted


@pytest.mark.parametrize(
    ("candidate", "included"),
    [
        (pod("p"), True),
        (pod("p", labels={"app": "db"}), False),
        (pod("p", namespace="other"), False),
        (pod("p", phase="Succeeded"), False),
        (pod("p", phase="Failed"), False),
        (pod("p", ip=None), False),
        (pod("p", ip="not-an-ip"), False),
        (pod("p", phase="Pending", ready=False), True),
        (pod("p", terminating=True), True),
    ],
)
def test_which_pods_become_endpoints(candidate, included):
    """Matching, non-terminal pods with an IP are endpoints; terminating ones stay listed."""
    slices = compute_endpoint_slices(service(), [candidate])
    assert (endpoints_of(slices) == ["p"]) is included


@pytest.mark.parametrize(
    ("ready", "terminating", "publish", "conditions"),
    [
        (True, False, False, {"ready": True, "serving": True, "terminating": False}),
        (False, False, False, {"ready": False, "serving": False, "terminating": False}),
        (True, True, False, {"ready": False, "serving": True, "terminating": True}),
        (False, True, False, {"ready": False, "serving": False, "terminating": True}),
        (False, False, True, {"ready": True, "serving": False, "terminating": False}),
        (True, True, True, {"ready": True, "serving": True, "terminating": True}),
    ],
)
def test_endpoint_conditions_follow_kube(ready, terminating, publish, conditions):
    """ready = Ready and not terminating (or publishNotReadyAddresses); serving = Ready."""
    svc = service(publishNotReadyAddresses=publish)
    slices = compute_endpoint_slices(svc, [pod("p", ready=ready, terminating=terminating)])
    assert by_pod(slices)["p"]["conditions"] == conditions


def test_endpoint_carries_target_ref_node_zone_and_hostname():
    """An endpoint names its pod, node and zone, and its hostname when the subdomain matches."""
    candidate = pod("p", nodeName="node-1", hostname="p0", subdomain="web")
    slices = compute_endpoint_slices(service(), [candidate], node_zones={"node-1": "zone-a"})
    assert by_pod(slices)["p"] == {
        "addresses": ["10.0.0.1"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "default", "name": "p", "uid": "uid-p"},
        "nodeName": "node-1",
        "zone": "zone-a",
        "hostname": "p0",
    }


def test_hostname_is_omitted_when_subdomain_is_another_service():
    """A pod's hostname is published only by the Service its subdomain names."""
    slices = compute_endpoint_slices(service(), [pod("p", hostname="p0", subdomain="db")])
    assert "hostname" not in by_pod(slices)["p"]


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(
    ("service_port", "container_ports", "resolved"),
    [
        ({"port": 80, "targetPort": 8080}, [], 8080),
        ({"port": 80}, [], 80),
        ({"port": 80, "targetPort": 0}, [], 80),
        ({"port": 80, "targetPort": "http"}, [{"name": "http", "containerPort": 9000}], 9000),
        ({"port": 80, "targetPort": "http"}, [{"name": "metrics", "containerPort": 9100}], None),
        (
            {"port": 53, "targetPort": "dns", "protocol": "UDP"},
            [
                {"name": "dns", "containerPort": 5353, "protocol": "TCP"},
                {"name": "dns", "containerPort": 5354, "protocol": "UDP"},
            ],
            5354,
        ),
        (
            {"port": 80, "targetPort": "http", "protocol": "UDP"},
            [{"name": "http", "containerPort": 9000}],
            None,
        ),
    ],
)
def test_target_port_resolution(service_port, container_ports, resolved):
    """An int targetPort is used as is; a name is looked up per pod, matching protocol."""
    assert resolve_target_port(pod("p", container_ports=container_ports), service_port) == resolved


def test_named_target_port_of_a_sidecar_init_container_resolves():
    """Ports of restartPolicy=Always init containers (sidecars) count, as in kube's FindPort."""
    candidate = pod("p")
    candidate["spec"]["initContainers"] = [
        {
            "name": "proxy",
            "restartPolicy": "Always",
            "ports": [{"name": "http", "containerPort": 15001}],
        }
    ]
    assert resolve_target_port(candidate, {"port": 80, "targetPort": "http"}) == 15001


def test_slice_ports_carry_name_protocol_and_app_protocol():
    """Slice ports keep the Service port's name ("" allowed), protocol and appProtocol."""
    svc = service(
        ports=[
            {"port": 80, "targetPort": 8080},
            {"name": "grpc", "port": 9090, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"},
        ]
    )
    (slice_,) = compute_endpoint_slices(svc, [pod("a")])
    assert slice_["ports"] == [
        {"name": "", "port": 8080, "protocol": "TCP"},
        {"name": "grpc", "port": 9090, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"},
    ]


def test_pods_with_different_named_port_numbers_get_separate_slices():
    """Endpoints are grouped by their resolved port set: one slice per distinct mapping."""
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "http"}])
    pods = [
        pod("a", "10.0.0.1", container_ports=[{"name": "http", "containerPort": 8080}]),
        pod("b", "10.0.0.2", container_ports=[{"name": "http", "containerPort": 9090}]),
        pod("c", "10.0.0.3", container_ports=[{"name": "http", "containerPort": 8080}]),
    ]
    slices = compute_endpoint_slices(svc, pods)
    grouped = {s["ports"][0]["port"]: endpoints_of([s]) for s in slices}
    assert grouped == {8080: ["a", "c"], 9090: ["b"]}


def test_pod_whose_named_port_does_not_resolve_lands_in_a_portless_slice():
    """Like kube, a pod lacking the named port is still an endpoint, in a slice without it."""
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "http"}])
    pods = [
        pod("a", "10.0.0.1", container_ports=[{"name": "http", "containerPort": 8080}]),
        pod("b", "10.0.0.2"),
    ]
    slices = compute_endpoint_slices(svc, pods)
    assert sorted((len(s["ports"]), endpoints_of([s])[0]) for s in slices) == [(0, "b"), (1, "a")]


# --------------------------------------------------------------------------- sizes and families


@pytest.mark.parametrize(
    ("count", "sizes"), [(1, [1]), (100, [100]), (101, [100, 1]), (250, [100, 100, 50])]
)
def test_at_most_100_endpoints_per_slice(count, sizes):
    """Large Services span several slices of at most maxEndpointsPerSlice (100) each."""
    pods = [pod(f"p{i:03}", f"10.0.{i // 250}.{i % 250 + 1}") for i in range(count)]
    slices = compute_endpoint_slices(service(), pods)
    assert sorted((len(s["endpoints"]) for s in slices), reverse=True) == sizes
    assert len(endpoints_of(slices)) == count
    assert len({s["metadata"]["name"] for s in slices}) == len(slices)


@pytest.mark.parametrize(
    ("spec", "ips", "expected"),
    [
        (
            {"ipFamilies": ["IPv6"], "clusterIP": "fd00::10"},
            ["10.0.0.1", "fd00::1"],
            {"IPv6": ["fd00::1"]},
        ),
        ({"ipFamilies": ["IPv4"]}, ["10.0.0.1", "fd00::1"], {"IPv4": ["10.0.0.1"]}),
        (
            {"ipFamilies": ["IPv4", "IPv6"]},
            ["10.0.0.1", "fd00::1"],
            {"IPv4": ["10.0.0.1"], "IPv6": ["fd00::1"]},
        ),
        ({"clusterIP": "fd00::10"}, ["fd00:0::1"], {"IPv6": ["fd00::1"]}),
        ({"clusterIP": "None"}, ["fd00::1"], {"IPv6": ["fd00::1"]}),
        ({"clusterIP": ""}, ["10.0.0.1"], {"IPv4": ["10.0.0.1"]}),
    ],
)
def test_address_type_follows_ip_families(spec, ips, expected):
    """Slices are per address family: ipFamilies, else the ClusterIP's family, else each IP's."""
    slices = compute_endpoint_slices(service(**spec), [pod("p", ips)])
    got = {s["addressType"]: [a for ep in s["endpoints"] for a in ep["addresses"]] for s in slices}
    assert got == expected


def test_service_without_endpoints_keeps_one_placeholder_slice():
    """With no endpoints, one empty slice of the primary family remains, as in kube."""
    (placeholder,) = compute_endpoint_slices(service(clusterIP="None"), [])
    assert (placeholder["addressType"], placeholder["endpoints"], placeholder["ports"]) == (
        "IPv4",
        [],
        [],
    )


# --------------------------------------------------------------------------- metadata and names


def test_slice_metadata_labels_and_owner():
    """Slices carry the Service's labels plus kube's reserved ones, and a controller ownerRef."""
    svc = service()
    svc["metadata"]["labels"] = {
        "team": "a",
        MANAGED_BY_LABEL: "me",
        SERVICE_NAME_LABEL: "x",
    }
    (slice_,) = compute_endpoint_slices(svc, [pod("a")])
    meta = slice_["metadata"]
    assert (slice_["apiVersion"], slice_["kind"]) == ("discovery.k8s.io/v1", "EndpointSlice")
    assert meta["labels"] == {
        "team": "a",
        SERVICE_NAME_LABEL: "web",
        MANAGED_BY_LABEL: "endpointslice-controller.k8s.io",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": "uid-web",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert meta["name"].startswith("web-") and len(meta["name"]) == len("web-") + 5


def test_headless_services_get_the_headless_label():
    """A Service without a ClusterIP marks its slices service.kubernetes.io/headless."""
    (slice_,) = compute_endpoint_slices(service(clusterIP="None"), [pod("a")])
    assert slice_["metadata"]["labels"][HEADLESS_LABEL] == ""


def test_names_are_deterministic_and_avoid_taken_names():
    """Recomputing gives the same names; names already used in the namespace are skipped."""
    first = compute_endpoint_slices(service(), [pod("a")])
    again = compute_endpoint_slices(service(), [pod("a")])
    assert first == again
    taken = first[0]["metadata"]["name"]
    other = compute_endpoint_slices(service(), [pod("a")], taken_names={taken})
    assert other[0]["metadata"]["name"] != taken


def test_long_service_names_are_truncated_like_generate_name():
    """Names never exceed 63 characters: the prefix is cut to 58, like generateName."""
    (slice_,) = compute_endpoint_slices(service("s" * 70), [pod("a")])
    assert len(slice_["metadata"]["name"]) == 63


# --------------------------------------------------------------------------- diff and churn


def test_reconciling_the_stored_state_changes_nothing():
    """Desired slices computed against their own stored copies produce an empty diff."""
    pods = [pod(f"p{i}", f"10.0.0.{i + 1}") for i in range(150)]
    existing = stored(compute_endpoint_slices(service(), pods))
    desired = compute_endpoint_slices(service(), pods, existing=existing)
    assert not diff_endpoint_slices(desired, existing)


def test_diff_ignores_store_managed_metadata_and_foreign_annotations():
    """uid, resourceVersion, creationTimestamp and others' annotations never cause an update."""
    existing = stored(compute_endpoint_slices(service(), [pod("a")]))
    existing[0]["metadata"]["annotations"] = {"note": "kept"}
    existing[0]["metadata"]["generation"] = 3
    desired = compute_endpoint_slices(service(), [pod("a")], existing=existing)
    assert not diff_endpoint_slices(desired, existing)


def test_diff_create_update_delete():
    """New names are created, changed ones updated (keeping store metadata), gone ones deleted."""
    existing = stored(compute_endpoint_slices(service(), [pod("a")]))
    gone = copy.deepcopy(existing[0])
    gone["metadata"]["name"] = "web-gone1"
    changed = compute_endpoint_slices(service(), [pod("a", ready=False)], existing=existing)
    new = copy.deepcopy(changed[0])
    new["metadata"]["name"] = "web-new01"
    diff = diff_endpoint_slices([*changed, new], [*existing, gone])
    assert [s["metadata"]["name"] for s in diff.to_create] == ["web-new01"]
    assert [s["metadata"]["name"] for s in diff.to_delete] == ["web-gone1"]
    (update,) = diff.to_update
    assert update["metadata"]["uid"] == "slice-0"
    assert update["metadata"]["resourceVersion"] == "7"
    assert update["endpoints"][0]["conditions"]["ready"] is False


def test_removing_one_pod_touches_only_its_slice():
    """Endpoints stay where they are: dropping a pod updates one slice, not all of them."""
    pods = [pod(f"p{i:03}", f"10.0.0.{i + 1}") for i in range(200)]
    existing = stored(compute_endpoint_slices(service(), pods))
    victim = existing[1]["endpoints"][0]["targetRef"]["name"]
    remaining = [p for p in pods if p["metadata"]["name"] != victim]
    diff = diff_endpoint_slices(
        compute_endpoint_slices(service(), remaining, existing=existing), existing
    )
    assert (len(diff.to_create), len(diff.to_update), len(diff.to_delete)) == (0, 1, 0)
    assert diff.to_update[0]["metadata"]["name"] == existing[1]["metadata"]["name"]


def test_new_pod_fills_an_existing_slice_with_room():
    """A new endpoint goes into an existing slice that has room instead of a new slice."""
    pods = [pod(f"p{i:03}", f"10.0.0.{i + 1}") for i in range(150)]
    existing = stored(compute_endpoint_slices(service(), pods))
    added = [*pods, pod("new", "10.0.1.1")]
    diff = diff_endpoint_slices(
        compute_endpoint_slices(service(), added, existing=existing), existing
    )
    assert (len(diff.to_create), len(diff.to_update), len(diff.to_delete)) == (0, 1, 0)
    assert "new" in endpoints_of(list(diff.to_update))


def test_port_change_recycles_the_slice_instead_of_recreating_it():
    """When the port mapping changes, the old slice is rewritten in place (kube's recycling)."""
    existing = stored(compute_endpoint_slices(service(), [pod("a")]))
    moved = service(ports=[{"name": "http", "port": 80, "targetPort": 9999}])
    diff = diff_endpoint_slices(
        compute_endpoint_slices(moved, [pod("a")], existing=existing), existing
    )
    assert (len(diff.to_create), len(diff.to_delete)) == (0, 0)
    assert diff.to_update[0]["ports"][0]["port"] == 9999


def test_slices_of_a_previous_service_incarnation_are_replaced():
    """Slices owned by another uid (an old Service of the same name) are deleted, not reused."""
    old = stored(compute_endpoint_slices(service(), [pod("a")]))
    reborn = service()
    reborn["metadata"]["uid"] = "uid-new"
    diff = diff_endpoint_slices(compute_endpoint_slices(reborn, [pod("a")], existing=old), old)
    assert len(diff.to_create) == 1 and diff.to_delete == tuple(old)
    assert diff.to_create[0]["metadata"]["name"] != old[0]["metadata"]["name"]


def test_last_pod_leaving_turns_the_slice_into_a_placeholder():
    """When the last endpoint goes, its slice is emptied in place rather than replaced."""
    existing = stored(compute_endpoint_slices(service(), [pod("a")]))
    diff = diff_endpoint_slices(compute_endpoint_slices(service(), [], existing=existing), existing)
    assert (len(diff.to_create), len(diff.to_delete)) == (0, 0)
    assert diff.to_update[0]["endpoints"] == []


# --------------------------------------------------------------------------- mirroring


def user_endpoints(subsets: list[JSON], **meta: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "ext", "namespace": "default", "uid": "uid-ep", **meta},
        "subsets": subsets,
    }


@pytest.mark.parametrize(
    ("svc", "endpoints", "mirrored"),
    [
        (service("ext", selector={}), user_endpoints([]), True),
        (None, user_endpoints([]), False),
        (service("ext"), user_endpoints([]), False),
        (service("ext", selector={}), None, False),
        (
            service("ext", selector={}),
            user_endpoints([], labels={SKIP_MIRROR_LABEL: "true"}),
            False,
        ),
        (
            service("ext", selector={}),
            user_endpoints([], labels={SKIP_MIRROR_LABEL: "false"}),
            True,
        ),
        (
            service("ext", selector={}),
            user_endpoints([], annotations={LEADER_ANNOTATION: "{}"}),
            False,
        ),
    ],
)
def test_should_mirror(svc, endpoints, mirrored):
    """Only Endpoints of an existing selector-less Service, not skip-mirror nor leader records."""
    assert should_mirror(svc, endpoints) is mirrored


def test_mirroring_maps_ready_and_not_ready_addresses():
    """addresses become ready endpoints, notReadyAddresses unready ones, with their refs."""
    endpoints = user_endpoints(
        [
            {
                "addresses": [{"ip": "192.168.0.1", "nodeName": "n1", "hostname": "h1"}],
                "notReadyAddresses": [
                    {
                        "ip": "192.168.0.2",
                        "targetRef": {"kind": "Pod", "name": "p2", "namespace": "default"},
                    }
                ],
                "ports": [{"name": "http", "port": 8080}],
            }
        ],
        labels={"team": "a"},
        annotations={"note": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
    )
    (slice_,) = mirror_endpoint_slices(endpoints)
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert slice_["endpoints"] == [
        {
            "addresses": ["192.168.0.1"],
            "conditions": {"ready": True},
            "nodeName": "n1",
            "hostname": "h1",
        },
        {
            "addresses": ["192.168.0.2"],
            "conditions": {"ready": False},
            "targetRef": {"kind": "Pod", "name": "p2", "namespace": "default"},
        },
    ]
    meta = slice_["metadata"]
    assert meta["labels"] == {
        "team": "a",
        SERVICE_NAME_LABEL: "ext",
        MANAGED_BY_LABEL: "endpointslicemirroring-controller.k8s.io",
    }
    assert meta["annotations"] == {"note": "x"}
    assert meta["ownerReferences"][0] == {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "name": "ext",
        "uid": "uid-ep",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_mirroring_splits_by_ports_and_family_and_skips_invalid_ips():
    """Each (address type, ports) pair gets its own slice; invalid IPs are not mirrored."""
    endpoints = user_endpoints(
        [
            {
                "addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}, {"ip": "bogus"}],
                "ports": [{"port": 80}],
            },
            {"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 81, "protocol": "UDP"}]},
        ]
    )
    got = sorted(
        (s["addressType"], s["ports"][0]["port"], [e["addresses"][0] for e in s["endpoints"]])
        for s in mirror_endpoint_slices(endpoints)
    )
    assert got == [
        ("IPv4", 80, ["10.0.0.1"]),
        ("IPv4", 81, ["10.0.0.2"]),
        ("IPv6", 80, ["fd00::1"]),
    ]


def test_mirroring_caps_addresses_per_subset():
    """At most max_endpoints_per_subset addresses of one subset are mirrored."""
    endpoints = user_endpoints(
        [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 11)], "ports": []}]
    )
    (slice_,) = mirror_endpoint_slices(endpoints, max_endpoints_per_subset=4)
    assert len(slice_["endpoints"]) == 4


def test_mirroring_reuses_existing_slice_and_is_idempotent():
    """Mirroring against its own stored output changes nothing."""
    endpoints = user_endpoints([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}])
    existing = stored(mirror_endpoint_slices(endpoints))
    desired = mirror_endpoint_slices(endpoints, existing=existing)
    assert not diff_endpoint_slices(desired, existing)


def test_mirrored_annotations_removed_from_endpoints_are_removed_from_the_slice():
    """Mirrored slices own their annotations wholesale."""
    endpoints = user_endpoints([{"addresses": [{"ip": "10.0.0.1"}]}], annotations={"a": "1"})
    existing = stored(mirror_endpoint_slices(endpoints))
    del endpoints["metadata"]["annotations"]
    (update,) = diff_endpoint_slices(
        mirror_endpoint_slices(endpoints, existing=existing), existing
    ).to_update
    assert "annotations" not in update["metadata"]


# --------------------------------------------------------------------------- legacy Endpoints


def test_endpoints_repack_ready_and_not_ready_addresses():
    """Pods sharing a port set share a subset; unready pods go to notReadyAddresses."""
    pods = [pod("a", "10.0.0.2"), pod("b", "10.0.0.1"), pod("c", "10.0.0.3", ready=False)]
    endpoints = compute_endpoints(service(), pods)
    (subset,) = endpoints["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1", "10.0.0.2"]
    assert [a["targetRef"]["name"] for a in subset["notReadyAddresses"]] == ["c"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_endpoints_object_metadata():
    """The Endpoints is named after the Service and labelled skip-mirror like kube's."""
    svc = service()
    svc["metadata"]["labels"] = {"team": "a"}
    endpoints = compute_endpoints(svc, [])
    assert (endpoints["apiVersion"], endpoints["kind"]) == ("v1", "Endpoints")
    assert endpoints["metadata"] == {
        "name": "web",
        "namespace": "default",
        "labels": {"team": "a", SKIP_MIRROR_LABEL: "true"},
    }
    assert "subsets" not in endpoints


@pytest.mark.parametrize(("publish", "listed"), [(False, []), (True, ["p"])])
def test_endpoints_drop_terminating_pods_unless_publishing_not_ready(publish, listed):
    """Legacy Endpoints list terminating pods only with publishNotReadyAddresses."""
    endpoints = compute_endpoints(
        service(publishNotReadyAddresses=publish), [pod("p", terminating=True)]
    )
    addresses = [a for s in endpoints.get("subsets", []) for a in s.get("addresses", [])]
    assert [a["targetRef"]["name"] for a in addresses] == listed


def test_endpoints_of_headless_service_without_ports():
    """A headless Service may have no ports: its subset then has none either."""
    endpoints = compute_endpoints(service(ports=[], clusterIP="None"), [pod("p")])
    assert endpoints["subsets"] == [{"addresses": [endpoints["subsets"][0]["addresses"][0]]}]
    assert endpoints["metadata"]["labels"][HEADLESS_LABEL] == ""


def test_endpoints_group_pods_by_resolved_ports():
    """Pods whose named port resolves differently land in different subsets."""
    svc = service(ports=[{"port": 80, "targetPort": "http"}])
    pods = [
        pod("a", "10.0.0.1", container_ports=[{"name": "http", "containerPort": 8080}]),
        pod("b", "10.0.0.2", container_ports=[{"name": "http", "containerPort": 9090}]),
    ]
    subsets = compute_endpoints(svc, pods)["subsets"]
    assert sorted((s["ports"][0]["port"], s["addresses"][0]["ip"]) for s in subsets) == [
        (8080, "10.0.0.1"),
        (9090, "10.0.0.2"),
    ]
    assert "name" not in subsets[0]["ports"][0]


def test_endpoints_over_capacity_are_truncated_and_annotated():
    """Past the capacity, addresses are cut (ready ones kept first) and the object annotated."""
    pods = [pod(f"r{i}", f"10.0.0.{i + 1}") for i in range(4)]
    pods += [pod(f"n{i}", f"10.0.1.{i + 1}", ready=False) for i in range(4)]
    endpoints = compute_endpoints(service(), pods, capacity=5)
    (subset,) = endpoints["subsets"]
    assert (len(subset["addresses"]), len(subset["notReadyAddresses"])) == (4, 1)
    assert endpoints["metadata"]["annotations"] == {OVER_CAPACITY_ANNOTATION: "truncated"}


def test_plan_endpoints_skips_identical_and_keeps_foreign_metadata():
    """No write when nothing owned changed; an update keeps uid and others' annotations."""
    desired = compute_endpoints(service(), [pod("a")])
    existing = copy.deepcopy(desired)
    existing["metadata"].update(uid="u", resourceVersion="5", annotations={"note": "x"})
    assert plan_endpoints(desired, existing) is None
    changed = compute_endpoints(service(), [pod("a", ready=False)])
    update = plan_endpoints(changed, existing)
    assert update is not None
    assert update["metadata"]["annotations"] == {"note": "x"}
    assert (update["metadata"]["uid"], update["metadata"]["resourceVersion"]) == ("u", "5")
    assert "notReadyAddresses" in update["subsets"][0]


def test_plan_endpoints_clears_a_stale_over_capacity_annotation():
    """Once back under capacity the over-capacity annotation is removed."""
    desired = compute_endpoints(service(), [pod("a")])
    existing = copy.deepcopy(desired)
    existing["metadata"]["annotations"] = {OVER_CAPACITY_ANNOTATION: "truncated"}
    update = plan_endpoints(desired, existing)
    assert update is not None and "annotations" not in update["metadata"]


def test_existing_placeholder_is_kept_as_is():
    """An empty Service's stored placeholder needs no write on the next reconcile."""
    existing = stored(compute_endpoint_slices(service(), []))
    assert not diff_endpoint_slices(
        compute_endpoint_slices(service(), [], existing=existing), existing
    )


def test_first_endpoint_reuses_the_placeholder_slice():
    """The placeholder becomes the first real slice (an update, not create plus delete)."""
    existing = stored(compute_endpoint_slices(service(), []))
    diff = diff_endpoint_slices(
        compute_endpoint_slices(service(), [pod("a")], existing=existing), existing
    )
    assert (len(diff.to_create), len(diff.to_update), len(diff.to_delete)) == (0, 1, 0)
    assert endpoints_of(list(diff.to_update)) == ["a"]
