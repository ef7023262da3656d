"""``kubegate proxy`` next to the real ``kubectl proxy`` (pinned v1.37.1), both in front of the
same kubegate: the same tests pass through each (which also proves kubegate is an API server
kubectl proxy can front), and both answer the same requests the same way."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from integration.localproxy_harness import (
    DEMO,
    LocalProxyProcess,
    start_kubectl_proxy,
    start_kubegate_proxy,
)
from integration.proxy.client import Response, request_bytes
from serverkit import ServerProcess, kubectl_binary

pytestmark = pytest.mark.e2e

STARTERS = {"kubegate": start_kubegate_proxy, "kubectl": start_kubectl_proxy}


@pytest.fixture(scope="module", params=sorted(STARTERS))
def any_proxy(request: pytest.FixtureRequest, server: ServerProcess) -> Iterator[LocalProxyProcess]:
    """Each of the two proxies, with its defaults, on a free port."""
    running = STARTERS[request.param](server.kubeconfig)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def both(server: ServerProcess) -> Iterator[tuple[LocalProxyProcess, LocalProxyProcess]]:
    """kubegate proxy and kubectl proxy side by side."""
    ours = start_kubegate_proxy(server.kubeconfig)
    theirs = start_kubectl_proxy(server.kubeconfig)
    yield ours, theirs
    ours.stop()
    theirs.stop()


async def test_get_through_either_proxy(any_proxy: LocalProxyProcess) -> None:
    """A demo service answers a GET with its path and query."""
    response = await any_proxy.request("GET", f"{DEMO}/echo/proxy/get/this?x=1")
    assert response.status == 200, response
    assert (response.json()["path"], response.json()["raw_query"]) == ("/get/this", "x=1")


async def test_post_through_either_proxy(any_proxy: LocalProxyProcess) -> None:
    """A demo service receives a POST body whole."""
    body = json.dumps({"name": "through a local proxy"}).encode()
    response = await any_proxy.request(
        "POST", f"{DEMO}/echo/proxy/post", [("Content-Type", "application/json")], body
    )
    assert response.status == 200, response
    assert response.json()["body"]["sha256"] == hashlib.sha256(body).hexdigest()


async def test_websocket_through_either_proxy(any_proxy: LocalProxyProcess) -> None:
    """The webapp's WebSocket echo works through the upgrade."""
    uri = f"ws://localhost:{any_proxy.port}{DEMO}/webapp/proxy/ws"
    async with asyncio.timeout(20), websockets.connect(uri) as ws:
        assert json.loads(await ws.recv())["type"] == "greeting"
        await ws.send("hello")
        assert await ws.recv() == "hello"


async def test_sse_through_either_proxy(any_proxy: LocalProxyProcess) -> None:
    """Server-sent events arrive as they are sent."""
    async with await any_proxy.open() as conn:
        await conn.send(
            request_bytes(
                "GET", f"{DEMO}/echo/proxy/sse?n=3&interval_ms=600", any_proxy.host_header
            )
        )
        head = await conn.read_head()
        arrivals = []
        async with asyncio.timeout(20):
            async for piece in conn.iter_body(head):
                arrivals.extend(time.monotonic() for _ in range(piece.count(b"id: ")))
    assert len(arrivals) == 3
    assert arrivals[-1] - arrivals[0] > 0.8


@pytest.mark.parametrize(
    ("target", "host"),
    [
        ("/api/v1/namespaces/default/pods/p/exec?command=sh", None),
        ("/api/v1/namespaces/default/pods/p/attach", None),
        ("/version", "localhost.evil.com"),
        ("/version", "attacker.example:8001"),
    ],
)
async def test_filters_through_either_proxy(
    any_proxy: LocalProxyProcess, target: str, host: str | None
) -> None:
    """exec/attach and foreign Host headers: 403 ``Forbidden`` in text/plain."""
    response = await any_proxy.request("GET", target, host=host)
    assert (response.status, response.body) == (403, b"Forbidden\n")
    assert response.header("content-type") == "text/plain; charset=utf-8"


