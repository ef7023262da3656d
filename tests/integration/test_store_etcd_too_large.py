"""An object larger than etcd's request limit gets kube's 413, not a 500, from ``kubegate serve``
on a real etcd (default ``--max-request-bytes``, 1.5 MiB)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import aetcd
import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from etcdkit import ETCD, MISSING, EtcdServer
from serverkit import ServerProcess, start_server_process

pytestmark = pytest.mark.skipif(ETCD is None, reason=MISSING)

PREFIX = "/kubegate-too-large"


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("etcd-too-large") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(etcd: EtcdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server_process(
        tmp_path_factory.mktemp("kubegate-too-large"), store=etcd.url(PREFIX)
    )
    yield process
    process.stop()


def oversized_config_map(name: str) -> dict:
    """A ConfigMap kube's validation accepts (1 MiB of data, 200 KiB of annotations) whose
    stored JSON (binaryData is base64) is ~1.6 MiB, past etcd's 1.5 MiB request limit."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": {"filler": "a" * 200 * 1024}},
        "binaryData": {"blob": base64.b64encode(bytes(1024 * 1024)).decode()},
    }


async def test_an_object_over_etcds_request_limit_is_a_413_and_not_stored(
    server: ServerProcess, etcd: EtcdServer
) -> None:
    """Creating a ConfigMap that etcd refuses as too large answers a 413 RequestEntityTooLarge
    Status and leaves nothing in etcd."""
    api = client.CoreV1Api(config.new_client_from_config(server.kubeconfig))
    with pytest.raises(ApiException) as raised:
        api.create_namespaced_config_map("default", oversized_config_map("huge"))
    status = json.loads(raised.value.body)
    assert raised.value.status == 413, status
    assert status["kind"] == "Status" and status["reason"] == "RequestEntityTooLarge"
    assert "request is too large" in status["message"]
    host, port = etcd.endpoint.split(":")
    async with aetcd.Client(host, int(port), timeout=5) as etcd_client:
        assert await etcd_client.get(f"{PREFIX}/configmaps/default/huge".encode()) is None
