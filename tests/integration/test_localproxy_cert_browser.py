"""A browser using ``kubegate proxy`` with the admin kubeconfig (a client certificate): the
local proxy judges the browser itself, so kubegate serve must not take the kubeconfig's
certificate for one a browser presented by itself (which would confine it to proxy paths)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from integration.localproxy_harness import LocalProxyProcess, start_kubegate_proxy
from serverkit import start_server_process


@pytest.fixture(scope="module")
def local_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProxyProcess]:
    server = start_server_process(tmp_path_factory.mktemp("localproxy-cert") / "kg")
    proxy = start_kubegate_proxy(server.kubeconfig)
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


async def test_browser_reads_the_api_with_the_kubeconfig_certificate(
    local_proxy: LocalProxyProcess,
) -> None:
    """A same-origin fetch from a page on the local proxy reads the API (not confined)."""
    response = await local_proxy.request(
        "GET", "/api/v1/namespaces", headers=browser_headers(local_proxy)
    )
    assert response.status == 200, response


async def test_browser_writes_with_the_kubeconfig_certificate(
    local_proxy: LocalProxyProcess,
) -> None:
    """A same-origin POST from a page on the local proxy is not refused by kubegate serve."""
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}})
    response = await local_proxy.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        headers=[*browser_headers(local_proxy), ("Content-Type", "application/json")],
        body=body.encode(),
    )
    assert response.status == 201, response
