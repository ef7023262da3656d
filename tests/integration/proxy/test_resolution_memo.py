"""The resolver memoises ``{id}`` -> backends per cache generation (proxy/resolve.py): every
test here first makes the proxy answer from a target (so the resolution is remembered), then
changes what the target resolves to, and expects the proxy to follow. A memo that outlived
the change would keep reaching the first backend, which still answers."""

from __future__ import annotations

from integration.proxy.harness import (
    LOOPBACK,
    Backend,
    Backends,
    Cluster,
    Exchange,
    Port,
    eventually,
)


def answering(text: bytes):  # type: ignore[no-untyped-def]
    async def handler(exchange: Exchange) -> None:
        await exchange.respond(200, [("Content-Type", "text/plain")], text)

    return handler


async def reaches(cluster: Cluster, resource: str, proxy_id: str, body: bytes) -> None:
    """Until the proxy's answer through ``resource/proxy_id`` is ``body`` (asserted)."""
    response = await eventually(
        lambda: cluster.get(resource, proxy_id, "/who"), lambda r: r.body == body
    )
    assert (response.status, response.body) == (200, body), response


async def test_service_follows_its_endpoints_to_another_pod(
    cluster: Cluster, backends: Backends
) -> None:
    """When the only ready Pod of a Service is replaced by another, the proxy goes there."""
    first: Backend = await backends.http(answering(b"first"))
    second: Backend = await backends.http(answering(b"second"))
    await cluster.serve("svc", Port(first))
    await reaches(cluster, "services", "svc:http", b"first")
    await cluster.pod("svc-pod-2", [("web", second.port)], labels={"app": "svc"})
    await cluster.set_pod_ip("svc-pod", LOOPBACK, ready=False)
    await reaches(cluster, "services", "svc:http", b"second")


async def test_service_follows_a_target_port_change(cluster: Cluster, backends: Backends) -> None:
    """Pointing the Service port at another container port moves the proxy there."""
    first = await backends.http(answering(b"first"))
    second = await backends.http(answering(b"second"))
    await cluster.pod("app-pod", [("web", first.port), ("alt", second.port)], labels={"app": "app"})
    await cluster.service(
        "app", [{"name": "http", "port": 80, "targetPort": "web"}], selector={"app": "app"}
    )
    await reaches(cluster, "services", "app:http", b"first")
    path = f"/api/v1/namespaces/{cluster.namespace}/services/app"
    patch = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "alt"}]}}
    response = await cluster.kg.api("PATCH", path, patch, patch=True)
    assert response.status == 200, response
    await reaches(cluster, "services", "app:http", b"second")


async def test_pod_follows_its_new_ip(cluster: Cluster, backends: Backends) -> None:
    """A Pod whose IP changes is proxied to at the new IP (same port number)."""
    first = await backends.http(answering(b"first"))
    await backends.http(answering(b"second"), host="127.0.0.2", port=first.port)
    await cluster.pod("p", [("web", first.port)])
    await reaches(cluster, "pods", "p", b"first")
    await cluster.set_pod_ip("p", "127.0.0.2")
    await reaches(cluster, "pods", "p", b"second")


async def test_deleted_service_is_not_found_again(cluster: Cluster, backends: Backends) -> None:
    """Once a proxied Service is deleted, its id answers 404 instead of the old backend."""
    backend = await backends.http(answering(b"here"))
    await cluster.serve("gone", Port(backend))
    await reaches(cluster, "services", "gone:http", b"here")
    response = await cluster.kg.api(
        "DELETE", f"/api/v1/namespaces/{cluster.namespace}/services/gone"
    )
    assert response.status == 200, response
    final = await eventually(
        lambda: cluster.get("services", "gone:http", "/who"), lambda r: r.status == 404
    )
    assert final.status == 404, final
