"""The local proxy in-process, in front of a recording fake API server on 127.0.0.1:0: what
reaches the API server, the keep-alive pool, cancellation, service-mode rewriting."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from integration.proxy.client import Connection, request_bytes
from kubegate.client.api_forwarder import resolve_api_server
from kubegate.client.localproxy import LocalProxy, LocalProxySettings
from kubegate.client.service_mode import ServiceTarget
from kubegate.http import HTTPServer, Request, ResponseWriter

KUBECONFIG_AUTH = ("Authorization", "Bearer from-the-kubeconfig")
SVC_PREFIX = "/api/v1/namespaces/ns/services/web/proxy"


class FakeCredentials:
    async def auth_headers(self) -> list[tuple[str, str]]:
        return [KUBECONFIG_AUTH]

    def ssl_context(self) -> None:
        return None

    def presents_certificate(self) -> bool:
        return False

    def invalidate(self) -> None:
        pass


@dataclass
class FakeApi:
    """Records every request; a few paths behave specially."""

    seen: list[Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    stream_ended: asyncio.Event = field(default_factory=asyncio.Event)
    upgrade_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, request: Request, response: ResponseWriter) -> None:
        self.seen.append(request)
        body = await request.body.read(1 << 30)
        self.bodies.append(body)
        if request.path == "/hanging-upgrade":  # never answers; waits for the proxy to leave
            self.upgrade_arrived.set()
            try:
                await response.client_gone()
            finally:
                self.stream_ended.set()
            return
        if request.path == "/quiet-stream":
            await response.start(200, [("Content-Type", "application/json")])
            await response.write(b'{"type":"ADDED"}\n')
            try:
                await response.client_gone()
            finally:
                self.stream_ended.set()
            return
        if request.path.startswith(SVC_PREFIX + "/go-login"):
            await response.send(302, [("Location", SVC_PREFIX + "/login?next=%2F")])
            return
        doc = {
            "target": request.target,
            "headers": request.headers,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        await response.send(200, [("Content-Type", "application/json")], json.dumps(doc).encode())


@dataclass
class Running:
    api: FakeApi
    proxy: LocalProxy
    port: int

    async def request(
        self, method: str, target: str, headers=(), body: bytes | None = None, host: str = ""
    ):  # type: ignore[no-untyped-def]
        async with await Connection.open("127.0.0.1", self.port) as conn:
            await conn.send(
                request_bytes(method, target, host or f"localhost:{self.port}", list(headers), body)
            )
            async with asyncio.timeout(10):
                return await conn.read_response(method)


async def _running(settings: LocalProxySettings) -> AsyncIterator[Running]:
    api = FakeApi()
    server = HTTPServer(api)
    (_, api_port), *_ = await server.start("127.0.0.1", 0)
    proxy = LocalProxy(
        settings, await resolve_api_server(f"http://127.0.0.1:{api_port}", None), FakeCredentials()
    )
    address = await proxy.start()
    try:
        yield Running(api, proxy, int(address.rpartition(":")[2]))
    finally:
        await proxy.close(grace=1.0)
        await server.shutdown(grace=1.0)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    async for value in _running(LocalProxySettings(port=0, token="local-secret")):
        yield value


@pytest.fixture
async def service() -> AsyncIterator[Running]:
    async for value in _running(LocalProxySettings(port=0, service=ServiceTarget("ns", "web"))):
        yield value


TOKEN = [("X-Kubegate-Proxy-Token", "local-secret")]


async def test_kubeconfig_credentials_replace_the_callers(running: Running) -> None:
    """The API server sees the kubeconfig's Authorization, never the caller's or the token."""
    response = await running.request(
        "GET", "/api/v1/pods", [("Authorization", "Bearer local-secret")]
    )
    assert response.status == 200, response
    headers = running.api.seen[-1].headers
    assert [v for n, v in headers if n == "authorization"] == [KUBECONFIG_AUTH[1]]
    assert not [n for n, _ in headers if n == "x-kubegate-proxy-token"]


async def test_request_headers_reaching_the_api_server(running: Running) -> None:
    """Host is the API server's, hop-by-hop headers go, X-Forwarded-For is the peer, the rest
    (Impersonate-* included, as kubectl) passes."""
    await running.request(
        "GET",
        "/api/v1/pods?watch=1",
        [
            *TOKEN,
            ("Connection", "keep-alive, X-Drop-Me"),
            ("X-Drop-Me", "1"),
            ("Keep-Alive", "5"),
            ("Impersonate-User", "jane"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("Accept", "application/json"),
        ],
    )
    seen = running.api.seen[-1]
    headers = dict(seen.headers)
    assert seen.target == "/api/v1/pods?watch=1"
    assert headers["host"] == f"127.0.0.1:{running.proxy.forwarder.api.port}"
    assert "x-drop-me" not in headers and "keep-alive" not in headers
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["impersonate-user"] == "jane"
    assert headers["accept"] == "application/json"


async def test_missing_token_is_401_before_the_api(running: Running) -> None:
    """Without the local token nothing is forwarded."""
    response = await running.request("GET", "/api/v1/pods")
    assert response.status == 401
    assert running.api.seen == []


async def test_bodies_are_forwarded_whole(running: Running) -> None:
    """Small and large (streamed) request bodies arrive intact."""
    for size in (10, 300_000):
        body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        response = await running.request("POST", "/api/v1/namespaces/d/configmaps", TOKEN, body)
        assert response.json()["sha256"] == hashlib.sha256(body).hexdigest()


async def test_upstream_connections_are_kept_alive(running: Running) -> None:
    """Sequential requests reuse one connection to the API server."""
    for _ in range(20):
        assert (await running.request("GET", "/version", TOKEN)).status == 200
    pool = running.proxy.forwarder.pool
    assert pool is not None and pool.stats().opened == 1


async def test_client_disconnect_ends_a_quiet_stream_upstream(running: Running) -> None:
    """A client leaving a quiet watch makes the proxy drop its API server stream at once."""
    conn = await Connection.open("127.0.0.1", running.port)
    await conn.send(request_bytes("GET", "/quiet-stream", f"localhost:{running.port}", TOKEN))
    head = await conn.read_head()
    assert head.status == 200
    await conn.reader.readuntil(b"ADDED")
    await conn.close()
    async with asyncio.timeout(5):
        await running.api.stream_ended.wait()


async def test_client_disconnect_abandons_a_pending_upgrade(running: Running) -> None:
    """A client leaving while the API server has not answered its upgrade frees that request."""
    conn = await Connection.open("127.0.0.1", running.port)
    upgrade = [*TOKEN, ("Connection", "Upgrade"), ("Upgrade", "websocket")]
    await conn.send(request_bytes("GET", "/hanging-upgrade", f"localhost:{running.port}", upgrade))
    async with asyncio.timeout(5):
        await running.api.upgrade_arrived.wait()
    await conn.close()
    async with asyncio.timeout(5):
        await running.api.stream_ended.wait()


async def test_service_mode_maps_paths_and_rewrites_locations(service: Running) -> None:
    """Local /x goes to the service proxy's /x; a Location under the prefix comes back at /."""
    response = await service.request("GET", "/app/page?q=1")
    assert response.json()["target"] == SVC_PREFIX + "/app/page?q=1"
    root = await service.request("GET", "/")
    assert root.json()["target"] == SVC_PREFIX + "/"
    redirect = await service.request("GET", "/go-login")
    assert (redirect.status, redirect.header("location")) == (302, "/login?next=%2F")


async def test_service_mode_keeps_the_kubectl_filter_on_the_api_path(service: Running) -> None:
    """Host filtering still applies in service mode."""
    response = await service.request("GET", "/", host="evil.example")
    assert response.status == 403
