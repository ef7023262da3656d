"""SSRF through the proxy: Pod, endpoint and Node addresses that must never be dialled
(security.md §2.6, A5, A11; CVE-2021-25740, CVE-2022-3294).

The main server here listens on 127.0.0.2 and may reach 127.0.0.2 only. Every target starts
at a backend on 127.0.0.2 (so the test knows the proxy's cache sees it), then moves to the
forbidden address; sentinels listen on 127.0.0.1 and ::1 on the *same port*, so any dial of a
loopback form (127.0.0.1, 0.0.0.0, ::ffff:127.0.0.1, ::1, 127.1 …) would land on one of them.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

import pytest

from integration.proxy.harness import (
    Backend,
    Backends,
    Cluster,
    Port,
    backends_fixture,
    closed_port,
    cluster_fixture,
    eventually,
    kubegate_fixture,
    resolution_pending,
)

ALLOWED = "127.0.0.2"

kg = kubegate_fixture(
    "--bind-address",
    ALLOWED,
    "--advertise-address",
    ALLOWED,
    "--proxy-allow-cidrs",
    f"{ALLOWED}/32",
)
loopback_refused_kg = kubegate_fixture()  # no --proxy-allow-cidrs: kube's policy
backends = backends_fixture()
cluster = cluster_fixture("kg")
refusing_cluster = cluster_fixture("loopback_refused_kg")

FORBIDDEN_IPS = [
    "127.0.0.1",
    "0.0.0.0",
    "::",
    "::1",
    "169.254.169.254",
    "fe80::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "224.0.0.1",
    "2130706433",
    "0x7f.1",
    "127.1",
    "0177.0.0.1",
]


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@dataclass
class Target:
    """A backend on the allowed address, and sentinels on the forbidden ones, one port."""

    ready: Backend
    sentinels: list[Backend]

    @property
    def port(self) -> int:
        return self.ready.port

    @property
    def dials(self) -> int:
        return sum(s.connections for s in self.sentinels)


@pytest.fixture
async def target(backends: Backends) -> Target:
    hosts = ["127.0.0.1", *(["::1"] if has_ipv6_loopback() else [])]
    for _ in range(10):
        ready = await backends.http(host=ALLOWED)
        sentinels = []
        with contextlib.suppress(OSError):
            for host in hosts:
                sentinels.append(await backends.http(host=host, port=ready.port))
            return Target(ready, sentinels)
    raise RuntimeError("no port free on every loopback address")


async def until_unreachable(cluster: Cluster, resource: str, proxy_id: str) -> None:
    """Until the proxy stops reaching the ready backend through this target (the cache has
    seen the move); the answer that follows is judged by the test."""
    await eventually(
        lambda: cluster.get(resource, proxy_id, "/__ready"), lambda r: not r.is_backend
    )


async def pod_moved_to(cluster: Cluster, target: Target, ip: str) -> None:
    await cluster.pod("p", [("web", target.port)], ip=ALLOWED)
    await cluster.wait_ready("pods", "p")
    await cluster.set_pod_ip("p", ip)
    await until_unreachable(cluster, "pods", "p")


@pytest.mark.parametrize("ip", FORBIDDEN_IPS)
async def test_pod_at_a_forbidden_address_is_refused_without_a_dial(cluster, target, ip):
    """A Pod IP that is loopback, unspecified, link-local, metadata, multicast or not
    canonical answers 400 ``address not allowed``, and nothing is dialled (A5)."""
    await pod_moved_to(cluster, target, ip)
    response = await cluster.get("pods", "p", "/latest/meta-data/")
    assert response.status == 400
    assert response.message == "address not allowed"
    assert target.dials == 0


@pytest.mark.parametrize("ip", ["127.0.0.1", "0.0.0.0", "169.254.169.254"])
async def test_service_endpoint_at_a_forbidden_address_is_refused_without_a_dial(
    cluster, target, ip
):
    """A Service whose endpoint moved to a forbidden address answers 400 and dials nothing (A5)."""
    await cluster.serve("svc", Port(target.ready), ip=ALLOWED)
    await cluster.set_pod_ip("svc-pod", ip)
    await until_unreachable(cluster, "services", "svc")
    response = await cluster.get("services", "svc", "/")
    assert response.status == 400
    assert response.message == "address not allowed"
    assert target.dials == 0


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "::1", "127.1", "localhost"])
async def test_node_at_a_forbidden_address_is_refused_without_a_dial(cluster, target, address):
    """A Node address that is (or resolves to) a forbidden IP answers 400, no dial (A5)."""
    name = f"n-{cluster.namespace}"
    await cluster.node(name, ALLOWED, closed_port())
    await cluster.wait_ready("nodes", f"{name}:{target.port}")
    await cluster.set_node_address(name, address, closed_port())
    await until_unreachable(cluster, "nodes", f"{name}:{target.port}")
    response = await cluster.get("nodes", f"{name}:{target.port}", "/")
    assert response.status == 400
    assert target.dials == 0


async def test_node_pointing_at_kubegate_itself_is_refused(cluster, backends):
    """A Node whose address and kubelet port are kubegate's own listener answers 400 (A11)."""
    ready = await backends.http(host=ALLOWED)
    name = f"n-{cluster.namespace}"
    await cluster.node(name, ALLOWED, closed_port())
    await cluster.wait_ready("nodes", f"{name}:{ready.port}")  # the address itself is allowed
    refused = await cluster.get("nodes", name, "/api/v1/namespaces")
    assert refused.message.startswith("error trying to reach service")  # the old kubelet port
    await cluster.set_node_address(name, ALLOWED, cluster.kg.port)
    response = await eventually(
        lambda: cluster.get("nodes", name, "/api/v1/namespaces"),
        lambda r: not r.message.startswith("error trying to reach service"),
    )
    assert response.status == 400
    assert response.message == "address not allowed"