@pytest.mark.parametrize("name", sorted(STARTERS))
async def test_www_through_either_proxy(server: ServerProcess, tmp_path: Path, name: str) -> None:
    """--www serves a file under /static/."""
    (tmp_path / "hello.txt").write_text("hello\n")
    running = STARTERS[name](server.kubeconfig, "-p", "0", "--www", str(tmp_path))
    try:
        response = await running.request("GET", "/static/hello.txt")
        assert (response.status, response.body) == (200, b"hello\n")
        assert response.header("content-type") == "text/plain; charset=utf-8"
    finally:
        running.stop()


@pytest.mark.parametrize("name", sorted(STARTERS))
async def test_unix_socket_through_either_proxy(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """--unix-socket: only the owner may connect, and requests are proxied."""
    path = str(tmp_path / "p.sock")
    running = STARTERS[name](server.kubeconfig, "--unix-socket", path)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
        response = await running.request("GET", "/version", host="localhost")
        assert response.status == 200 and "gitVersion" in response.json()
    finally:
        running.stop()


def test_kubectl_works_through_kubegate_proxy(
    both: tuple[LocalProxyProcess, LocalProxyProcess], tmp_path: Path
) -> None:
    """kubectl pointed at kubegate proxy (no credentials of its own) lists and creates."""
    ours, _ = both
    empty = tmp_path / "empty-kubeconfig"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    base = [
        kubectl_binary(),
        "--kubeconfig",
        str(empty),
        "--server",
        f"http://localhost:{ours.port}",
    ]
    base += ["--cache-dir", str(tmp_path / "cache")]

    def run(*args: str) -> str:
        result = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "webapp" in run("get", "services", "-n", "kube-system")
    run("create", "configmap", "via-kubegate-proxy", "--from-literal=a=b")
    assert "via-kubegate-proxy" in run("get", "configmaps")
    run("delete", "configmap", "via-kubegate-proxy")


COMPARED = [
    ("GET", "/version", None, None),
    ("GET", "/api/v1/namespaces/kube-system", None, None),
    ("GET", f"{DEMO}/webapp/proxy/", None, None),
    ("GET", f"{DEMO}/webapp/proxy/app.js", None, None),
    ("GET", f"{DEMO}/webapp/proxy", None, None),  # the API server's redirect to proxy/
    ("GET", "/api/v1/namespaces/default/pods/no-such-pod", None, None),
    ("GET", "/api/v1/namespaces/default/pods/exec-worker", None, None),
    ("GET", "/api/v1/namespaces/default/pods/p/exec", None, None),  # filtered
    ("GET", "/api/v1/namespaces/default/pods/p/%65xec", None, None),  # filtered, encoded
    ("POST", "/api/v1/namespaces/default/pods/p/attach", None, b""),  # filtered
    ("GET", "/version", "localhost.evil.com", None),  # filtered host
    ("GET", "//api/v1/namespaces", None, None),  # Go's mux redirect
    ("POST", "/api//v1/namespaces?x=1", None, b"{}"),  # redirect without a body
    ("POST", "/api/v1/namespaces/default/configmaps", None, b"{not json"),  # 400 Status
    ("GET", "/no/such/path", None, None),
]


def _comparable(response: Response) -> tuple[int, bytes, str | None]:
    return response.status, response.body, response.header("content-type")


@pytest.mark.parametrize(("method", "target", "host", "body"), COMPARED)
async def test_responses_match_kubectl_proxy(
    both: tuple[LocalProxyProcess, LocalProxyProcess],
    method: str,
    target: str,
    host: str | None,
    body: bytes | None,
) -> None:
    """kubegate proxy answers as kubectl proxy does: status, body and content type."""
    ours, theirs = both
    headers = [("Content-Type", "application/json")] if body is not None else []
    got = await ours.request(method, target, headers, body, host=host)
    expected = await theirs.request(method, target, headers, body, host=host)
    assert _comparable(got) == _comparable(expected)
    if expected.status in (301, 307):
        assert got.header("location") == expected.header("location")
