"""``--apps-domain``: each service port on its own origin, signed in through the main origin.

Every request is real HTTPS to 127.0.0.1 with the app host as SNI and Host header, verified
against kubegate's CA (so the serving certificate must name ``*.apps.localhost``)."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator, Sequence
from urllib.parse import parse_qs, urlsplit

import pytest

from integration.proxy.harness import (
    Backends,
    Cluster,
    Connection,
    Kubegate,
    Port,
    Response,
    eventually,
    request_bytes,
    running_kubegate,
)
from integration.ui.conftest import BOB_TOKEN
from integration.ui.pages import read_page
from integration.ui.test_index import HTML, grant

DOMAIN = "apps.localhost"
BOB = ("Authorization", f"Bearer {BOB_TOKEN}")
PROXY_SERVICES = [{"apiGroups": [""], "resources": ["services/proxy"], "verbs": ["get", "create"]}]


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubegate]:
    tokens = tmp_path_factory.mktemp("apps-auth") / "tokens.csv"
    tokens.write_text(f"{BOB_TOKEN},bob,bob-uid\n")
    with running_kubegate(
        "--proxy-allow-cidrs",
        "127.0.0.0/8",
        "--token-auth-file",
        str(tokens),
        "--apps-domain",
        DOMAIN,
    ) as running:
        yield running


async def fetch(
    kg: Kubegate,
    host: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> Response:
    """One HTTPS request to 127.0.0.1 addressed (SNI and Host) to ``host``."""
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", kg.port, ssl=kg.ssl_context(), server_hostname=host, limit=1 << 20
        )
        conn = Connection(reader, writer)
        try:
            await conn.send(request_bytes(method, target, f"{host}:{kg.port}", headers, body))
            return await conn.read_response(method)
        finally:
            await conn.close()


def app_host(cluster: Cluster, service: str = "web", port: str = "http") -> str:
    return f"{port}--{service}--{cluster.namespace}.{DOMAIN}"


def cookie(response: Response, name: str) -> str | None:
    for value in response.values("set-cookie"):
        if value.startswith(name + "="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return None


def continue_url(page: Response) -> str:
    """Where the ``/-/apps-auth`` page sends the browser on (its refresh and its link)."""
    assert page.status == 200, page
    links = [link.href for link in read_page(page.body).links if link.text == "Continue"]
    refresh = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', page.body.decode())
    assert refresh and links == [html.unescape(refresh.group(1))], page
    return links[0]


async def sign_in(
    kg: Kubegate, host: str, then: str = "/", *, credential=BOB
) -> tuple[str, Response]:
    """The whole redirect handshake for ``host``; returns the app cookie and the last answer."""
    first = await fetch(kg, host, then, [HTML])
    assert first.status == 302, first
    state = cookie(first, "__Host-kubegate_app_state")
    auth = urlsplit(first.header("location"))
    assert auth.netloc == f"localhost:{kg.port}" and auth.path == "/-/apps-auth"
    second = await fetch(kg, "localhost", f"{auth.path}?{auth.query}", [HTML, credential])
    callback = urlsplit(continue_url(second))
    assert callback.netloc == f"{host}:{kg.port}" and callback.path == "/-/apps-callback"
    third = await fetch(
        kg,
        host,
        f"{callback.path}?{callback.query}",
        [HTML, ("Cookie", f"__Host-kubegate_app_state={state}")],
    )
    secret = cookie(third, "__Host-kubegate_app_session")
    assert third.status == 302 and secret, third
    return secret, third


async def published(cluster: Cluster, backends: Backends, name: str = "web") -> None:
    await cluster.serve(name, Port(await backends.http()))
    await grant_once(cluster)


async def grant_once(cluster: Cluster) -> None:
    if not getattr(cluster, "_granted", False):
        await grant(cluster, PROXY_SERVICES)
        cluster._granted = True  # type: ignore[attr-defined]


async def app_get(kg: Kubegate, host: str, secret: str, target: str = "/", extra=()) -> Response:
    return await fetch(
        kg, host, target, [("Cookie", f"__Host-kubegate_app_session={secret}"), *extra]
    )


async def test_app_origin_sends_a_browser_to_the_main_origin(cluster: Cluster, backends: Backends):
    """Without its cookie, an app host answers a page load with a 302 to ``/-/apps-auth``."""
    await published(cluster, backends)
    host = app_host(cluster)
    response = await fetch(cluster.kg, host, "/dash?x=1", [HTML])
    assert response.status == 302
    location = urlsplit(response.header("location"))
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        f"localhost:{cluster.kg.port}",
        "/-/apps-auth",
    )
    query = parse_qs(location.query)
    assert query["host"] == [f"{host}:{cluster.kg.port}"] and query["then"] == ["/dash?x=1"]
    state_cookie = next(
        v for v in response.values("set-cookie") if v.startswith("__Host-kubegate_app_state=")
    )
    assert query["state"] == [cookie(response, "__Host-kubegate_app_state")]
    assert "Secure" in state_cookie and "HttpOnly" in state_cookie and "Path=/" in state_cookie
    assert "Domain" not in state_cookie


async def test_api_clients_get_401_on_an_app_host(cluster: Cluster, backends: Backends):
    """A request that is not a page load gets a 401 Status, not a redirect."""
    await published(cluster, backends)
    response = await fetch(
        cluster.kg, app_host(cluster), "/api/data", [("Accept", "application/json")]
    )
    assert response.status == 401
    assert response.json()["kind"] == "Status"


async def test_sign_in_then_the_app_runs_at_the_root_of_its_origin(
    cluster: Cluster, backends: Backends
):
    """After the handshake the browser lands on its path, served with no prefix at all."""
    await published(cluster, backends)
    host = app_host(cluster)
    secret, last = await sign_in(cluster.kg, host, "/dash?x=1")
    assert last.header("location") == "/dash?x=1"
    session_cookie = next(
        v for v in last.values("set-cookie") if v.startswith("__Host-kubegate_app_session=")
    )
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} <= {
        p.strip() for p in session_cookie.split(";")
    }
    response = await app_get(cluster.kg, host, secret, "/dash?x=1", [("Cookie", "theirs=1")])
    assert response.status == 200, response
    echoed = response.json()
    assert echoed["target"] == "/dash?x=1"
    sent = {k.lower(): v for k, v in echoed["headers"]}
    assert "x-forwarded-prefix" not in sent
    assert sent["x-forwarded-host"] == f"{host}:{cluster.kg.port}"
    assert "kubegate_app_session" not in sent.get("cookie", "") and "theirs=1" in sent["cookie"]


async def test_unauthenticated_apps_auth_goes_to_login(cluster: Cluster, backends: Backends):
    """``/-/apps-auth`` needs the main origin's sign-in: a browser without one goes to /login."""
    await published(cluster, backends)
    host = app_host(cluster)
    first = await fetch(cluster.kg, host, "/", [HTML])
    auth = urlsplit(first.header("location"))
    response = await fetch(cluster.kg, "localhost", f"{auth.path}?{auth.query}", [HTML])
    assert response.status == 302, response
    assert response.header("location").startswith("/login?then=%2F-%2Fapps-auth%3F")


