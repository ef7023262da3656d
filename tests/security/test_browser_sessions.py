"""Browser sign-in attacks against a real ``kubegate serve`` (with ``--apps-domain``): cookie
tossing onto the session cookie, a proxied page using an admin's session on the kubelet API
through ``nodes/proxy``, and the ``/-/apps-auth`` hand-off as an open redirect (security.md
§1.11, §2.7, §2.10)."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator, Sequence

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from integration.login_kit import COOKIE, Browser, set_cookies
from integration.proxy.harness import (
    LOOPBACK,
    Backend,
    Cluster,
    Connection,
    Kubegate,
    Port,
    Response,
    backends_fixture,
    cluster_fixture,
    request_bytes,
    running_kubegate,
)
from kubegate.core.browser_access import ambient_may_reach
from kubegate.core.requestinfo import parse_request_info

DOMAIN = "apps.localhost"

backends = backends_fixture()
cluster = cluster_fixture("kg")


@pytest.fixture(scope="module")
def kg() -> Iterator[Kubegate]:
    with running_kubegate("--proxy-allow-cidrs", "127.0.0.0/8", "--apps-domain", DOMAIN) as kg:
        yield kg


async def admin_browser(kg: Kubegate) -> Browser:
    """A browser signed in with the admin token (allowed everything by RBAC)."""
    browser = Browser(kg)
    response = await browser.login_with_token(kg.token)
    assert response.status == 303 and browser.session, response
    return browser


# -- the session cookie (cookie tossing) -----------------------------------------------------


async def test_session_cookie_has_the_host_prefix(kg: Kubegate) -> None:
    """The session cookie is ``__Host-kubegate_session`` (Secure, Path=/, no Domain), so no
    sibling host (an app origin under --apps-domain) can plant one with ``Domain=``."""
    browser = Browser(kg)
    response = await browser.login_with_token(kg.token)
    cookies = set_cookies(response)
    assert "__Host-kubegate_session" in cookies, cookies
    attributes = {part.strip().lower() for part in cookies["__Host-kubegate_session"].split(";")}
    assert {"path=/", "secure", "httponly"} <= attributes
    assert not [a for a in attributes if a.startswith("domain")]


async def test_an_unprefixed_session_cookie_is_not_a_credential(kg: Kubegate) -> None:
    """A live session's secret under the unprefixed name (what a sibling host can toss) does not
    sign the browser in: the index page sends it to the login page."""
    browser = await admin_browser(kg)
    assert (await browser.page("/")).status == 200
    tossed = Browser(kg, extra_cookies=[f"kubegate_session={browser.session}"])
    response = await tossed.page("/")
    assert response.status == 302, response
    assert (response.header("location") or "").startswith("/login")


# -- nodes/proxy is the kubelet API: ambient credentials may only read it ----------------------


@pytest.mark.parametrize(
    ("method", "path", "upgrade", "allowed"),
    [
        ("GET", "/api/v1/nodes/n1/proxy/metrics", False, True),
        ("HEAD", "/api/v1/nodes/n1/proxy/", False, True),
        ("GET", "/api/v1/nodes/n1:10255/proxy/pods", False, True),
        ("POST", "/api/v1/nodes/n1/proxy/run/ns/pod/c", False, False),
        ("PUT", "/api/v1/nodes/n1/proxy/x", False, False),
        ("DELETE", "/api/v1/nodes/n1/proxy/x", False, False),
        ("OPTIONS", "/api/v1/nodes/n1/proxy/x", False, False),
        ("GET", "/api/v1/nodes/n1/proxy/exec/ns/pod/c?command=sh", True, False),
        ("POST", "/api/v1/namespaces/a/services/web/proxy/form", False, True),
        ("GET", "/api/v1/namespaces/a/pods/p/proxy/socket", True, True),
    ],
)
def test_ambient_rule_for_the_kubelet(method: str, path: str, upgrade: bool, allowed: bool) -> None:
    """Ambient credentials may only read nodes/proxy; services and pods keep every method."""
    path, _, query = path.partition("?")
    info = parse_request_info(method, path, query)
    assert ambient_may_reach(info, upgrade=upgrade) is allowed


@pytest.fixture
async def kubelet(cluster: Cluster, backends) -> tuple[str, Backend]:
    """A Node whose proxy reaches a recording backend (``<node>:<port>`` is plain http)."""
    backend = await backends.http()
    name = f"node-{cluster.namespace}"
    await cluster.node(name, LOOPBACK, 10250)
    node_id = f"{name}:{backend.port}"
    await cluster.wait_ready("nodes", node_id)
    backend.reset()
    return node_id, backend


async def test_session_cannot_run_commands_through_the_kubelet(
    kg: Kubegate, kubelet: tuple[str, Backend]
) -> None:
    """A same-origin script using an admin's session cannot POST to the kubelet's ``/run``
    (command execution in any pod) through ``nodes/proxy``: 403, nothing reaches the node."""
    node_id, backend = kubelet
    browser = await admin_browser(kg)
    response = await browser.request(
        "POST",
        f"/api/v1/nodes/{node_id}/proxy/run/kube-system/etcd/etcd",
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
        body=b"cmd=cat+/etc/kubernetes/pki/ca.key",
    )
    assert response.status == 403, response
    assert response.message.startswith("browser sessions cannot use the API")
    assert backend.requests == []


async def test_session_may_still_read_kubelet_pages(
    kg: Kubegate, kubelet: tuple[str, Backend]
) -> None:
    """A GET through ``nodes/proxy`` (the index's node links) still works with the session."""
    node_id, backend = kubelet
    browser = await admin_browser(kg)
    response = await browser.page(f"/api/v1/nodes/{node_id}/proxy/metrics")
    assert response.status == 200, response
    assert backend.targets() == ["/metrics"]


async def test_session_cannot_open_a_kubelet_websocket(
    kg: Kubegate, cluster: Cluster, backends
) -> None:
    """A same-origin WebSocket to ``nodes/proxy`` (kubelet exec/attach) with the session is a
    403 and the node sees no handshake."""
    backend = await backends.websocket()
    name = f"wsnode-{cluster.namespace}"
    await cluster.node(name, LOOPBACK, 10250)
    node_id = f"{name}:{backend.port}"
    await cluster.wait_ready("nodes", node_id)
    browser = await admin_browser(kg)
    url = f"wss://{kg.netloc}/api/v1/nodes/{node_id}/proxy/exec/kube-system/etcd/etcd?command=sh"
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(
            url,
            ssl=kg.ssl_context(),
            additional_headers=browser.cookie_header(),
            origin=browser.origin,  # type: ignore[arg-type]
            open_timeout=10,
        ):
            pass
    assert refused.value.response.status_code == 403
    assert backend.paths == []


# -- client certificates a browser presents are ambient too -----------------------------------

BROWSER_FETCH = [("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "cors")]
CROSS_SITE = [("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")]


async def test_client_certificate_sent_by_a_browser_is_ambient(kg: Kubegate) -> None:
    """A browser presents an installed client certificate by itself: with Sec-Fetch-* headers
    the certificate cannot read the API (a proxied page's script), without them (kubectl) it
    can."""
    by_browser = await kg.request("GET", "/api/v1/namespaces", headers=BROWSER_FETCH, auth="cert")
    assert by_browser.status == 403, by_browser
    assert by_browser.message.startswith("browser sessions cannot use the API")
    by_tool = await kg.request("GET", "/api/v1/namespaces", auth="cert")
    assert by_tool.status == 200, by_tool


async def test_cross_site_post_with_a_client_certificate_is_refused(
    kg: Kubegate, cluster: Cluster, backends
) -> None:
    """Another site making the browser POST through the proxy with its client certificate gets
    403 and the backend sees nothing (CSRF)."""
    backend = await backends.http()
    await cluster.serve("web", Port(backend))
    backend.reset()
    target = cluster.path("services", "web:http", "/form")
    response = await kg.request("POST", target, headers=CROSS_SITE, body=b"x=1", auth="cert")
    assert response.status == 403, response
    assert backend.requests == []


async def test_cross_site_post_to_an_app_origin_with_a_client_certificate_is_refused(
    kg: Kubegate, cluster: Cluster, backends
) -> None:
    """On an app origin (--apps-domain) too, a cross-site POST the browser makes with its
    client certificate gets 403 and the app sees nothing."""
    backend = await backends.http()
    await cluster.serve("web", Port(backend))
    backend.reset()
    host = f"http--web--{cluster.namespace}.{DOMAIN}"
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection(
            LOOPBACK, kg.port, ssl=kg.ssl_context(client_cert=True), server_hostname=host
        )
        conn = Connection(reader, writer)
        try:
            raw = request_bytes("POST", "/form", f"{host}:{kg.port}", CROSS_SITE, b"x=1")
            await conn.send(raw)
            response = await conn.read_response("POST")
        finally:
            await conn.close()
    assert response.status == 403, response
    assert backend.requests == []


# -- /-/apps-auth never sends a code (or the browser) off this server ---------------------------


async def fetch_main(
    kg: Kubegate, target: str, host: str, headers: Sequence[tuple[str, str]]
) -> Response:
    """One request to the main origin with an explicit Host header (``localhost`` without a
    port: what a browser sends to kubegate on :443)."""
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection(
            LOOPBACK, kg.port, ssl=kg.ssl_context(), server_hostname="localhost", limit=1 << 20
        )
        conn = Connection(reader, writer)
        try:
            await conn.send(request_bytes("GET", target, host, headers, None))
            return await conn.read_response("GET")
        finally:
            await conn.close()


@pytest.mark.parametrize("suffix", [":@evil.example", ":x@evil.example", ":443@evil.example"])
async def test_apps_auth_never_redirects_off_the_app_host(
    kg: Kubegate, cluster: Cluster, suffix: str
) -> None:
    """An app address with anything but digits after ``:`` (``…apps.localhost:@evil.example``)
    is refused: the hand-off page never points the browser (and a sign-in code) elsewhere."""
    browser = await admin_browser(kg)
    app = f"http--web--{cluster.namespace}.{DOMAIN}{suffix}"
    query = f"host={app}&state={'s' * 24}&then=/"
    page = await fetch_main(
        kg,
        f"/-/apps-auth?{query}",
        "localhost",
        [("Accept", "text/html"), ("Cookie", f"{COOKIE}={browser.session}")],
    )
    refresh = re.search(rb'http-equiv="refresh" content="0;url=([^"]+)"', page.body)
    assert refresh is None, html.unescape(refresh.group(1).decode())
    assert page.status == 400, page
