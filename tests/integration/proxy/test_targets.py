"""Which backend a proxy ``{id}`` reaches, and the exact errors when it cannot reach one
(k8s-proxy-semantics.md §1.2-§1.6, §1.9)."""

from __future__ import annotations

import ssl

import pytest
import trustme

from integration.proxy.harness import Backend, Backends, Cluster, Port, server_tls


@pytest.fixture
def tls_ca() -> trustme.CA:
    return trustme.CA()


def sni_recording_tls(ca: trustme.CA, seen: list[str | None], *names: str) -> ssl.SSLContext:
    """A serving context for ``names`` that records the SNI name each client sends."""
    context = server_tls(ca.issue_cert(*(names or ("backend.test",))))
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)
    return context


# -- services: every id form -------------------------------------------------------------------


async def test_service_name_alone_reaches_its_only_port(cluster, backends):
    """``services/svc/proxy/`` reaches the backend of a single-port Service."""
    backend = await backends.http()
    await cluster.serve("svc", Port(backend))
    response = await cluster.get("services", "svc", "/hello")
    assert response.status == 200
    assert backend.targets() == ["/hello"]


async def test_service_port_name_selects_that_port(cluster, backends):
    """``svc:portname`` reaches the backend behind the Service port of that name."""
    web, metrics = await backends.http(), await backends.http()
    await cluster.serve(
        "svc", Port(web), Port(metrics, name="metrics", service_port=9090, container_name="m")
    )
    response = await cluster.get("services", "svc:metrics", "/metrics")
    assert response.status == 200
    assert metrics.targets() == ["/metrics"]
    assert web.targets() == []


async def test_service_port_number_selects_the_service_port(cluster, backends):
    """``svc:8080`` means the Service port numbered 8080, not a target or container port."""
    web, admin = await backends.http(), await backends.http()
    await cluster.serve(
        "svc", Port(web), Port(admin, name="admin", service_port=8080, container_name="a")
    )
    response = await cluster.get("services", "svc:8080", "/admin")
    assert response.status == 200
    assert admin.targets() == ["/admin"]
    assert web.targets() == []


async def test_https_service_with_empty_port_reaches_the_tls_backend(cluster, backends, tls_ca):
    """``https:svc:`` speaks TLS to the Service's only port, sending SNI svc.ns.svc."""
    seen: list[str | None] = []
    backend = await backends.http(ssl_context=sni_recording_tls(tls_ca, seen))
    await cluster.serve("svc", Port(backend, name="https", service_port=443), wait_id="https:svc:")
    response = await cluster.get("services", "https:svc:", "/secure")
    assert response.status == 200
    assert backend.targets() == ["/secure"]
    assert seen[-1] == f"svc.{cluster.namespace}.svc"


async def test_https_service_with_port_name_reaches_that_tls_port(cluster, backends, tls_ca):
    """``https:svc:portname`` speaks TLS to the named port of a multi-port Service."""
    plain = await backends.http()
    secure = await backends.http(ssl_context=server_tls(tls_ca.issue_cert("backend.test")))
    await cluster.serve(
        "svc",
        Port(plain),
        Port(secure, name="tls", service_port=443, container_name="t"),
    )
    await cluster.wait_ready("services", "https:svc:tls")
    response = await cluster.get("services", "https:svc:tls", "/s")
    assert response.status == 200
    assert secure.targets() == ["/s"]
    assert plain.targets() == []


# -- services: errors ----------------------------------------------------------------------------


async def test_missing_service_is_404_not_found(cluster):
    """A Service that does not exist answers 404 ``services "x" not found``."""
    response = await cluster.get("services", "x")
    assert response.status == 404
    assert response.json()["reason"] == "NotFound"
    assert response.message == 'services "x" not found'


async def test_service_without_endpoints_is_503(cluster):
    """A Service whose selector matches no Pod answers 503 ``no endpoints available``."""
    await cluster.service("x", [{"name": "http", "port": 80}], selector={"app": "nothing"})
    response = await cluster.wait_found("services", "x")
    assert response.status == 503
    assert response.json()["reason"] == "ServiceUnavailable"
    assert response.message == 'no endpoints available for service "x"'


async def test_undeclared_service_port_number_is_503(cluster, backends):
    """A port number no Service port declares answers 503 ``no service port N found``."""
    backend = await backends.http()
    await cluster.serve("x", Port(backend))
    response = await cluster.get("services", "x:8081")
    assert response.status == 503
    assert response.message == 'no service port 8081 found for service "x"'
    assert backend.requests == []


