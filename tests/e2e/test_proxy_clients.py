"""Real clients through the service proxy: the pinned kubectl's ``get --raw`` and the official
Python client's ``connect_*_namespaced_service_proxy_with_path``, against a recording backend
on loopback (the shared ``--demo`` server may reach 127.0.0.1)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from integration.proxy.harness import (
    Exchange,
    Kubegate,
    Port,
    backends_fixture,
    cluster_fixture,
)

pytestmark = pytest.mark.e2e

BODY = b"hello from the backend\n"


@pytest.fixture(scope="module")
def kg(server) -> Kubegate:
    return Kubegate(server)


backends = backends_fixture()
cluster = cluster_fixture("kg")


@pytest.fixture(scope="module")
def core_v1(server) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=server.kubeconfig)
    yield client.CoreV1Api(api)
    api.close()
    gc.collect()  # a failed call's traceback can hold a pooled socket (see test_python_client)


async def plain(exchange: Exchange) -> None:
    await exchange.respond(200, [("Content-Type", "text/plain")], BODY)


@pytest.fixture
async def backend(cluster, backends):
    """A plain-text backend published as Service ``svc`` port 8080 (named ``http``)."""
    recorder = await backends.http(plain)
    await cluster.serve("svc", Port(recorder, service_port=8080))
    return recorder


async def test_kubectl_get_raw_reaches_the_backend(cluster, backend, kubectl):
    """``kubectl get --raw …/services/svc:8080/proxy/path?x=1`` prints the backend's body."""
    path = cluster.path("services", "svc:8080", "/some/path?x=1")
    result = await asyncio.to_thread(kubectl.run, "get", "--raw", path)
    assert result.stdout.encode() == BODY
    assert backend.targets() == ["/some/path?x=1"]
    assert backend.requests[0].method == "GET"


async def test_python_client_connect_get_reaches_the_backend(cluster, backend, core_v1):
    """``connect_get_namespaced_service_proxy_with_path`` returns the backend's body."""
    body = await asyncio.to_thread(
        core_v1.connect_get_namespaced_service_proxy_with_path,
        "svc:http",
        cluster.namespace,
        "status",
    )
    assert body == BODY.decode()
    assert [(r.method, r.target) for r in backend.requests] == [("GET", "/status")]


async def test_python_client_connect_post_reaches_the_backend(cluster, backend, core_v1):
    """``connect_post_namespaced_service_proxy_with_path`` is a POST the backend receives."""
    body = await asyncio.to_thread(
        core_v1.connect_post_namespaced_service_proxy_with_path, "svc", cluster.namespace, "submit"
    )
    assert body == BODY.decode()
    assert [(r.method, r.target) for r in backend.requests] == [("POST", "/submit")]


async def test_python_client_path_with_slashes_reaches_the_same_backend_path(
    cluster, backend, core_v1
):
    """A multi-segment path (the client sends its '/' as %2F) reaches the backend as /a/b, as on kube."""
    await asyncio.to_thread(
        core_v1.connect_get_namespaced_service_proxy_with_path, "svc", cluster.namespace, "a/b"
    )
    assert [r.target for r in backend.requests] == ["/a/b"]