async def test_node_port_naming_kubegate_itself_is_refused(cluster, backends):
    """``nodes/n:<kubegate port>/proxy/`` at kubegate's own address answers 400 (A11)."""
    ready = await backends.http(host=ALLOWED)
    name = f"n-{cluster.namespace}"
    await cluster.node(name, ALLOWED, closed_port())
    await cluster.wait_ready("nodes", f"{name}:{ready.port}")
    response = await cluster.get("nodes", f"{name}:{cluster.kg.port}", "/api/v1/namespaces")
    assert response.status == 400
    assert response.message == "address not allowed"


async def test_pod_at_kubegate_itself_is_refused(cluster, backends):
    """``pods/p:<kubegate port>/proxy/`` for a pod on kubegate's address answers 400 (A11)."""
    ready = await backends.http(host=ALLOWED)
    await cluster.pod("p", [("web", ready.port)], ip=ALLOWED)
    await cluster.wait_ready("pods", "p")
    response = await cluster.get("pods", f"p:{cluster.kg.port}", "/api/v1/namespaces")
    assert response.status == 400
    assert response.message == "address not allowed"


async def test_loopback_is_refused_unless_allowed(refusing_cluster, backends):
    """Without --proxy-allow-cidrs a backend on 127.0.0.1 is refused, never dialled (A5)."""
    sentinel = await backends.http()
    c = refusing_cluster
    await c.service(
        "svc", [{"name": "http", "port": 80, "targetPort": "web"}], selector={"app": "svc"}
    )
    await c.wait_found("services", "svc")  # 503: no endpoints yet
    await c.pod("svc-pod", [("web", sentinel.port)], labels={"app": "svc"})
    # The endpoint slice for 127.0.0.1 is in the proxy's view once "no endpoints" ends.
    service = await eventually(
        lambda: c.get("services", "svc"), lambda r: not resolution_pending(r)
    )
    pod = await c.get("pods", "svc-pod")
    assert (service.status, service.message) == (400, "address not allowed")
    assert (pod.status, pod.message) == (400, "address not allowed")
    assert sentinel.connections == 0
