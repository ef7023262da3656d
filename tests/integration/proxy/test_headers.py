"""The header policy in both directions: what the backend receives (credentials, hop-by-hop
and Connection-nominated headers gone; X-Forwarded-* and Host set by kubegate), and how a
backend's Location is rewritten (k8s-proxy-semantics.md §2.2, §2.3; security.md A4, A17-A20).
"""

from __future__ import annotations

import pytest

from integration.proxy.harness import (
    Backend,
    Backends,
    Cluster,
    Exchange,
    Handler,
    Port,
    Received,
)


@pytest.fixture
async def backend(cluster, backends):
    """An echo backend published as Service ``svc`` in the test's namespace."""
    echo = await backends.http()
    await cluster.serve("svc", Port(echo))
    return echo


async def forwarded(
    cluster: Cluster,
    backend: Backend,
    headers: list[tuple[str, str]],
    *,
    auth: str = "token",
    subpath: str = "/h",
) -> Received:
    """Send one proxied GET with ``headers``; return what the backend received."""
    response = await cluster.get("services", "svc", subpath, headers=headers, auth=auth)
    assert response.status == 200, response
    assert len(backend.requests) == 1
    return backend.requests[0]


# -- credentials -------------------------------------------------------------------------------


async def test_bearer_token_never_reaches_the_backend(cluster, backend):
    """The Authorization header that authenticated the caller is not forwarded."""
    received = await forwarded(cluster, backend, [])
    assert "authorization" not in received.names


async def test_authorization_meant_for_the_backend_is_dropped_too(cluster, backend):
    """A certificate-authenticated caller's own Authorization header is not forwarded (as kube)."""
    received = await forwarded(
        cluster, backend, [("Authorization", "Basic Zm9vOmJhcg==")], auth="cert"
    )
    assert "authorization" not in received.names


async def test_impersonation_headers_are_removed(cluster, backend):
    """Impersonate-User, -Group, -Uid and -Extra-* never reach the backend (A19)."""
    headers = [
        ("Impersonate-User", "system:admin"),
        ("Impersonate-Group", "system:masters"),
        ("Impersonate-Uid", "1"),
        ("Impersonate-Extra-Scopes", "all"),
    ]
    received = await forwarded(cluster, backend, headers)
    assert not [n for n in received.names if n.startswith("impersonate-")]


async def test_front_proxy_headers_are_removed(cluster, backend):
    """X-Remote-User, -Group and -Extra-* never reach the backend (A19)."""
    headers = [
        ("X-Remote-User", "admin"),
        ("X-Remote-Group", "system:masters"),
        ("X-Remote-Extra-Foo", "x"),
    ]
    received = await forwarded(cluster, backend, headers)
    assert not [n for n in received.names if n.startswith("x-remote-")]


async def test_proxy_authorization_is_removed(cluster, backend):
    """Proxy-Authorization is a hop credential and never reaches the backend (A19)."""
    received = await forwarded(cluster, backend, [("Proxy-Authorization", "Basic eDp5")])
    assert "proxy-authorization" not in received.names


# -- hop-by-hop and Connection nominations --------------------------------------------------------


async def test_connection_nominated_headers_are_removed(cluster, backend):
    """Headers named in Connection are dropped, but not the proxy's own (A18)."""
    headers = [
        ("Connection", "keep-alive, X-Foo, X-Forwarded-For, Authorization"),
        ("X-Foo", "1"),
        ("X-Bar", "2"),
    ]
    received = await forwarded(cluster, backend, headers)
    assert "x-foo" not in received.names
    assert received.header("X-Bar") == "2"
    assert received.values("X-Forwarded-For") == ["127.0.0.1"]
    assert "authorization" not in received.names


async def test_hop_by_hop_headers_are_removed(cluster, backend):
    """Keep-Alive, TE, Trailer, Proxy-Connection and a bare Upgrade are not forwarded."""
    headers = [
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Proxy-Connection", "keep-alive"),
        ("Upgrade", "websocket"),
    ]
    received = await forwarded(cluster, backend, headers)
    assert not received.names & {"keep-alive", "te", "trailer", "proxy-connection", "upgrade"}


async def test_end_to_end_headers_and_cookies_pass_unchanged(cluster, backend):
    """Ordinary headers, cookies and the user agent reach the backend as sent."""
    headers = [("X-Custom", "a, b"), ("Cookie", "theme=dark; lang=en"), ("User-Agent", "probe/1.0")]
    received = await forwarded(cluster, backend, headers)
    assert received.header("X-Custom") == "a, b"
    assert received.header("Cookie") == "theme=dark; lang=en"
    assert received.header("User-Agent") == "probe/1.0"


# -- headers set by kubegate --------------------------------------------------------------------


async def test_x_forwarded_for_is_the_real_peer(cluster, backend):
    """A client's X-Forwarded-For is replaced by the address kubegate saw (A20)."""
    received = await forwarded(cluster, backend, [("X-Forwarded-For", "6.6.6.6")])
    assert received.values("X-Forwarded-For") == ["127.0.0.1"]


