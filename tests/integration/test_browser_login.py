"""Browser sign-in against a real ``kubegate serve`` over TLS: the login form, the session
cookie through the proxy, logout and rotation, CSRF and cross-site WebSocket refusals, and the
isolation of ambient browser credentials from the API (security.md §2.10, A30, A31)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from integration.login_kit import (
    ALICE_TOKEN,
    COOKIE,
    EVIL,
    PASSWORD,
    Browser,
    cookie_value,
    grant_edit,
    publish_echo,
    set_cookies,
    web,
    write_user_files,
)
from integration.proxy.harness import (
    Backend,
    Cluster,
    Kubegate,
    Port,
    Response,
    backends_fixture,
    new_cluster,
    running_kubegate,
)

backends = backends_fixture()


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("login-audit") / "audit.log"


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory, audit_path: Path) -> Iterator[Kubegate]:
    """kubegate with basic-auth users, alice's token, an audit log, and loopback backends."""
    passwords, tokens = write_user_files(tmp_path_factory.mktemp("login-users"))
    with running_kubegate(
        "--proxy-allow-cidrs=127.0.0.0/8",
        f"--basic-auth-file={passwords}",
        f"--token-auth-file={tokens}",
        f"--audit-log-path={audit_path}",
    ) as kg:
        yield kg


@pytest.fixture
async def cluster(kg: Kubegate) -> Cluster:
    """A fresh namespace where alice may edit (secrets, services/proxy)."""
    cluster = await new_cluster(kg, "login")
    await grant_edit(cluster, "alice")
    return cluster


@pytest.fixture
async def echo(cluster: Cluster, backends) -> Backend:
    return await publish_echo(cluster, backends)


# -- signing in ----------------------------------------------------------------------------


async def test_password_login_sets_a_hardened_session_cookie(kg: Kubegate) -> None:
    """A good password answers 303 to ``then`` with an HttpOnly, Secure, SameSite=Lax,
    host-only cookie for the whole origin."""
    response = await Browser(kg).login(then="/api/v1/namespaces/x/services/y/proxy/?a=1")
    assert response.status == 303
    assert response.header("location") == "/api/v1/namespaces/x/services/y/proxy/?a=1"
    cookie = set_cookies(response)[COOKIE]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert attributes == {"path=/", "httponly", "secure", "samesite=lax"}
    assert len(cookie_value(cookie)) >= 43


