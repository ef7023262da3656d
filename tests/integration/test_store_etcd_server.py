"""A full ``kubegate serve --store etcd://...`` process, driven by the real kubectl."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import aetcd
import pytest

from etcdkit import ETCD, MISSING, EtcdServer
from serverkit import Kubectl, ServerProcess, start_server_process

pytestmark = pytest.mark.skipif(ETCD is None, reason=MISSING)

PREFIX = "/kubegate-e2e"


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("etcd-server-test") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(etcd: EtcdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """kubegate on the etcd, with a 1 s etcd deadline so outage answers come quickly."""
    data_dir = tmp_path_factory.mktemp("kubegate-on-etcd")
    process = start_server_process(data_dir, store=etcd.url(PREFIX, timeout="1"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def kubectl(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """The pinned kubectl on the server's admin kubeconfig."""
    return Kubectl(server.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))


async def test_kubectl_creates_and_reads_a_configmap_kept_in_etcd(
    kubectl: Any, etcd: EtcdServer
) -> None:
    """kubectl create + get work, and the object lives in etcd under the configured prefix."""
    kubectl.run("create", "configmap", "hello", "--from-literal=greeting=hi")
    got = kubectl.json("get", "cm", "hello")
    assert got["data"] == {"greeting": "hi"}
    host, port = etcd.endpoint.split(":")
    async with aetcd.Client(host, int(port), timeout=5) as client:
        stored = await client.get(f"{PREFIX}/configmaps/default/hello".encode())
    assert stored is not None and stored.mod_revision == int(got["metadata"]["resourceVersion"])


def test_a_frozen_etcd_gets_a_quick_503_and_the_server_recovers(
    kubectl: Any, etcd: EtcdServer
) -> None:
    """With etcd silent the API answers 503 within about the etcd deadline, not a hang, and
    serves again once etcd is back, without a restart."""
    etcd.freeze()
    try:
        started = time.monotonic()
        failed = kubectl.run("get", "--raw", "/api/v1/namespaces/default/configmaps", check=False)
        elapsed = time.monotonic() - started
    finally:
        etcd.thaw()
    assert failed.returncode != 0 and "(ServiceUnavailable)" in failed.stderr
    assert elapsed < 10
    deadline = time.monotonic() + 15
    while kubectl.run("get", "cm", "-A", check=False).returncode != 0:
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)
