"""The official Kubernetes Python client, configured from kubegate's admin kubeconfig, against
the shared demo server: typed reads, writes, watches, selectors, paging and API errors."""

from __future__ import annotations

import gc
import json
import threading
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.e2e

DEMO_SERVICES = {"echo", "secure-echo", "webapp"}


@pytest.fixture(scope="module")
def api_client(server) -> Iterator[client.ApiClient]:
    """One ApiClient built from the server's admin kubeconfig."""
    api = config.new_client_from_config(config_file=server.kubeconfig)
    yield api
    api.close()
    # An ApiException's traceback holds the failed response's socket in a reference cycle; an
    # idle TLS connection left open that way makes the shared server wait out its shutdown grace.
    gc.collect()


@pytest.fixture
def v1(api_client) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def ns(v1) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    name = f"pyc-{uuid.uuid4().hex[:8]}"
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    v1.delete_namespace(name)


def service(name: str, labels: dict[str, str] | None = None) -> client.V1Service:
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1ServiceSpec(
            selector={"app": name}, ports=[client.V1ServicePort(port=80, target_port=8080)]
        ),
    )


def test_list_services_in_all_namespaces_returns_typed_demo_services(v1):
    """Listing services across namespaces yields typed V1Service objects, demo services included."""
    result = v1.list_service_for_all_namespaces()
    assert isinstance(result, client.V1ServiceList)
    demo = {s.metadata.name: s for s in result.items if s.metadata.namespace == "kube-system"}
    assert DEMO_SERVICES <= demo.keys()
    for svc in demo.values():
        assert isinstance(svc, client.V1Service)
        assert svc.spec.cluster_ip.startswith("10.")


def test_create_read_patch_delete_a_service(v1, ns):
    """A Service goes through create, read, strategic-merge patch and delete with typed results."""
    created = v1.create_namespaced_service(ns, service("web"))
    assert created.metadata.uid
    assert created.spec.cluster_ip

    read = v1.read_namespaced_service("web", ns)
    assert read.metadata.uid == created.metadata.uid
    assert read.spec.ports[0].target_port == 8080

    patched = v1.patch_namespaced_service("web", ns, {"metadata": {"labels": {"tier": "front"}}})
    assert patched.metadata.labels == {"tier": "front"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    assert patched.spec.cluster_ip == created.spec.cluster_ip

    v1.delete_namespaced_service("web", ns)
    with pytest.raises(ApiException) as excinfo:
        v1.read_namespaced_service("web", ns)
    assert excinfo.value.status == 404


def test_watch_sees_added_modified_deleted(v1, ns):
    """A watch from a list's resourceVersion reports the changes made meanwhile, in order."""
    rv = v1.list_namespaced_service(ns).metadata.resource_version
    failures: list[BaseException] = []

    def write() -> None:
        try:
            v1.create_namespaced_service(ns, service("watched"))
            v1.patch_namespaced_service("watched", ns, {"metadata": {"labels": {"step": "two"}}})
            v1.delete_namespaced_service("watched", ns)
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=write, name="watch-writer")
    writer.start()
    seen: list[tuple[str, str | None]] = []
    w = watch.Watch()
    for event in w.stream(v1.list_namespaced_service, ns, resource_version=rv, timeout_seconds=10):
        obj = event["object"]
        assert isinstance(obj, client.V1Service)
        seen.append((event["type"], (obj.metadata.labels or {}).get("step")))
        if event["type"] == "DELETED":
            w.stop()
    writer.join(10)
    assert not failures
    assert seen == [("ADDED", None), ("MODIFIED", "two"), ("DELETED", "two")]


def test_list_with_label_selector(v1, ns):
    """A label selector narrows a list to the matching services."""
    v1.create_namespaced_service(ns, service("front", {"tier": "web"}))
    v1.create_namespaced_service(ns, service("back", {"tier": "db"}))
    names = [
        s.metadata.name for s in v1.list_namespaced_service(ns, label_selector="tier=web").items
    ]
    assert names == ["front"]


def test_list_with_field_selector(v1, ns):
    """A metadata.name field selector narrows a list to one service."""
    v1.create_namespaced_service(ns, service("front"))
    v1.create_namespaced_service(ns, service("back"))
    items = v1.list_namespaced_service(ns, field_selector="metadata.name=back").items
    assert [s.metadata.name for s in items] == ["back"]


def test_pagination_with_limit_and_continue(v1, ns):
    """Paging 25 configmaps by 10 returns pages of 10, 10 and 5 covering each exactly once."""
    expected = {f"cm-{i:02d}" for i in range(25)}
    for name in expected:
        v1.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"n": name})
        )
    sizes: list[int] = []
    names: list[str] = []
    token = None
    while True:
        page = v1.list_namespaced_config_map(ns, limit=10, _continue=token)
        sizes.append(len(page.items))
        names += [cm.metadata.name for cm in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert sizes == [10, 10, 5]
    assert sorted(names) == sorted(expected)


def test_discovery_api_lists_endpoint_slices(api_client):
    """DiscoveryV1Api returns the demo services' EndpointSlices as typed objects."""
    slices = client.DiscoveryV1Api(api_client).list_namespaced_endpoint_slice(
        "kube-system", label_selector="kubernetes.io/service-name=echo"
    )
    assert slices.items
    for item in slices.items:
        assert isinstance(item, client.V1EndpointSlice)
        assert item.address_type == "IPv4"
        assert item.endpoints[0].addresses


def test_missing_object_raises_api_exception_404_not_found(v1, ns):
    """Reading a missing service raises ApiException 404 with a NotFound Status body."""
    with pytest.raises(ApiException) as excinfo:
        v1.read_namespaced_service("absent", ns)
    assert excinfo.value.status == 404
    status = json.loads(excinfo.value.body)
    assert status["kind"] == "Status"
    assert status["reason"] == "NotFound"
    assert status["details"]["name"] == "absent"


def test_replace_with_stale_resource_version_conflicts(v1, ns):
    """Replacing with a resourceVersion that a later write superseded is a 409 Conflict."""
    v1.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg"), data={"v": "1"})
    )
    stale = v1.read_namespaced_config_map("cfg", ns)
    v1.patch_namespaced_config_map("cfg", ns, {"data": {"v": "2"}})
    stale.data = {"v": "3"}
    with pytest.raises(ApiException) as excinfo:
        v1.replace_namespaced_config_map("cfg", ns, stale)
    assert excinfo.value.status == 409
    assert json.loads(excinfo.value.body)["reason"] == "Conflict"
    assert v1.read_namespaced_config_map("cfg", ns).data == {"v": "2"}
