"""API semantics over raw HTTPS: server-owned metadata, optimistic concurrency, Service
allocations, the status subresource, namespace lifecycle, collections, watches, tables,
health and discovery -- each as kube-apiserver answers it."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integration.api_kit import Api, running_api
from serverkit import start_server_process

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def service(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def poll(condition: Callable[[], bool], timeout: float = 10.0, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting: {message}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("semantics")) as api:
        yield api


@pytest.fixture
def ns(api: Api) -> str:
    """A fresh namespace per test."""
    return api.fresh_namespace("sem")


# -- server-owned metadata and optimistic concurrency --------------------------------------


def test_create_sets_uid_and_creation_timestamp(api, ns):
    """A created object gets a UUID uid and an RFC 3339 creationTimestamp of now."""
    before = datetime.now(UTC).replace(microsecond=0)
    meta = api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("cfg"), expect=201)[
        "metadata"
    ]
    assert str(uuid.UUID(meta["uid"])) == meta["uid"]
    created = datetime.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=1)


def test_resource_version_increases_across_writes(api, ns):
    """Every write (create, update, patch, delete) answers a larger resourceVersion than the last."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.ok("POST", path, configmap("cfg", v="1"), expect=201)
    updated = api.ok("PUT", f"{path}/cfg", {**created, "data": {"v": "2"}})
    patch = api.connect()
    patch.request(
        "PATCH",
        f"{path}/cfg",
        body='{"data":{"v":"3"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    patched = json.loads(patch.getresponse().read())
    patch.close()
    other = api.ok("POST", path, configmap("other"), expect=201)
    status = api.ok("DELETE", f"{path}/cfg")
    assert (status["kind"], status["status"]) == ("Status", "Success")
    after_delete = api.ok("GET", path)  # the list revision includes the deletion
    versions = [
        int(o["metadata"]["resourceVersion"])
        for o in (created, updated, patched, other, after_delete)
    ]
    assert versions == sorted(set(versions)), versions


def test_update_with_stale_resource_version_conflicts(api, ns):
    """A PUT carrying a superseded resourceVersion is 409 Conflict and changes nothing."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    stale = api.ok("POST", path, configmap("cfg", v="1"), expect=201)
    api.ok("PUT", f"{path}/cfg", {**stale, "data": {"v": "2"}})
    reply = api.request("PUT", f"{path}/cfg", {**stale, "data": {"v": "3"}})
    assert reply.status == 409
    assert reply.json()["reason"] == "Conflict"
    assert api.ok("GET", f"{path}/cfg")["data"] == {"v": "2"}


def test_create_existing_name_is_already_exists(api, ns):
    """Creating a name that exists is 409 AlreadyExists and keeps the first object."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.ok("POST", path, configmap("cfg", v="1"), expect=201)
    reply = api.request("POST", path, configmap("cfg", v="2"))
    assert reply.status == 409
    status = reply.json()
    assert status["reason"] == "AlreadyExists"
    assert status["details"] == {"name": "cfg", "kind": "configmaps"}
    assert api.ok("GET", f"{path}/cfg") == first


def test_generate_name_appends_a_random_suffix(api, ns):
    """metadata.generateName yields distinct names of the prefix plus five characters."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "job-"}}
    names = {
        api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", body, expect=201)["metadata"]["name"]
        for _ in range(3)
    }
    assert len(names) == 3
    assert all(re.fullmatch(r"job-[a-z0-9]{5}", name) for name in names), names
    assert sorted(api.names(f"/api/v1/namespaces/{ns}/configmaps")) == sorted(names)


# -- Service allocations --------------------------------------------------------------------


def test_service_gets_a_cluster_ip_in_the_service_cidr(api, ns):
    """A ClusterIP Service is assigned one address from 10.96.0.0/12, mirrored in clusterIPs."""
    spec = api.ok("POST", f"/api/v1/namespaces/{ns}/services", service("web"), expect=201)["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in SERVICE_CIDR
    assert spec["clusterIPs"] == [spec["clusterIP"]]


def test_put_omitting_the_cluster_ip_keeps_it(api, ns):
    """A PUT whose spec leaves out clusterIP and clusterIPs keeps the allocated address."""
    path = f"/api/v1/namespaces/{ns}/services"
    created = api.ok("POST", path, service("web"), expect=201)
    body = json.loads(json.dumps(created))
    del body["spec"]["clusterIP"], body["spec"]["clusterIPs"]
    body["metadata"]["labels"] = {"edited": "yes"}
    updated = api.ok("PUT", f"{path}/web", body)
    assert updated["metadata"]["labels"] == {"edited": "yes"}
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert updated["spec"]["clusterIPs"] == created["spec"]["clusterIPs"]


def test_requesting_a_taken_cluster_ip_is_invalid(api, ns):
    """Asking for a clusterIP another Service holds is 422 Invalid and creates nothing."""
    path = f"/api/v1/namespaces/{ns}/services"
    taken = api.ok("POST", path, service("first"), expect=201)["spec"]["clusterIP"]
    reply = api.request("POST", path, service("second", clusterIP=taken))
    assert reply.status == 422
    status = reply.json()
    assert status["reason"] == "Invalid"
    assert "already allocated" in status["message"]
    assert api.names(path) == ["first"]


def test_headless_service_stays_headless(api, ns):
    """clusterIP None is kept on create and across a PUT that omits it."""
    path = f"/api/v1/namespaces/{ns}/services"
    created = api.ok("POST", path, service("headless", clusterIP="None"), expect=201)
    assert (created["spec"]["clusterIP"], created["spec"]["clusterIPs"]) == ("None", ["None"])
    body = json.loads(json.dumps(created))
    del body["spec"]["clusterIP"], body["spec"]["clusterIPs"]
    updated = api.ok("PUT", f"{path}/headless", body)
    assert (updated["spec"]["clusterIP"], updated["spec"]["clusterIPs"]) == ("None", ["None"])


def test_deleting_a_node_port_service_frees_its_port(api, ns):
    """A NodePort is allocated in 30000-32767, and after delete another Service may claim it."""
    path = f"/api/v1/namespaces/{ns}/services"
    first = api.ok("POST", path, service("first", type="NodePort"), expect=201)
    node_port = first["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    clash = api.request(
        "POST", path, service("clash", type="NodePort", ports=[{"port": 80, "nodePort": node_port}])
    )
    assert clash.status == 422, clash.body
    api.ok("DELETE", f"{path}/first")
    second = api.ok(
        "POST",
        path,
        service("second", type="NodePort", ports=[{"port": 80, "nodePort": node_port}]),
        expect=201,
    )
    assert second["spec"]["ports"][0]["nodePort"] == node_port


def test_external_name_service_has_no_cluster_ip(api, ns):
    """An ExternalName Service gets neither clusterIP nor clusterIPs."""
    body = service("ext", type="ExternalName", externalName="example.com", ports=[])
    spec = api.ok("POST", f"/api/v1/namespaces/{ns}/services", body, expect=201)["spec"]
    assert "clusterIP" not in spec and "clusterIPs" not in spec
    assert spec["externalName"] == "example.com"


# -- status subresource and generation ------------------------------------------------------


def test_status_subresource_put_changes_only_status(api, ns):
    """A PUT to /status stores the new status and ignores spec and label changes."""
    path = f"/api/v1/namespaces/{ns}/services/web"
    created = api.ok("POST", f"/api/v1/namespaces/{ns}/services", service("web"), expect=201)
    body = json.loads(json.dumps(created))
    body["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}
    body["spec"]["sessionAffinity"] = "ClientIP"
    body["metadata"]["labels"] = {"sneaky": "yes"}
    api.ok("PUT", f"{path}/status", body)
    stored = api.ok("GET", path)
    assert stored["status"] == body["status"]
    assert stored["spec"] == created["spec"]
    assert "labels" not in stored["metadata"]


def test_main_resource_put_ignores_status(api, ns):
    """A PUT to the Service itself stores spec changes and leaves status as it was."""
    path = f"/api/v1/namespaces/{ns}/services/web"
    created = api.ok("POST", f"/api/v1/namespaces/{ns}/services", service("web"), expect=201)
    body = json.loads(json.dumps(created))
    body["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}
    body["spec"]["sessionAffinity"] = "ClientIP"
    api.ok("PUT", path, body)
    stored = api.ok("GET", path)
    assert stored["status"] == created["status"]
    assert stored["spec"]["sessionAffinity"] == "ClientIP"


def test_generation_increments_on_spec_change_only(api, ns):
    """metadata.generation starts at 1 and grows on spec changes, not on metadata changes."""
    path = f"/api/v1/namespaces/{ns}/services/web"
    obj = api.ok("POST", f"/api/v1/namespaces/{ns}/services", service("web"), expect=201)
    assert obj["metadata"]["generation"] == 1
    obj["metadata"]["labels"] = {"only": "metadata"}
    obj = api.ok("PUT", path, obj)
    assert obj["metadata"]["generation"] == 1
    obj["spec"]["sessionAffinity"] = "ClientIP"
    obj = api.ok("PUT", path, obj)
    assert obj["metadata"]["generation"] == 2


# -- namespaces -----------------------------------------------------------------------------


def test_deleting_a_namespace_removes_its_objects(api):
    """A deleted namespace turns Terminating, its objects go, then the namespace itself."""
    name = f"doomed-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/v1/namespaces", namespace(name), expect=201)
    api.ok("POST", f"/api/v1/namespaces/{name}/configmaps", configmap("cfg"), expect=201)
    api.ok("POST", f"/api/v1/namespaces/{name}/services", service("web"), expect=201)
    deleted = api.ok("DELETE", f"/api/v1/namespaces/{name}")
    assert deleted["status"]["phase"] == "Terminating"
    assert deleted["metadata"]["deletionTimestamp"]
    poll(
        lambda: api.request("GET", f"/api/v1/namespaces/{name}").status == 404,
        message="namespace gone",
    )
    assert api.names(f"/api/v1/namespaces/{name}/configmaps") == []
    assert api.names(f"/api/v1/namespaces/{name}/services") == []


@pytest.mark.parametrize("name", ["default", "kube-system"])
def test_system_namespaces_cannot_be_deleted(api, name):
    """Deleting default or kube-system is 403 Forbidden and leaves the namespace Active."""
    reply = api.request("DELETE", f"/api/v1/namespaces/{name}")
    assert reply.status == 403
    assert reply.json()["reason"] == "Forbidden"
    assert api.ok("GET", f"/api/v1/namespaces/{name}")["status"]["phase"] == "Active"


def _send_and_read(tls: ssl.SSLSocket, requests: list[bytes]) -> list[tuple[int, dict[str, Any]]]:
    """Pipeline ``requests`` on one connection; return each (status, JSON body) in order."""
    tls.sendall(b"".join(requests))
    replies = []
    with tls.makefile("rb") as stream:
        for _ in requests:
            status = int(stream.readline().split()[1])
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            replies.append((status, json.loads(stream.read(length))))
    return replies


def _request_bytes(host: str, method: str, path: str, body: Any = None) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    return head.encode() + payload


def test_creating_in_a_terminating_namespace_is_forbidden(tmp_path: Path):
    """A create sent right behind a namespace's DELETE, while it is Terminating, is 403 Forbidden."""
    # The sqlite store makes finalization take many commits, and pipelining the create on the
    # DELETE's connection has it handled as soon as the namespace turned Terminating.
    srv = start_server_process(tmp_path, store=f"sqlite:{tmp_path / 'state.db'}")
    try:
        api = Api(srv)
        name = "closing"
        api.ok("POST", "/api/v1/namespaces", namespace(name), expect=201)
        for i in range(20):
            api.ok(
                "POST", f"/api/v1/namespaces/{name}/configmaps", configmap(f"cfg-{i}"), expect=201
            )
        with socket.create_connection((api.host, api.port), timeout=30) as raw:
            with api.tls().wrap_socket(raw, server_hostname=api.host) as tls:
                (deleted, _), (created, status) = _send_and_read(
                    tls,
                    [
                        _request_bytes(api.host, "DELETE", f"/api/v1/namespaces/{name}"),
                        _request_bytes(
                            api.host,
                            "POST",
                            f"/api/v1/namespaces/{name}/configmaps",
                            configmap("late"),
                        ),
                    ],
                )
        assert deleted == 200
        assert created == 403, status
        assert status["reason"] == "Forbidden"
        assert "is being terminated" in status["message"]
        poll(
            lambda: api.request("GET", f"/api/v1/namespaces/{name}").status == 404,
            message="namespace gone",
        )
        assert api.names(f"/api/v1/namespaces/{name}/configmaps") == []
    finally:
        srv.stop()


# -- collections ----------------------------------------------------------------------------


def test_deletecollection_with_label_selector_removes_only_matching(api, ns):
    """DELETE on a collection with a labelSelector removes the matching objects and no others."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        body = configmap(name)
        body["metadata"]["labels"] = {"tier": tier}
        api.ok("POST", path, body, expect=201)
    api.ok("POST", path, configmap("unlabelled"), expect=201)
    removed = api.ok("DELETE", f"{path}?labelSelector=tier%3Dweb")
    assert sorted(item["metadata"]["name"] for item in removed["items"]) == ["a", "b"]
    assert sorted(api.names(path)) == ["c", "unlabelled"]


# -- watches --------------------------------------------------------------------------------


def test_watch_resumes_from_a_resource_version_with_missed_events(api, ns):
    """A watch from an object's resourceVersion replays, in order, every change made after it."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.ok("POST", path, configmap("first", v="1"), expect=201)
    api.ok("POST", path, configmap("second"), expect=201)
    api.ok("PUT", f"{path}/first", {**first, "data": {"v": "2"}})
    api.ok("DELETE", f"{path}/second")
    since = first["metadata"]["resourceVersion"]
    events = api.watch(
        f"{path}?watch=1&resourceVersion={since}&timeoutSeconds=5", until=lambda e: len(e) >= 3
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "second"),
        ("MODIFIED", "first"),
        ("DELETED", "second"),
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(since)


def test_watch_from_resource_version_1_replays_the_whole_history(api, ns):
    """While the store's history (10,000 events) still reaches back, resourceVersion=1 replays all of it."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(30):
        api.ok("POST", path, configmap(f"cfg-{i:02d}"), expect=201)
    for i in range(0, 30, 3):
        api.ok("DELETE", f"{path}/cfg-{i:02d}")
    events = api.watch(
        f"{path}?watch=1&resourceVersion=1&timeoutSeconds=5", until=lambda e: len(e) >= 40
    )
    assert [e["type"] for e in events] == ["ADDED"] * 30 + ["DELETED"] * 10
    assert [e["object"]["metadata"]["name"] for e in events[30:]] == [
        f"cfg-{i:02d}" for i in range(0, 30, 3)
    ]


def test_watch_from_before_a_restart_is_expired(tmp_path: Path):
    """After a restart the watch history starts afresh: resourceVersion=1 gets one ERROR 410 Expired event."""
    store = f"sqlite:{tmp_path / 'state.db'}"
    srv = start_server_process(tmp_path, store=store)
    try:
        Api(srv).ok(
            "POST", "/api/v1/namespaces/default/configmaps", configmap("before"), expect=201
        )
    finally:
        assert srv.stop() == 0
    srv = start_server_process(tmp_path, store=store)
    try:
        events = Api(srv).watch(
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&timeoutSeconds=5",
            until=lambda e: False,
        )
    finally:
        srv.stop()
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version: 1 (")


# -- tables, health and discovery ----------------------------------------------------------


def test_service_list_as_table_has_kubectl_columns(api, ns):
    """A Table list of Services has kubectl's columns and one row of cells per Service."""
    spec = api.ok(
        "POST",
        f"/api/v1/namespaces/{ns}/services",
        service("web", selector={"app": "web"}),
        expect=201,
    )["spec"]
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/services", headers={"Accept": TABLE})
    assert reply.status == 200, reply.body
    table = reply.json()
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ]
    (row,) = table["rows"]
    cells = row["cells"]
    assert cells[:5] == ["web", "ClusterIP", spec["clusterIP"], "<none>", "80/TCP"]
    assert cells[6] == "app=web"