async def test_session_cookie_reaches_the_proxied_service(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """With the cookie, a proxied page loads; the backend sees neither kubegate's cookie nor
    an Authorization header, but the page's own cookies still arrive."""
    browser = Browser(kg, extra_cookies=["app=1"])
    await browser.login()
    response = await browser.page(web(cluster, "/index.html"))
    assert response.status == 200, response
    [received] = echo.requests
    assert received.target == "/index.html"
    assert received.values("cookie") == ["app=1"]
    assert "authorization" not in received.names


async def test_wrong_password_shows_the_form_again_without_a_cookie(kg: Kubegate) -> None:
    """A wrong password is a 401 HTML form with a generic message and no session cookie."""
    response = await Browser(kg).login(password="wrong")
    assert response.status == 401
    assert (response.header("content-type") or "").startswith("text/html")
    assert b"credentials were not accepted" in response.body
    assert COOKIE not in set_cookies(response)


async def test_unknown_user_and_wrong_password_look_alike(kg: Kubegate) -> None:
    """An unknown user and a wrong password get the same status and page (no enumeration)."""
    wrong = await Browser(kg).login("alice", "wrong")
    unknown = await Browser(kg).login("nobody-at-all", "wrong")
    assert wrong.status == unknown.status == 401

    def page(response: Response, name: str) -> bytes:
        return re.sub(rb'nonce="[^"]*"', b"", response.body).replace(name.encode(), b"USER")

    assert page(wrong, "alice") == page(unknown, "nobody-at-all")


async def test_failed_logins_are_throttled(kg: Kubegate) -> None:
    """After repeated wrong passwords from one address the form answers 429 with Retry-After."""
    statuses = [(await Browser(kg).login("victim", "wrong")).status for _ in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429
    last = await Browser(kg).login("victim", "wrong")
    assert last.status == 429 and int(last.header("retry-after") or 0) >= 1


async def test_login_page_offers_the_password_and_token_forms(kg: Kubegate) -> None:
    """GET /login shows both forms, carrying an escaped ``then``."""
    response = await Browser(kg).page('/login?then=/a"><script>')
    assert response.status == 200
    assert b'id="password-login"' in response.body and b'id="token-login"' in response.body
    assert b"<script>" not in response.body.split(b"</style>")[-1]


async def test_login_never_redirects_off_site(kg: Kubegate) -> None:
    """A hostile ``then`` is replaced by ``/``."""
    for then in ("//evil.example/", "/\\evil.example", "https://evil.example", "/%2F%2Fevil"):
        response = await Browser(kg).login(then=then)
        assert response.status == 303
        assert response.header("location") == "/", then


async def test_cross_origin_login_is_refused(kg: Kubegate) -> None:
    """A sign-in form posted from another site is a 403 (no login CSRF) and sets no cookie."""
    response = await Browser(kg).login(origin=EVIL)
    assert response.status == 403
    assert response.json()["kind"] == "Status"
    assert COOKIE not in set_cookies(response)


async def test_token_login_creates_a_session(kg: Kubegate, cluster: Cluster, echo: Backend) -> None:
    """A pasted bearer token signs in as its user (here alice from the token file)."""
    browser = Browser(kg)
    response = await browser.login_with_token(ALICE_TOKEN, then=web(cluster))
    assert response.status == 303 and browser.session
    assert (await browser.page(web(cluster))).status == 200


async def test_bad_token_login_fails(kg: Kubegate) -> None:
    """An unknown pasted token gets the form again with 401 and no cookie."""
    response = await Browser(kg).login_with_token("not-a-token")
    assert response.status == 401 and COOKIE not in set_cookies(response)


# -- unauthenticated browsers and API clients ----------------------------------------------


async def test_unauthenticated_page_load_goes_to_login_and_back(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """A browser without a session is sent to /login?then=<where it was going>, and after
    signing in lands there."""
    browser = Browser(kg)
    target = web(cluster, "/app?x=1")
    first = await browser.page(target)
    assert first.status == 302
    location = first.header("location") or ""
    assert location.startswith("/login?then=")
    form = await browser.page(location)
    assert form.status == 200 and b'name="then"' in form.body
    signed_in = await browser.login(then=target)
    assert signed_in.header("location") == target
    assert (await browser.page(target)).status == 200
    assert echo.targets() == ["/app?x=1"]


async def test_api_clients_still_get_401_status_with_the_basic_challenge(kg: Kubegate) -> None:
    """Without Accept: text/html the answer stays kube's 401 Status JSON and the challenge."""
    response = await kg.request("GET", "/api/v1/namespaces", auth=None)
    assert response.status == 401
    assert response.json()["reason"] == "Unauthorized"
    assert (response.header("www-authenticate") or "").startswith('Basic realm="kubegate"')


async def test_curl_style_basic_auth_keeps_the_api(kg: Kubegate, cluster: Cluster) -> None:
    """Basic credentials sent by a tool (no browser headers) reach the API, writes included."""
    basic = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    created = await kg.request(
        "POST",
        f"/api/v1/namespaces/{cluster.namespace}/secrets",
        headers=[("Authorization", basic), ("Content-Type", "application/json")],
        body=json.dumps(secret).encode(),
        auth=None,
    )
    assert created.status == 201, created


# -- logout and rotation ---------------------------------------------------------------------


async def test_logout_revokes_the_session(kg: Kubegate, cluster: Cluster, echo: Backend) -> None:
    """After POST /logout the old cookie is dead: a page load goes to /login, the API says 401."""
    browser = Browser(kg)
    await browser.login()
    old = browser.session
    response = await browser.logout()
    assert response.status == 303 and response.header("location") == "/login"
    assert set_cookies(response)[COOKIE].startswith(f"{COOKIE}=;")
    stale = Browser(kg, session=old)
    assert (await stale.page(web(cluster))).status == 302
    assert (await stale.request("GET", web(cluster))).status == 401
    assert echo.requests == []


async def test_get_logout_only_asks(kg: Kubegate, cluster: Cluster, echo: Backend) -> None:
    """GET /logout shows a sign-out button and leaves the session alone."""
    browser = Browser(kg)
    await browser.login()
    response = await browser.page("/logout")
    assert response.status == 200 and b'action="/logout"' in response.body
    assert (await browser.page(web(cluster))).status == 200


async def test_cross_site_logout_is_refused(kg: Kubegate, cluster: Cluster, echo: Backend) -> None:
    """A logout form posted from another site does nothing (403)."""
    browser = Browser(kg)
    await browser.login()
    response = await browser.request("POST", "/logout", origin=EVIL, site="cross-site")
    assert response.status == 403
    assert (await browser.page(web(cluster))).status == 200


async def test_signing_in_again_rotates_the_session(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """A new sign-in revokes the browser's previous session and issues a new secret."""
    browser = Browser(kg)
    await browser.login()
    first = browser.session
    await browser.login()
    assert browser.session and browser.session != first
    assert (await Browser(kg, session=first).request("GET", web(cluster))).status == 401
    assert (await browser.request("GET", web(cluster))).status == 200


# -- CSRF and cross-site WebSockets (A30, A31) -------------------------------------------------


async def test_cross_origin_post_with_the_cookie_never_reaches_the_backend(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """A cookie-authenticated POST from another origin is a 403 and the backend sees nothing."""
    browser = Browser(kg)
    await browser.login()
    for origin, site in ((EVIL, "cross-site"), (EVIL, None), (None, "cross-site"), (None, None)):
        response = await browser.request(
            "POST", web(cluster, "/form"), body=b"x=1", origin=origin, site=site
        )
        assert response.status == 403, (origin, site, response)
    assert echo.requests == []


async def test_same_origin_post_with_the_cookie_reaches_the_backend(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """A form on kubegate's own origin may POST through the proxy."""
    browser = Browser(kg)
    await browser.login()
    response = await browser.request("POST", web(cluster, "/form"), body=b"x=1")
    assert response.status == 200, response
    assert [r.method for r in echo.requests] == ["POST"]


async def test_bearer_post_without_origin_is_allowed(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """Bearer-token requests are not subject to the Origin rule."""
    response = await kg.request("POST", web(cluster, "/form"), body=b"x=1")
    assert response.status == 200
    assert [r.method for r in echo.requests] == ["POST"]


@pytest.fixture
async def ws_service(cluster: Cluster, backends) -> str:
    backend = await backends.websocket()
    await cluster.serve("ws", Port(backend))
    return f"wss://{cluster.kg.netloc}{cluster.path('services', 'ws:http', '/socket')}"


async def test_cross_site_websocket_with_the_cookie_is_refused(
    kg: Kubegate, ws_service: str
) -> None:
    """A WebSocket handshake carrying the cookie from another origin gets 403 (CSWSH)."""
    browser = Browser(kg)
    await browser.login()
    for origin in (EVIL, None):
        headers = browser.cookie_header() + ([("Origin", origin)] if origin else [])
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(
                ws_service, ssl=kg.ssl_context(), additional_headers=headers, open_timeout=10
            ):
                pass
        assert refused.value.response.status_code == 403


async def test_same_origin_websocket_with_the_cookie_works(kg: Kubegate, ws_service: str) -> None:
    """From kubegate's own origin the cookie opens the WebSocket and messages flow."""
    browser = Browser(kg)
    await browser.login()
    async with ws_connect(
        ws_service,
        ssl=kg.ssl_context(),
        additional_headers=browser.cookie_header(),
        origin=browser.origin,  # type: ignore[arg-type]
        open_timeout=10,
    ) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 5) == "hello"


# -- ambient credentials and the API --------------------------------------------------------


async def test_session_cannot_read_secrets_but_the_same_users_token_can(
    kg: Kubegate, cluster: Cluster
) -> None:
    """The cookie gets 403 on the Secrets API; alice's bearer token gets 200 from RBAC."""
    secrets = f"/api/v1/namespaces/{cluster.namespace}/secrets"
    browser = Browser(kg)
    await browser.login()
    refused = await browser.request("GET", secrets)
    assert refused.status == 403
    assert refused.message.startswith("browser sessions cannot use the API")
    allowed = await kg.request(
        "GET", secrets, headers=[("Authorization", f"Bearer {ALICE_TOKEN}")], auth=None
    )
    assert allowed.status == 200, allowed


async def test_session_cannot_write_objects(kg: Kubegate, cluster: Cluster) -> None:
    """Even a same-origin POST with the cookie cannot create an object."""
    browser = Browser(kg)
    await browser.login()
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    response = await browser.request(
        "POST",
        f"/api/v1/namespaces/{cluster.namespace}/configmaps",
        headers=[("Content-Type", "application/json")],
        body=body.encode(),
    )
    assert response.status == 403


async def test_session_cannot_impersonate(kg: Kubegate, cluster: Cluster, echo: Backend) -> None:
    """A same-origin script adding Impersonate-User to a proxy request is refused."""
    browser = Browser(kg)
    await browser.login()
    response = await browser.request(
        "GET", web(cluster), headers=[("Impersonate-User", "kubegate-admin")]
    )
    assert response.status == 403
    assert response.message == "browser sessions cannot impersonate"
    assert echo.requests == []


async def test_basic_auth_sent_by_a_browser_is_ambient(kg: Kubegate, cluster: Cluster) -> None:
    """Basic credentials on a request with Sec-Fetch-* headers cannot read Secrets; the same
    credentials from a tool can."""
    basic = ("Authorization", "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode())
    secrets = f"/api/v1/namespaces/{cluster.namespace}/secrets"
    by_browser = await kg.request(
        "GET", secrets, headers=[basic, ("Sec-Fetch-Mode", "navigate")], auth=None
    )
    assert by_browser.status == 403
    by_tool = await kg.request("GET", secrets, headers=[basic], auth=None)
    assert by_tool.status == 200


async def test_basic_auth_cross_site_post_is_refused(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """A cross-site POST carrying basic credentials is a 403 before the backend."""
    basic = ("Authorization", "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode())
    response = await kg.request(
        "POST",
        web(cluster, "/form"),
        headers=[basic, ("Origin", EVIL), ("Sec-Fetch-Site", "cross-site")],
        body=b"x=1",
        auth=None,
    )
    assert response.status == 403
    assert echo.requests == []


# -- audit --------------------------------------------------------------------------------


async def test_logins_are_audited_without_credentials(kg: Kubegate, audit_path: Path) -> None:
    """Success and failure each leave a record with the login annotations; no password,
    token or session secret appears in the audit log."""
    browser = Browser(kg)
    ok = await browser.login()
    failed = await Browser(kg).login(password="wrong-" + PASSWORD)
    text = await asyncio.to_thread(audit_path.read_text)
    records = {}
    for line in text.splitlines():
        record = json.loads(line)
        records[record["auditID"]] = record
    success = records[ok.header("audit-id")]
    assert success["annotations"]["kubegate.io/login"] == "succeeded"
    assert success["user"]["username"] == "alice"
    failure = records[failed.header("audit-id")]
    assert failure["annotations"]["kubegate.io/login"] == "failed"
    assert failure["responseStatus"]["code"] == 401
    assert PASSWORD not in text and (browser.session or "?") not in text