async def test_apps_auth_refuses_a_user_rbac_does_not_allow(cluster: Cluster, backends: Backends):
    """No code is issued for an app the user may not proxy to."""
    await cluster.serve("web", Port(await backends.http()))  # and no grant for bob
    host = app_host(cluster)
    first = await fetch(cluster.kg, host, "/", [HTML])
    auth = urlsplit(first.header("location"))
    response = await fetch(cluster.kg, "localhost", f"{auth.path}?{auth.query}", [HTML, BOB])
    assert response.status == 403
    assert "apps-callback" not in response.body.decode()


async def test_a_code_works_once(cluster: Cluster, backends: Backends):
    """Replaying the callback URL (a leaked code) fails the second time."""
    await published(cluster, backends)
    host = app_host(cluster)
    first = await fetch(cluster.kg, host, "/", [HTML])
    state = cookie(first, "__Host-kubegate_app_state")
    auth = urlsplit(first.header("location"))
    second = await fetch(cluster.kg, "localhost", f"{auth.path}?{auth.query}", [HTML, BOB])
    callback = urlsplit(continue_url(second))
    state_cookie = [HTML, ("Cookie", f"__Host-kubegate_app_state={state}")]
    used = await fetch(cluster.kg, host, f"{callback.path}?{callback.query}", state_cookie)
    assert used.status == 302
    replayed = await fetch(cluster.kg, host, f"{callback.path}?{callback.query}", state_cookie)
    assert replayed.status == 400
    assert cookie(replayed, "__Host-kubegate_app_session") is None


