"""Real clients against a mirror: the pinned kubectl and the official Kubernetes Python
client list, get and watch what the upstream holds, and a kubectl write is refused with
kube's MethodNotAllowed wording."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, watch

from integration.mirror.kit import wait_for
from integration.proxy.harness import Cluster, Kubegate
from serverkit import Kubectl

pytestmark = pytest.mark.e2e


def service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]},
    }


async def create_and_wait(cluster: Cluster, mirror: Kubegate, name: str) -> None:
    """Create a Service upstream and wait until the mirror serves it."""
    base = f"/api/v1/namespaces/{cluster.namespace}/services"
    await cluster.create(base, service(name))
    response = await wait_for(mirror, f"{base}/{name}", lambda r: r.status == 200)
    assert response.status == 200, response


@pytest.fixture
def kubectl(mirror: Kubegate, tmp_path: Path) -> Kubectl:
    return Kubectl(mirror.process.kubeconfig, tmp_path / "kubectl-cache")


@pytest.fixture
def v1(mirror: Kubegate) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=mirror.process.kubeconfig)
    yield client.CoreV1Api(api)
    api.close()
    gc.collect()  # an ApiException's traceback can hold a socket open past the test


async def test_kubectl_gets_upstream_services_from_the_mirror(cluster: Cluster, mirror, kubectl):
    """``kubectl get svc`` prints the mirrored Service with its server-side columns."""
    await create_and_wait(cluster, mirror, "web")
    result = await asyncio.to_thread(kubectl.run, "get", "svc", "-n", cluster.namespace)
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"]
    assert row.split()[0] == "web" and "80/TCP" in row
    obj = await asyncio.to_thread(kubectl.json, "get", "svc", "web", "-n", cluster.namespace)
    assert obj["spec"]["ports"][0]["port"] == 80


class Lines:
    """A process's stdout lines, read by a thread (a pipe has no timeout of its own)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._queue.put(line)

    def until(self, needle: str, within: float = 20.0) -> str:
        """The lines read until one contains ``needle`` (all of them if time runs out)."""
        seen = ""
        deadline = time.monotonic() + within
        while needle not in seen and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(queue.Empty):
                seen += self._queue.get(timeout=left)
        return seen


async def test_kubectl_watch_on_the_mirror_sees_an_upstream_creation(
    cluster: Cluster, mirror, kubectl
):
    """``kubectl get svc -w`` against the mirror prints a Service created upstream later."""
    await create_and_wait(cluster, mirror, "first")
    proc = kubectl.popen("get", "svc", "-n", cluster.namespace, "-w")
    lines = Lines(proc)
    try:
        assert "first" in await asyncio.to_thread(lines.until, "first")
        await cluster.create(f"/api/v1/namespaces/{cluster.namespace}/services", service("second"))
        assert "second" in await asyncio.to_thread(lines.until, "second")
    finally:
        proc.kill()
        proc.communicate(timeout=10)


async def test_kubectl_write_to_the_mirror_is_method_not_allowed(cluster: Cluster, mirror, kubectl):
    """``kubectl label`` on a mirrored Service fails with kube's MethodNotAllowed line."""
    await create_and_wait(cluster, mirror, "web")
    result = await asyncio.to_thread(
        kubectl.run, "label", "svc", "web", "tier=x", "-n", cluster.namespace, check=False
    )
    assert result.returncode != 0
    assert "Error from server (MethodNotAllowed)" in result.stderr
    assert "read-only" in result.stderr


async def test_python_client_lists_and_reads_the_mirror(cluster: Cluster, mirror, v1):
    """The official client lists and reads typed Services from the mirror."""
    await create_and_wait(cluster, mirror, "web")
    listed = await asyncio.to_thread(v1.list_namespaced_service, cluster.namespace)
    assert [s.metadata.name for s in listed.items] == ["web"]
    read = await asyncio.to_thread(v1.read_namespaced_service, "web", cluster.namespace)
    assert isinstance(read, client.V1Service) and read.spec.ports[0].port == 80


def first_event_for(v1: client.CoreV1Api, namespace: str, rv: str, name: str) -> str | None:
    """The type of the first watch event about Service ``name`` (None if none in time)."""
    w = watch.Watch()
    try:
        for event in w.stream(
            v1.list_namespaced_service, namespace, resource_version=rv, timeout_seconds=15
        ):
            if event["object"].metadata.name == name:
                return str(event["type"])
    finally:
        w.stop()
    return None


async def test_python_client_watch_on_the_mirror_sees_an_upstream_creation(
    cluster: Cluster, mirror, v1
):
    """A watch through the official client reports ADDED for a Service created upstream."""
    await create_and_wait(cluster, mirror, "first")
    listed = await asyncio.to_thread(v1.list_namespaced_service, cluster.namespace)
    watching = asyncio.create_task(
        asyncio.to_thread(
            first_event_for, v1, cluster.namespace, listed.metadata.resource_version, "second"
        )
    )
    await cluster.create(f"/api/v1/namespaces/{cluster.namespace}/services", service("second"))
    assert await asyncio.wait_for(watching, 30) == "ADDED"
