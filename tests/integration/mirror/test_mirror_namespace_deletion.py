"""A mirror converges on what the upstream still has: a namespace deleted upstream takes its
Services, Pods and EndpointSlices out of the mirror, and the mirror's own objects in it
too; a mirror on a persistent store that was down while things were deleted upstream
drops them at its first list; and nothing the upstream still has goes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from integration.mirror.kit import (
    FAST_MIRROR,
    upstream_kubeconfig,
    wait_for,
    wait_ready,
)
from integration.proxy.cluster import start_server_process
from integration.proxy.harness import Cluster, Kubegate, new_cluster

SLICES = "/apis/discovery.k8s.io/v1"


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


def collections(namespace: str) -> list[str]:
    """The paths of the mirrored namespaced collections of ``namespace``."""
    return [
        f"/api/v1/namespaces/{namespace}/services",
        f"/api/v1/namespaces/{namespace}/pods",
        f"{SLICES}/namespaces/{namespace}/endpointslices",
    ]


async def populated(cluster: Cluster) -> None:
    """A Service with a selected Pod upstream: the upstream's controller adds a slice."""
    await cluster.pod("web-pod", [("http", 8080)], labels={"app": "web"})
    await cluster.service("web", [{"name": "http", "port": 80}], selector={"app": "web"})


async def until_listed(kg: Kubegate, path: str, *, empty: bool) -> list[str]:
    """Poll a list on ``kg`` until it is (non-)empty; returns the item names."""
    response = await wait_for(
        kg, path, lambda r: r.status == 200 and (not r.json()["items"]) == empty
    )
    assert response.status == 200, response
    return [item["metadata"]["name"] for item in response.json()["items"]]


async def test_a_namespace_deleted_upstream_empties_it_in_the_mirror(cluster: Cluster, mirror):
    """Once an upstream namespace is deleted, the mirror lists none of its Services, Pods
    and EndpointSlices and answers 404 for it, while another namespace's Service stays."""
    other = await new_cluster(cluster.kg, "kept")
    await other.service("stays", [{"name": "http", "port": 80}])
    await populated(cluster)
    for path in [*collections(cluster.namespace), collections(other.namespace)[0]]:
        assert await until_listed(mirror, path, empty=False)
    assert (await cluster.kg.api("DELETE", f"/api/v1/namespaces/{cluster.namespace}")).status == 200
    for path in collections(cluster.namespace):
        assert await until_listed(mirror, path, empty=True) == []
    gone = await wait_for(
        mirror, f"/api/v1/namespaces/{cluster.namespace}", lambda r: r.status == 404
    )
    assert gone.status == 404, gone
    assert await until_listed(mirror, collections(other.namespace)[0], empty=False) == ["stays"]


async def test_the_mirrors_own_objects_go_with_a_namespace_deleted_upstream(
    cluster: Cluster, mirror
):
    """A ConfigMap created in the mirror in a namespace deleted upstream is deleted with it;
    one in a namespace that stays is kept."""
    other = await new_cluster(cluster.kg, "kept")
    for namespace in (cluster.namespace, other.namespace):
        await wait_for(mirror, f"/api/v1/namespaces/{namespace}", lambda r: r.status == 200)
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        assert (await mirror.api("POST", path, configmap("local"))).status == 201
    assert (await cluster.kg.api("DELETE", f"/api/v1/namespaces/{cluster.namespace}")).status == 200
    path = f"/api/v1/namespaces/{cluster.namespace}/configmaps/local"
    gone = await wait_for(mirror, path, lambda r: r.status == 404)
    assert gone.status == 404, gone
    kept = await mirror.request("GET", f"/api/v1/namespaces/{other.namespace}/configmaps/local")
    assert kept.status == 200, kept


@contextlib.contextmanager
def persistent_mirror(data: Path, kubeconfig: Path) -> Iterator[Kubegate]:
    """A mirror on sqlite in ``data``: a second one started there finds the first's state."""
    process = start_server_process(
        data,
        "--upstream-kubeconfig",
        str(kubeconfig),
        *FAST_MIRROR,
        store=f"sqlite:{data / 'mirror.db'}",
    )
    try:
        yield Kubegate(process)
    finally:
        process.stop()


async def test_a_mirror_restarted_after_deletions_upstream_drops_them(
    upstream: Kubegate, tmp_path: Path
):
    """Deleted upstream while the mirror was down — a namespace with its objects and the
    mirror's own ConfigMap in it, and a Service elsewhere — all are gone once the restarted
    mirror is ready, and what the upstream still has is all there."""
    kubeconfig = upstream_kubeconfig(upstream, upstream.process.url, tmp_path / "up.kubeconfig")
    doomed, kept = await new_cluster(upstream, "doomed"), await new_cluster(upstream, "kept")
    await populated(doomed)
    await populated(kept)
    await kept.service("deleted", [{"name": "http", "port": 80}])
    data = tmp_path / "mirror"
    data.mkdir()
    with persistent_mirror(data, kubeconfig) as mirror:
        await wait_ready(mirror)
        for path in collections(doomed.namespace):
            assert await until_listed(mirror, path, empty=False)
        assert len(await until_listed(mirror, collections(kept.namespace)[0], empty=False)) == 2
        for namespace in (doomed.namespace, kept.namespace):
            path = f"/api/v1/namespaces/{namespace}/configmaps"
            assert (await mirror.api("POST", path, configmap("local"))).status == 201
    assert (await upstream.api("DELETE", f"/api/v1/namespaces/{doomed.namespace}")).status == 200
    deleted = f"/api/v1/namespaces/{kept.namespace}/services/deleted"
    assert (await upstream.api("DELETE", deleted)).status == 200

    with persistent_mirror(data, kubeconfig) as mirror:
        await wait_ready(mirror)  # every resource listed once: the lists have been applied
        for path in [
            *collections(doomed.namespace),
            f"/api/v1/namespaces/{doomed.namespace}/configmaps",
        ]:
            response = await mirror.request("GET", path)
            assert response.status == 200 and response.json()["items"] == [], (path, response)
        assert (await mirror.request("GET", f"/api/v1/namespaces/{doomed.namespace}")).status == 404
        assert (await mirror.request("GET", deleted)).status == 404
        for path in [
            *collections(kept.namespace),
            f"/api/v1/namespaces/{kept.namespace}/configmaps",
        ]:
            response = await mirror.request("GET", path)
            assert response.status == 200 and response.json()["items"], (path, response)
        services = await mirror.request("GET", collections(kept.namespace)[0])
        assert [s["metadata"]["name"] for s in services.json()["items"]] == ["web"]
