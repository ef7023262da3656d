"""Mirror mode keeps its view in step with the upstream cluster and serves it read-only:
creations, updates and deletions upstream show in the mirror's lists and watches, writes
to mirrored resources are refused with 405 MethodNotAllowed, the mirror's own resources
stay writable, and /metrics reports each resource synced."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from integration.mirror.kit import metrics, series, status_reason, wait_for
from integration.proxy.harness import Cluster, Kubegate, request_bytes

SLICES = "/apis/discovery.k8s.io/v1"


def service(name: str, port: int = 80) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "http", "port": port}]},
    }


def endpoint_slice(name: str, address: str) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address]}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


async def mirrored(mirror: Kubegate, path: str) -> dict[str, Any]:
    response = await wait_for(mirror, path, lambda r: r.status == 200)
    assert response.status == 200, f"never mirrored: {path}: {response!r}"
    return response.json()


async def test_service_created_upstream_is_listed_by_the_mirror(cluster: Cluster, mirror):
    """A Service created upstream appears in the mirror's list of its namespace."""
    await cluster.create(f"/api/v1/namespaces/{cluster.namespace}/services", service("web"))
    path = f"/api/v1/namespaces/{cluster.namespace}/services"
    response = await wait_for(mirror, path, lambda r: r.status == 200 and r.json()["items"])
    assert [s["metadata"]["name"] for s in response.json()["items"]] == ["web"]
    assert response.json()["items"][0]["spec"]["ports"][0]["port"] == 80


async def test_service_updated_upstream_is_updated_in_the_mirror(cluster: Cluster, mirror):
    """A label added upstream reaches the mirror's copy of the Service."""
    base = f"/api/v1/namespaces/{cluster.namespace}/services"
    await cluster.create(base, service("web"))
    await mirrored(mirror, f"{base}/web")
    patch = {"metadata": {"labels": {"tier": "front"}}}
    assert (await cluster.kg.api("PATCH", f"{base}/web", patch, patch=True)).status == 200
    response = await wait_for(
        mirror,
        f"{base}/web",
        lambda r: (r.json().get("metadata", {}).get("labels") or {}).get("tier") == "front",
    )
    assert response.json()["metadata"]["labels"] == {"tier": "front"}


async def test_service_deleted_upstream_disappears_from_the_mirror(cluster: Cluster, mirror):
    """After an upstream delete the mirror answers 404 for the Service."""
    base = f"/api/v1/namespaces/{cluster.namespace}/services"
    await cluster.create(base, service("web"))
    await mirrored(mirror, f"{base}/web")
    assert (await cluster.kg.api("DELETE", f"{base}/web")).status == 200
    response = await wait_for(mirror, f"{base}/web", lambda r: r.status == 404)
    assert response.status == 404


async def watch_events(mirror: Kubegate, path: str, count: int, changes: Any) -> list[Any]:
    """Open a watch on the mirror, run ``changes()`` upstream, return ``count`` events."""
    listed = await mirrored(mirror, path)
    target = f"{path}?watch=true&resourceVersion={listed['metadata']['resourceVersion']}"
    conn = await mirror.connect()
    events: list[Any] = []
    try:
        await conn.send(request_bytes("GET", target, mirror.netloc, [mirror.bearer]))
        head = await conn.read_head()
        assert head.status == 200, head
        await changes()
        buffer = b""
        async with asyncio.timeout(20):
            async for piece in conn.iter_body(head):
                buffer += piece
                *lines, buffer = buffer.split(b"\n")
                events += [json.loads(line) for line in lines if line.strip()]
                if len(events) >= count:
                    break
    finally:
        await conn.close()
    return events


