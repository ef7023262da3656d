"""Connection upgrades through the proxy: a WebSocket tunnel end to end, the query kept on the
upgrade request, and what happens when the backend does not switch protocols
(k8s-proxy-semantics.md §2.5; security.md §2.2, A1, A2, A25, A26)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from integration.proxy.harness import (
    Backend,
    Cluster,
    Connection,
    Exchange,
    Handler,
    Port,
    Response,
    request_bytes,
)

WS_HEADERS = [
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
]


def ws_url(cluster: Cluster, subpath: str, proxy_id: str = "svc") -> str:
    return f"wss://{cluster.kg.netloc}{cluster.path('services', proxy_id, subpath)}"


def ws_options(cluster: Cluster) -> dict[str, Any]:
    return {
        "ssl": cluster.kg.ssl_context(),
        "additional_headers": [cluster.kg.bearer],
        "open_timeout": 10,
        "close_timeout": 5,
    }


@pytest.fixture
async def ws_backend(cluster, backends):
    """A WebSocket echo backend published as Service ``svc``."""
    backend = await backends.websocket()
    await cluster.serve("svc", Port(backend))
    return backend


async def test_websocket_messages_are_echoed_through_the_proxy(cluster, ws_backend):
    """Text and binary frames cross the proxy both ways over one upgraded connection."""
    async with ws_connect(ws_url(cluster, "/ws"), **ws_options(cluster)) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 5) == "hello"
        await ws.send(b"\x00\x01\xff" * 1000)
        assert await asyncio.wait_for(ws.recv(), 5) == b"\x00\x01\xff" * 1000
    assert ws_backend.paths == ["/ws"]


async def test_websocket_upgrade_keeps_the_raw_query(cluster, ws_backend):
    """The upgrade request reaches the backend with its query, byte for byte (kube drops it)."""
    query = "container=app&command=a%20b&stdin=true&x=+;y"
    async with ws_connect(ws_url(cluster, f"/exec?{query}"), **ws_options(cluster)) as ws:
        await ws.send("ping")
        await asyncio.wait_for(ws.recv(), 5)
    assert ws_backend.paths == [f"/exec?{query}"]


async def test_upgrade_request_does_not_carry_the_bearer_token(cluster, ws_backend):
    """The handshake the backend sees has no Authorization header."""
    async with ws_connect(ws_url(cluster, "/ws"), **ws_options(cluster)) as ws:
        await ws.send("x")
        await asyncio.wait_for(ws.recv(), 5)
    names = {name.lower() for name, _ in ws_backend.handshake_headers[0]}
    assert "authorization" not in names
    assert "sec-websocket-key" in names


def refusing_upgrade(status: int, extra: Sequence[tuple[str, str]] = ()) -> Handler:
    """A handler that answers an upgrade with ``status`` and keeps its connection open."""

    async def handler(exchange: Exchange) -> None:
        await exchange.respond(
            status, [("Content-Type", "text/plain"), *extra], b"backend says no\n"
        )

    return handler


async def upgrade_through(cluster: Cluster, backend: Backend) -> tuple[Connection, Response]:
    """Send a WebSocket upgrade through the proxy on a raw connection; return it and the head."""
    await cluster.serve("svc", Port(backend))
    backend.reset()
    conn = await cluster.kg.connect()
    target = cluster.path("services", "svc", "/first")
    await conn.send(
        request_bytes("GET", target, cluster.kg.netloc, [cluster.kg.bearer, *WS_HEADERS])
    )
    return conn, await conn.read_head()


async def test_refused_upgrade_is_relayed_then_the_connection_closes(cluster, backends):
    """A 403 answer to an upgrade reaches the client, then kubegate closes the connection (A1)."""
    backend = await backends.http(refusing_upgrade(403))
    conn, head = await upgrade_through(cluster, backend)
    async with conn:
        assert head.status == 403
        assert await conn.read_body(head) == b"backend says no\n"
        assert await conn.read_until_eof() == b""


async def test_request_after_a_refused_upgrade_never_reaches_the_backend(cluster, backends):
    """Bytes written after a non-101 answer never become a backend request (A1)."""
    backend = await backends.http(refusing_upgrade(500))
    conn, head = await upgrade_through(cluster, backend)
    async with conn:
        await conn.read_body(head)
        second = request_bytes("GET", "/second", "backend", [("X-Smuggled", "1")])
        with contextlib.suppress(ConnectionError):  # kubegate may have closed already
            await conn.send(second)
        await conn.read_until_eof()
    await backend.wait_for(lambda: backend.connection_ended(backend.requests[0]))
    assert backend.targets() == ["/first"]


@pytest.mark.parametrize("status", [200, 301, 302, 307])
async def test_non_101_success_or_redirect_on_upgrade_is_an_error(cluster, backends, status):
    """A 2xx or 3xx answer to an upgrade becomes kubegate's own error: no Location, no body (A2)."""
    backend = await backends.http(refusing_upgrade(status, [("Location", "https://evil.example/")]))
    conn, head = await upgrade_through(cluster, backend)
    async with conn:
        body = await conn.read_body(head)
    assert head.status >= 500
    assert head.header("location") is None
    assert b"backend says no" not in body
    assert head.header("content-type") == "application/json"


@pytest.mark.parametrize(
    ("token", "extra"),
    [
        ("h2c", [("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")]),
        ("foo", []),
        ("websocket, h2c", []),
    ],
)
async def test_unlisted_upgrade_protocols_are_refused(cluster, backends, token, extra):
    """``Upgrade: h2c`` and other protocols but websocket and SPDY/3.1 answer 400 (A25)."""
    backend = await backends.http()
    await cluster.serve("svc", Port(backend))
    headers = [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", token), *extra]
    response = await cluster.get("services", "svc", "/", headers=headers)
    assert response.status == 400
    assert backend.requests == []


async def test_upgrade_with_a_body_never_smuggles_a_request(cluster, backends):
    """An upgrade carrying a body is refused or tunnelled; the body never parses as a request (A26)."""
    backend = await backends.http(refusing_upgrade(400))
    await cluster.serve("svc", Port(backend))
    backend.reset()
    smuggled = request_bytes("GET", "/smuggled", "backend")
    target = cluster.path("services", "svc", "/up")
    conn = await cluster.kg.connect()
    async with conn:
        await conn.send(
            request_bytes(
                "GET", target, cluster.kg.netloc, [cluster.kg.bearer, *WS_HEADERS], smuggled
            )
        )
        await conn.read_until_eof()
    after = await cluster.get("services", "svc", "/after")
    assert after.status == 400  # the backend's own answer: the proxy still works
    assert "/smuggled" not in backend.targets()


async def silent(exchange: Exchange) -> None:
    """Never answers; returns when the proxy closes the connection."""
    while await exchange.reader.read(65536):
        pass


async def test_client_leaving_during_the_upgrade_handshake_closes_the_backend_connection(
    cluster, backends
):
    """A client that leaves before the backend answers its upgrade frees the backend connection."""
    backend = await backends.http(silent)
    await cluster.serve("svc", Port(backend))
    backend.reset()
    conn = await cluster.kg.connect()
    target = cluster.path("services", "svc", "/first")
    await conn.send(
        request_bytes("GET", target, cluster.kg.netloc, [cluster.kg.bearer, *WS_HEADERS])
    )
    await backend.wait_for(lambda: len(backend.requests) == 1)
    conn.writer.transport.abort()
    await backend.wait_for(lambda: backend.connection_ended(backend.requests[0]), within=3)