async def test_callback_needs_the_state_this_browser_started_with(
    cluster: Cluster, backends: Backends
):
    """A code alone does not sign a browser in: its state cookie must match (login CSRF)."""
    await published(cluster, backends)
    host = app_host(cluster)
    first = await fetch(cluster.kg, host, "/", [HTML])
    auth = urlsplit(first.header("location"))
    second = await fetch(cluster.kg, "localhost", f"{auth.path}?{auth.query}", [HTML, BOB])
    callback = urlsplit(continue_url(second))
    other_state = [HTML, ("Cookie", "__Host-kubegate_app_state=someone-elses-state-0123456789")]
    response = await fetch(cluster.kg, host, f"{callback.path}?{callback.query}", other_state)
    assert response.status == 400
    assert cookie(response, "__Host-kubegate_app_session") is None


async def test_a_code_for_one_app_fails_on_another(cluster: Cluster, backends: Backends):
    """A code is bound to the app host it was issued for."""
    await published(cluster, backends, "web")
    await published(cluster, backends, "other")
    host, other = app_host(cluster, "web"), app_host(cluster, "other")
    first = await fetch(cluster.kg, host, "/", [HTML])
    state = cookie(first, "__Host-kubegate_app_state")
    auth = urlsplit(first.header("location"))
    second = await fetch(cluster.kg, "localhost", f"{auth.path}?{auth.query}", [HTML, BOB])
    callback = urlsplit(continue_url(second))
    response = await fetch(
        cluster.kg,
        other,
        f"{callback.path}?{callback.query}",
        [HTML, ("Cookie", f"__Host-kubegate_app_state={state}")],
    )
    assert response.status == 400


async def test_an_app_cookie_does_not_work_on_another_app(cluster: Cluster, backends: Backends):
    """The session is scoped to its app host: another app's host does not accept it."""
    await published(cluster, backends, "web")
    await published(cluster, backends, "other")
    secret, _ = await sign_in(cluster.kg, app_host(cluster, "web"))
    assert (await app_get(cluster.kg, app_host(cluster, "web"), secret)).status == 200
    response = await app_get(cluster.kg, app_host(cluster, "other"), secret)
    assert response.status == 401


async def test_an_app_session_does_not_work_on_the_main_origin(
    cluster: Cluster, backends: Backends
):
    """An app session's secret, even sent as the main session cookie, is not a main session."""
    await published(cluster, backends)
    secret, _ = await sign_in(cluster.kg, app_host(cluster))
    path = f"/api/v1/namespaces/{cluster.namespace}/services/web:http/proxy/"
    for name in ("__Host-kubegate_session", "__Host-kubegate_app_session"):
        response = await fetch(cluster.kg, "localhost", path, [("Cookie", f"{name}={secret}")])
        assert response.status == 401, (name, response)


async def test_app_requests_are_authorized_every_time(cluster: Cluster, backends: Backends):
    """Revoking the RoleBinding ends access through an existing app session."""
    await published(cluster, backends)
    host = app_host(cluster)
    secret, _ = await sign_in(cluster.kg, host)
    assert (await app_get(cluster.kg, host, secret)).status == 200
    path = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{cluster.namespace}/rolebindings/proxy"
    assert (await cluster.kg.api("DELETE", path)).status == 200
    response = await eventually(
        lambda: app_get(cluster.kg, host, secret), lambda r: r.status == 403
    )
    assert response.status == 403
    assert 'cannot get resource "services/proxy"' in response.message


async def test_cross_origin_writes_with_the_app_cookie_are_refused(
    cluster: Cluster, backends: Backends
):
    """A sibling app (same site, other origin) cannot POST with this app's cookie; the app itself can."""
    await published(cluster, backends)
    host = app_host(cluster)
    secret, _ = await sign_in(cluster.kg, host)
    sibling = [
        ("Origin", f"https://{app_host(cluster, 'evil')}:{cluster.kg.port}"),
        ("Sec-Fetch-Site", "same-site"),
    ]
    refused = await fetch(
        cluster.kg,
        host,
        "/save",
        [("Cookie", f"__Host-kubegate_app_session={secret}"), *sibling],
        method="POST",
        body=b"x",
    )
    assert refused.status == 403
    own = [("Origin", f"https://{host}:{cluster.kg.port}"), ("Sec-Fetch-Site", "same-origin")]
    allowed = await fetch(
        cluster.kg,
        host,
        "/save",
        [("Cookie", f"__Host-kubegate_app_session={secret}"), *own],
        method="POST",
        body=b"x",
    )
    assert allowed.status == 200 and allowed.json()["method"] == "POST"