@pytest.mark.parametrize("path", ["/version", "/healthz", "/readyz", "/livez"])
def test_health_and_version_answer_without_credentials(api, path):
    """/version and the health endpoints answer 200 to a client without a certificate."""
    reply = api.request("GET", path, cert=False)
    assert reply.status == 200, reply.body
    if path == "/version":
        assert reply.json()["major"] == "1"
    else:
        assert reply.body == b"ok"


def test_discovery_root_documents(api):
    """/api lists v1 and /apis lists the served groups with their preferred versions."""
    assert api.ok("GET", "/api")["versions"] == ["v1"]
    groups = {
        g["name"]: g["preferredVersion"]["groupVersion"] for g in api.ok("GET", "/apis")["groups"]
    }
    assert groups["discovery.k8s.io"] == "discovery.k8s.io/v1"
    assert groups["rbac.authorization.k8s.io"] == "rbac.authorization.k8s.io/v1"


def test_core_v1_discovery_lists_services_with_short_name_and_subresources(api):
    """/api/v1 lists services (short name svc) and its status and proxy subresources."""
    resources = {r["name"]: r for r in api.ok("GET", "/api/v1")["resources"]}
    services = resources["services"]
    assert services["shortNames"] == ["svc"]
    assert services["namespaced"] is True
    assert {"create", "get", "list", "watch", "patch", "update", "delete"} <= set(services["verbs"])
    assert resources["services/status"]["verbs"] == ["get", "patch", "update"]
    assert "get" in resources["services/proxy"]["verbs"]