async def test_endpointslice_changes_upstream_reach_a_mirror_watch(cluster: Cluster, mirror):
    """A watch on the mirror sees an EndpointSlice added, modified and deleted upstream."""
    path = f"{SLICES}/namespaces/{cluster.namespace}/endpointslices"
    await mirrored(mirror, f"/api/v1/namespaces/{cluster.namespace}")

    async def changes() -> None:
        await cluster.create(path, endpoint_slice("web-1", "10.1.2.3"))
        moved = {"endpoints": [{"addresses": ["10.1.2.4"]}]}
        assert (await cluster.kg.api("PATCH", f"{path}/web-1", moved, patch=True)).status == 200
        assert (await cluster.kg.api("DELETE", f"{path}/web-1")).status == 200

    events = await watch_events(mirror, path, 3, changes)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[0]["object"]["endpoints"][0]["addresses"] == ["10.1.2.3"]
    assert events[1]["object"]["endpoints"][0]["addresses"] == ["10.1.2.4"]
    assert {e["object"]["metadata"]["name"] for e in events} == {"web-1"}


WRITES = [
    ("POST", "services", service("new")),
    ("PUT", "services/web", service("web", 81)),
    ("PATCH", "services/web", {"metadata": {"labels": {"x": "y"}}}),
    ("DELETE", "services/web", None),
    ("PATCH", "services/web/status", {"status": {}}),
    ("POST", "pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
]


@pytest.mark.parametrize(("method", "resource", "body"), WRITES)
async def test_writes_to_mirrored_resources_are_refused(
    cluster: Cluster, mirror, relay, method, resource, body
):
    """Every write to a mirrored resource is a 405 MethodNotAllowed naming the upstream."""
    base = f"/api/v1/namespaces/{cluster.namespace}"
    await cluster.create(f"{base}/services", service("web"))
    await mirrored(mirror, f"{base}/services/web")
    response = await mirror.api(method, f"{base}/{resource}", body, patch=method == "PATCH")
    assert response.status == 405, response
    assert status_reason(response.body) == "MethodNotAllowed"
    assert relay.url in response.message and "read-only" in response.message
    assert (await cluster.kg.api("GET", f"{base}/services/web")).json()["spec"]["ports"][0][
        "port"
    ] == 80


async def test_deleting_a_mirrored_namespace_is_refused(cluster: Cluster, mirror):
    """Namespaces are mirrored too: deleting one through the mirror is a 405."""
    path = f"/api/v1/namespaces/{cluster.namespace}"
    await mirrored(mirror, path)
    response = await mirror.api("DELETE", path)
    assert response.status == 405, response


async def test_the_mirrors_own_resources_stay_writable(cluster: Cluster, mirror):
    """A ConfigMap (not mirrored) can be created in a mirrored namespace of the mirror."""
    await mirrored(mirror, f"/api/v1/namespaces/{cluster.namespace}")
    name = f"cm-{uuid.uuid4().hex[:6]}"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}
    response = await mirror.api("POST", f"/api/v1/namespaces/{cluster.namespace}/configmaps", cm)
    assert response.status == 201, response


async def test_metrics_report_every_mirrored_resource_synced(mirror):
    """/metrics has kubegate_mirror_synced 1 and a relist counter for each resource."""
    samples = await metrics(mirror)
    for resource in ("namespaces", "services", "endpointslices.discovery.k8s.io", "pods", "nodes"):
        assert samples[series("kubegate_mirror_synced", resource)] == 1.0
        assert series("kubegate_mirror_relists_total", resource) in samples
        assert samples[series("kubegate_mirror_last_sync_timestamp_seconds", resource)] > 0


async def test_the_mirror_aggregates_its_own_clusterroles(mirror):
    """Without --mirror-rbac the local ClusterRole aggregation controller still runs: a
    labelled ClusterRole's rules are folded into the aggregating one."""
    label = f"agg-{uuid.uuid4().hex[:8]}"
    base = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    aggregate = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{label}-aggregate"},
        "aggregationRule": {
            "clusterRoleSelectors": [{"matchLabels": {"kubegate.test/agg": label}}]
        },
    }
    part = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{label}-part", "labels": {"kubegate.test/agg": label}},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    for obj in (aggregate, part):
        assert (await mirror.api("POST", base, obj)).status == 201
    response = await wait_for(
        mirror, f"{base}/{label}-aggregate", lambda r: bool(r.json().get("rules"))
    )
    assert response.json()["rules"] == part["rules"]