async def test_then_cannot_leave_the_app_origin(cluster: Cluster, backends: Backends):
    """A ``then`` that is not a local path lands on ``/`` (no open redirect)."""
    await published(cluster, backends)
    host = app_host(cluster)
    first = await fetch(cluster.kg, host, "/", [HTML])
    state = cookie(first, "__Host-kubegate_app_state")
    auth = f"/-/apps-auth?host={host}:{cluster.kg.port}&then=//evil.example/x&state={state}"
    second = await fetch(cluster.kg, "localhost", auth, [HTML, BOB])
    callback = urlsplit(continue_url(second))
    third = await fetch(
        cluster.kg,
        host,
        f"{callback.path}?{callback.query}",
        [HTML, ("Cookie", f"__Host-kubegate_app_state={state}")],
    )
    assert third.header("location") == "/"


async def test_apps_auth_refuses_hosts_outside_the_apps_domain(kg):
    """``/-/apps-auth`` never sends a code to a host that is not an app of this server."""
    for host in (
        "evil.example",
        f"http--web--ns.{DOMAIN}.evil.example",
        f"http--web--ns.{DOMAIN}:1",
    ):
        target = f"/-/apps-auth?host={host}&then=/&state=abcdefghijklmnopqrstuvwxyz"
        response = await fetch(kg, "localhost", target, [HTML, kg.bearer])
        assert response.status == 400, (host, response)
        assert "apps-callback" not in response.body.decode()


async def test_index_links_each_port_to_its_app_origin(cluster: Cluster, backends: Backends):
    """With --apps-domain the index also links each service port to its own origin."""
    await published(cluster, backends)
    service = f"{cluster.namespace}/web"
    response = await eventually(
        lambda: fetch(
            cluster.kg, "localhost", f"/?q={cluster.namespace}", [HTML, cluster.kg.bearer]
        ),
        lambda r: service in read_page(r.body).services,
    )
    assert f"https://{app_host(cluster)}:{cluster.kg.port}/" in read_page(response.body).hrefs(
        "app"
    )


async def test_bearer_tokens_work_on_an_app_host(cluster: Cluster, backends: Backends):
    """Tools can reach an app origin with their usual credential, authorized the same way."""
    await published(cluster, backends)
    response = await fetch(cluster.kg, app_host(cluster), "/tool", [BOB])
    assert response.status == 200 and response.json()["target"] == "/tool"
    sent = {k.lower() for k, _ in response.json()["headers"]}
    assert "authorization" not in sent


def test_state_pattern_is_what_the_redirect_sends():
    """The state the app origin mints passes the main origin's check (same alphabet)."""
    import secrets

    from kubegate.server.ui.apps import _STATE_RE

    assert all(re.fullmatch(_STATE_RE, secrets.token_urlsafe(24)) for _ in range(200))


WS_HEADERS = [
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
]


async def test_websocket_upgrades_need_the_apps_own_origin(cluster: Cluster, backends: Backends):
    """An app's WebSocket opens from its own origin; from a sibling app's origin it is refused."""
    backend = await backends.websocket()
    await cluster.serve("ws", Port(backend))
    await grant_once(cluster)
    host = app_host(cluster, "ws")
    secret, _ = await sign_in(cluster.kg, host)
    session = ("Cookie", f"__Host-kubegate_app_session={secret}")
    own = await fetch(
        cluster.kg,
        host,
        "/socket",
        [session, ("Origin", f"https://{host}:{cluster.kg.port}"), *WS_HEADERS],
    )
    assert own.status == 101, own
    assert backend.paths == ["/socket"]
    sibling = ("Origin", f"https://{app_host(cluster, 'evil')}:{cluster.kg.port}")
    refused = await fetch(cluster.kg, host, "/socket", [session, sibling, *WS_HEADERS])
    assert refused.status == 403
    assert backend.paths == ["/socket"]


async def test_backend_cookies_are_the_apps_own_but_never_kubegates(
    cluster: Cluster, backends: Backends
):
    """On its own origin a backend's cookies pass unscoped (no prefix), and it cannot set the app session cookie."""

    async def sets_cookies(exchange) -> None:
        headers = [
            ("Content-Type", "text/html"),
            ("Set-Cookie", "theme=dark; Path=/app"),
            ("Set-Cookie", "__Host-kubegate_app_session=planted; Path=/; Secure"),
        ]
        await exchange.respond(200, headers, b"<a href='/app/x'>x</a>")

    await cluster.serve("web", Port(await backends.http(sets_cookies)))
    await grant_once(cluster)
    host = app_host(cluster)
    secret, _ = await sign_in(cluster.kg, host)
    response = await app_get(cluster.kg, host, secret, "/app/", [HTML])
    assert response.status == 200
    assert response.values("set-cookie") == ["theme=dark; Path=/app"]
    assert response.body == b"<a href='/app/x'>x</a>"  # nothing rewritten, nothing injected
    assert response.header("x-kubegate-rewrite") is None
