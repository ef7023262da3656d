"""A browser using ``kubegate proxy`` whose kubeconfig holds basic credentials: the local proxy
judges the browser itself, so kubegate serve must not mistake the kubeconfig's basic
credentials for ones the browser attached (which would confine them to proxy paths and
demand kubegate serve's own Origin)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from integration.localproxy_harness import LocalProxyProcess, start_kubegate_proxy
from serverkit import ServerProcess, start_server_process

PASSWORD = "pw-local-basic-7"


@pytest.fixture(scope="module")
def local_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProxyProcess]:
    data = tmp_path_factory.mktemp("localproxy-basic")
    passwords = data / "passwords.csv"
    passwords.write_text(f'{PASSWORD},alice,u1,"system:masters"\n')
    server: ServerProcess = start_server_process(data / "kg", f"--basic-auth-file={passwords}")
    kubeconfig = data / "kubeconfig"
    cluster = {"server": server.url, "certificate-authority": str(server.data_dir / "ca.crt")}
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"username": "alice", "password": PASSWORD}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    proxy = start_kubegate_proxy(str(kubeconfig))
    try:
        yield proxy
    finally:
        proxy.stop()
        server.stop()


def browser_headers(proxy: LocalProxyProcess) -> list[tuple[str, str]]:
    return [
        ("Origin", f"http://{proxy.host_header}"),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Mode", "cors"),
    ]


async def test_browser_reads_the_api_through_the_local_proxy(
    local_proxy: LocalProxyProcess,
) -> None:
    """A same-origin fetch from a page on the local proxy reads the API (not confined)."""
    response = await local_proxy.request(
        "GET", "/api/v1/namespaces", headers=browser_headers(local_proxy)
    )
    assert response.status == 200, response


async def test_browser_writes_through_the_local_proxy(local_proxy: LocalProxyProcess) -> None:
    """A same-origin POST from a page on the local proxy is not refused as cross-origin."""
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}})
    response = await local_proxy.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        headers=[*browser_headers(local_proxy), ("Content-Type", "application/json")],
        body=body.encode(),
    )
    assert response.status == 201, response
