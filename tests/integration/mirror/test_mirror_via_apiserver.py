"""``--mirror-proxy via-apiserver``: a proxy request to the mirror is forwarded to the
upstream API server's own proxy subresource with the mirror's upstream credentials and
impersonation headers for the locally authenticated user — so the upstream's RBAC decides
and its audit log names that user — while no client or kubegate credential reaches the
backend. Bodies and WebSocket upgrades cross both hops."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect as ws_connect

from integration.mirror.kit import audit_events, bearer, status_reason, token
from integration.proxy.harness import Backends, Cluster, Kubegate, Port

MIRROR_ADMIN = "kubegate-admin"  # the upstream admin kubeconfig the mirror uses


async def served(cluster: Cluster, backends: Backends, name: str = "echo") -> Any:
    """A recording echo backend, published upstream as Service ``name`` (port ``http``)."""
    backend = await backends.http()
    await cluster.serve(name, Port(backend))
    backend.reset()
    return backend


async def upstream_audit_of(path: Path, uri: str, within: float = 10.0) -> dict[str, Any]:
    """The upstream's audit event (stage ResponseComplete) for ``uri``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        for event in audit_events(path):
            if event.get("requestURI") == uri and event.get("stage") == "ResponseComplete":
                return event
        assert loop.time() < deadline, f"no upstream audit event for {uri}"
        await asyncio.sleep(0.05)


async def test_user_allowed_upstream_reaches_the_backend(cluster, backends, mirror):
    """alice, whom the upstream's RBAC allows, gets the backend's answer through the mirror."""
    backend = await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/hello?x=1")
    response = await mirror.request("GET", path, headers=bearer(token("alice")), auth=None)
    assert response.status == 200, response
    assert [r.target for r in backend.requests] == ["/hello?x=1"]


async def test_upstream_sees_the_request_as_the_impersonated_user(
    cluster, backends, mirror, upstream_audit
):
    """The upstream's audit event: authenticated as the mirror, impersonating alice."""
    await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/who")
    response = await mirror.request("GET", path, headers=bearer(token("alice")), auth=None)
    assert response.status == 200, response
    event = await upstream_audit_of(upstream_audit, path)
    assert event["user"]["username"] == MIRROR_ADMIN
    assert event["impersonatedUser"]["username"] == "alice"
    assert "team-a" in event["impersonatedUser"]["groups"]
    assert event["responseStatus"]["code"] == 200


async def test_user_denied_upstream_gets_the_upstreams_forbidden(
    cluster, backends, mirror, upstream_audit
):
    """bob, allowed locally but not upstream, gets the upstream's 403; the backend sees nothing."""
    backend = await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/secret")
    response = await mirror.request("GET", path, headers=bearer(token("bob")), auth=None)
    assert response.status == 403, response
    assert status_reason(response.body) == "Forbidden"
    assert 'User "bob"' in response.message and "services/proxy" in response.message
    assert backend.requests == []
    event = await upstream_audit_of(upstream_audit, path)
    assert event["impersonatedUser"]["username"] == "bob"
    assert event["responseStatus"]["code"] == 403


async def test_group_membership_is_impersonated(cluster, backends, mirror):
    """carol is allowed upstream only through her group team-c: the group crosses too."""
    backend = await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/team")
    response = await mirror.request("GET", path, headers=bearer(token("carol")), auth=None)
    assert response.status == 200, response
    assert len(backend.requests) == 1


async def test_no_credential_reaches_the_backend(cluster, backends, mirror, upstream):
    """Neither the client's token nor the mirror's or the upstream's credentials, nor any
    Impersonate-* header, reach the backend."""
    backend = await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/creds")
    headers = [*bearer(token("alice")), ("Cookie", "app=1")]
    response = await mirror.request("GET", path, headers=headers, auth=None)
    assert response.status == 200, response
    (received,) = backend.requests
    names = received.names
    assert "authorization" not in names
    assert not {n for n in names if n.startswith(("impersonate-", "x-remote-"))}
    values = " ".join(value for _, value in received.headers)
    for secret in (token("alice"), mirror.token, upstream.token):
        assert secret not in values
    assert received.header("cookie") == "app=1"  # the app's own cookies still pass


async def test_request_body_streams_to_the_backend(cluster, backends, mirror):
    """A 1 MiB POST body arrives at the backend intact through both hops."""
    backend = await served(cluster, backends)
    body = bytes(range(256)) * 4096
    path = cluster.path("services", "echo:http", "/upload")
    headers = [*bearer(token("alice")), ("Content-Type", "application/octet-stream")]
    response = await mirror.request("POST", path, headers=headers, body=body, auth=None)
    assert response.status == 200, response
    (received,) = backend.requests
    assert received.body_length == len(body)
    assert received.body_sha256 == hashlib.sha256(body).hexdigest()


async def test_websocket_echo_through_the_mirror(cluster, backends, mirror: Kubegate):
    """A WebSocket to a backend upstream echoes text and binary through the mirror."""
    backend = await backends.websocket()
    await cluster.serve("ws", Port(backend))
    url = f"wss://{mirror.netloc}{cluster.path('services', 'ws:http', '/socket?q=1')}"
    options = {
        "ssl": mirror.ssl_context(),
        "additional_headers": bearer(token("alice")),
        "open_timeout": 10,
        "close_timeout": 5,
    }
    async with ws_connect(url, **options) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 5) == "hello"
        await ws.send(b"\x00\xff" * 5000)
        assert await asyncio.wait_for(ws.recv(), 5) == b"\x00\xff" * 5000
    assert backend.paths == ["/socket?q=1"]
    assert "authorization" not in {n.lower() for n, _ in backend.handshake_headers[0]}


async def test_unreachable_upstream_is_a_service_unavailable_status(
    cluster, backends, mirror, relay
):
    """With the line to the upstream cut, a proxy request gets a 503 Status naming it."""
    await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/")
    relay.down()
    try:
        response = await mirror.request("GET", path, headers=bearer(token("alice")), auth=None)
    finally:
        relay.up()
    assert response.status in (502, 503), response
    assert status_reason(response.body) in ("ServiceUnavailable", "BadGateway")
    assert relay.url in response.message