@pytest.mark.parametrize("proxy_id", ["a:b:c:d", "ftp:x:80", ":80"])
async def test_malformed_service_id_is_400(cluster, proxy_id):
    """An id outside ``[scheme:]name[:port]`` answers 400 ``invalid service request``."""
    response = await cluster.get("services", proxy_id)
    assert response.status == 400
    assert response.message == f'invalid service request "{proxy_id}"'


async def test_dry_run_is_refused_before_the_backend(cluster, backends):
    """A ``dryRun`` parameter answers 400 ``dryRun is not supported`` without a backend call."""
    backend = await backends.http()
    await cluster.serve("svc", Port(backend))
    response = await cluster.get("services", "svc", "/x?dryRun=All")
    assert response.status == 400
    assert response.message == "dryRun is not supported"
    assert backend.requests == []


# -- pods --------------------------------------------------------------------------------------


async def _two_port_pod(cluster: Cluster, backends: Backends) -> tuple[Backend, Backend]:
    """A Pod whose first container declares no ports and whose second declares two."""
    first, second = await backends.http(), await backends.http()
    containers = [
        {"name": "sidecar", "image": "s"},
        {
            "name": "app",
            "image": "a",
            "ports": [
                {"name": "first", "containerPort": first.port},
                {"name": "second", "containerPort": second.port},
            ],
        },
    ]
    await cluster.pod("p", containers=containers)
    await cluster.wait_ready("pods", "p")
    first.reset()
    return first, second


async def test_pod_without_port_uses_the_first_declared_container_port(cluster, backends):
    """``pods/p/proxy/`` goes to the first port of the first container that declares ports."""
    first, second = await _two_port_pod(cluster, backends)
    response = await cluster.get("pods", "p", "/x")
    assert response.status == 200
    assert first.targets() == ["/x"]
    assert second.targets() == []


async def test_pod_port_name_is_resolved_among_container_ports(cluster, backends):
    """``pods/p:second/proxy/`` goes to the container port named ``second``."""
    first, second = await _two_port_pod(cluster, backends)
    response = await cluster.get("pods", "p:second", "/y")
    assert response.status == 200
    assert second.targets() == ["/y"]
    assert first.targets() == []


async def test_pod_port_number_is_used_as_given(cluster, backends):
    """``pods/p:NUMBER/proxy/`` goes to that port of the pod IP."""
    _first, second = await _two_port_pod(cluster, backends)
    response = await cluster.get("pods", f"p:{second.port}", "/z")
    assert response.status == 200
    assert second.targets() == ["/z"]


async def test_missing_pod_is_404_not_found(cluster):
    """A Pod that does not exist answers 404 ``pods "nope" not found``."""
    response = await cluster.get("pods", "nope")
    assert response.status == 404
    assert response.message == 'pods "nope" not found'


# -- nodes -------------------------------------------------------------------------------------


async def test_node_without_port_reaches_the_kubelet_endpoint_over_tls(cluster, backends, tls_ca):
    """``nodes/n/proxy/`` speaks TLS to status.daemonEndpoints.kubeletEndpoint.Port."""
    kubelet = await backends.http(ssl_context=server_tls(tls_ca.issue_cert("127.0.0.1")))
    name = f"node-{cluster.namespace}"
    await cluster.node(name, "127.0.0.1", kubelet.port)
    await cluster.wait_ready("nodes", name)
    response = await cluster.get("nodes", name, "/stats/summary")
    assert response.status == 200
    assert kubelet.targets() == ["/stats/summary"]
    assert kubelet.requests[0].header("Host") == f"127.0.0.1:{kubelet.port}"


async def test_node_with_other_port_reaches_plain_http(cluster, backends, tls_ca):
    """``nodes/n:PORT/proxy/`` for a port other than the kubelet's speaks plain HTTP."""
    kubelet = await backends.http(ssl_context=server_tls(tls_ca.issue_cert("127.0.0.1")))
    plain = await backends.http()
    name = f"node-{cluster.namespace}"
    await cluster.node(name, "127.0.0.1", kubelet.port)
    await cluster.wait_ready("nodes", f"{name}:{plain.port}")
    response = await cluster.get("nodes", f"{name}:{plain.port}", "/metrics")
    assert response.status == 200
    assert plain.targets() == ["/metrics"]
    assert kubelet.targets() == []