async def test_forwarding_claims_are_overwritten(cluster, backend):
    """X-Forwarded-Host/Proto/Uri/Prefix, Forwarded and X-Real-IP are kubegate's (A20)."""
    headers = [
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "gopher"),
        ("X-Forwarded-Uri", "/admin"),
        ("X-Forwarded-Prefix", "/evil"),
        ("Forwarded", "for=6.6.6.6;host=evil.example"),
        ("X-Real-IP", "6.6.6.6"),
    ]
    received = await forwarded(cluster, backend, headers, subpath="/h?q=1")
    prefix = cluster.path("services", "svc", "")
    assert received.values("X-Forwarded-Host") == [cluster.kg.netloc]
    assert received.values("X-Forwarded-Proto") == ["https"]
    assert received.values("X-Forwarded-Uri") == [f"{prefix}/h?q=1"]
    assert received.values("X-Forwarded-Prefix") == [prefix]
    assert "forwarded" not in received.names
    assert "x-real-ip" not in received.names


async def test_host_is_the_backend_address(cluster, backend):
    """The backend is sent its own address as Host, never the client's (A17)."""
    received = await forwarded(cluster, backend, [])
    assert received.values("Host") == [f"127.0.0.1:{backend.port}"]


async def test_request_body_and_method_pass_through(cluster, backend):
    """A POST body reaches the backend byte for byte, with its content type."""
    body = bytes(range(256)) * 64
    path = cluster.path("services", "svc", "/upload")
    response = await cluster.kg.request(
        "POST", path, headers=[("Content-Type", "application/octet-stream")], body=body
    )
    assert response.status == 200
    received = backend.requests[0]
    assert (received.method, received.body) == ("POST", body)
    assert received.header("Content-Type") == "application/octet-stream"


# -- Location rewriting --------------------------------------------------------------------------


def redirecting_to(location: str, status: int = 302) -> Handler:
    """A handler answering ``status`` with ``location`` ('{self}': the backend's address)."""

    async def handler(exchange: Exchange) -> None:
        target = location.replace("{self}", f"127.0.0.1:{exchange.backend.port}")
        await exchange.respond(status, [("Location", target)], b"moved")

    return handler


async def redirect_seen(
    cluster: Cluster, backends: Backends, location: str, proxy_id: str = "svc"
) -> str | None:
    """The Location a client sees when the backend redirects to ``location``."""
    backend = await backends.http(redirecting_to(location))
    await cluster.serve("svc", Port(backend))
    response = await cluster.get("services", proxy_id, "/start")
    assert response.status == 302
    return response.header("location")


async def test_absolute_path_location_is_moved_under_the_proxy_prefix(cluster, backends):
    """``Location: /login`` becomes ``/api/v1/namespaces/ns/services/svc/proxy/login``."""
    location = await redirect_seen(cluster, backends, "/login?next=%2F")
    assert location == f"/api/v1/namespaces/{cluster.namespace}/services/svc/proxy/login?next=%2F"


async def test_location_prefix_keeps_the_id_form_used(cluster, backends):
    """The rewritten Location uses the id the client used (``svc:http``)."""
    location = await redirect_seen(cluster, backends, "/login", proxy_id="svc:http")
    assert location == f"/api/v1/namespaces/{cluster.namespace}/services/svc:http/proxy/login"


async def test_absolute_same_host_location_is_rewritten(cluster, backends):
    """``http://<backend address>/x`` becomes a path under the proxy prefix."""
    location = await redirect_seen(cluster, backends, "http://{self}/x/y?z=1")
    assert location == f"/api/v1/namespaces/{cluster.namespace}/services/svc/proxy/x/y?z=1"


async def test_foreign_location_is_relayed_unchanged(cluster, backends):
    """A redirect to another host is passed back as it is (kube's service proxy policy)."""
    location = await redirect_seen(cluster, backends, "https://other.example/path?x=1")
    assert location == "https://other.example/path?x=1"


async def test_relative_location_is_relayed_unchanged(cluster, backends):
    """A relative reference (``login``) resolves against the proxied URL by itself."""
    location = await redirect_seen(cluster, backends, "login")
    assert location == "login"


async def test_redirects_are_relayed_never_followed(cluster, backends):
    """A backend 302 to a listening address is handed back; nothing dials it (A4)."""
    sentinel = await backends.http()
    location = await redirect_seen(cluster, backends, f"http://127.0.0.1:{sentinel.port}/")
    assert location == f"http://127.0.0.1:{sentinel.port}/"
    assert sentinel.connections == 0


# -- response headers ----------------------------------------------------------------------------


async def answering_with(exchange: Exchange) -> None:
    headers = [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Connection", "X-Hop"),
        ("X-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Set-Cookie", "theme=dark; Path=/"),
        ("X-App", "yes"),
    ]
    await exchange.respond(200, headers, b"ok")


async def test_backend_cors_and_hop_by_hop_response_headers_are_removed(cluster, backends):
    """Access-Control-*, Keep-Alive and Connection-nominated headers stop at the proxy (A29)."""
    backend = await backends.http(answering_with)
    await cluster.serve("svc", Port(backend))
    response = await cluster.get("services", "svc", "/")
    names = {name for name, _ in response.headers}
    assert not [n for n in names if n.startswith("access-control-")]
    assert not names & {"x-hop", "keep-alive"}


async def test_other_backend_response_headers_pass(cluster, backends):
    """Set-Cookie (scoped to the proxy prefix, proxy/rewrite.py) and application headers
    from the backend reach the client."""
    backend = await backends.http(answering_with)
    await cluster.serve("svc", Port(backend))
    response = await cluster.get("services", "svc", "/")
    assert response.values("set-cookie") == [
        f"theme=dark; Path={cluster.path('services', 'svc', '')}/"
    ]
    assert response.header("x-app") == "yes"
