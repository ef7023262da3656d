"""The OIDC authorization-code sign-in (PKCE S256, state, nonce) end to end: a real
``kubegate serve`` and the loopback provider of oidc_provider.py, with this test playing the
browser that follows the redirects between them."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from integration.login_kit import COOKIE, Browser, cookie_value, set_cookies
from integration.oidc_provider import CLIENT_ID, RunningProvider
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

FLOW_COOKIE = "__Host-kubegate_oidc"

backends = backends_fixture()


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    provider = RunningProvider(tmp_path_factory.mktemp("idp"))
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def kg(idp: RunningProvider) -> Iterator[Kubegate]:
    with running_kubegate(
        "--proxy-allow-cidrs=127.0.0.0/8",
        f"--oidc-issuer-url={idp.issuer}",
        f"--oidc-client-id={CLIENT_ID}",
        f"--oidc-ca-file={idp.ca_file}",
        f"--oidc-client-secret-file={idp.secret_file}",
        "--oidc-groups-claim=groups",
        "--oidc-groups-prefix=oidc:",
    ) as kg:
        idp.provider.redirect_uris.add(f"https://{kg.netloc}/oauth2/callback")
        yield kg


@pytest.fixture(autouse=True)
def well_behaved(idp: RunningProvider) -> None:
    idp.provider.wrong_nonce = False


@pytest.fixture
async def cluster(kg: Kubegate, idp: RunningProvider) -> Cluster:
    """A namespace where the OIDC user (by its prefixed name) may use the proxy."""
    cluster = await new_cluster(kg, "oidc")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "oidc-user-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": f"{idp.issuer}#u-42"}
        ],
    }
    await cluster.create(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{cluster.namespace}/rolebindings", role
    )
    return cluster


@pytest.fixture
async def echo(cluster: Cluster, backends) -> Backend:
    backend = await backends.http()
    await cluster.serve("web", Port(backend))
    backend.reset()
    return backend


def follow_at_provider(idp: RunningProvider, url: str) -> tuple[int, str]:
    """The browser's visit to the provider: (status, Location)."""
    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(
        parts.hostname, parts.port, context=idp.client_context, timeout=10
    )
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


async def start(browser: Browser, then: str = "/") -> tuple[str, str]:
    """GET /login?oidc=1: returns (the provider URL, the flow cookie's value)."""
    response = await browser.page(f"/login?oidc=1&then={quote(then, safe='')}")
    assert response.status == 302, response
    flow = set_cookies(response)[FLOW_COOKIE]
    return response.header("location") or "", cookie_value(flow)


def attributes(set_cookie: str) -> set[str]:
    """The attributes of a Set-Cookie value, as written (``Path=/``, ``Secure``, ...)."""
    return {part.strip() for part in set_cookie.split(";")[1:]}


def assert_cleared(response: Response) -> None:
    """The response removes the flow cookie (same name and Path as it was set with)."""
    cleared = set_cookies(response)[FLOW_COOKIE]
    assert cleared.startswith(f"{FLOW_COOKIE}=;")
    assert {"Path=/", "Max-Age=0", "Secure"} <= attributes(cleared)


async def callback(browser: Browser, url: str, flow: str | None) -> Response:
    parts = urlsplit(url)
    browser.extra_cookies = [f"{FLOW_COOKIE}={flow}"] if flow else []
    try:
        return await browser.page(f"{parts.path}?{parts.query}")
    finally:
        browser.extra_cookies = []


async def sign_in(kg: Kubegate, idp: RunningProvider, then: str = "/") -> tuple[Browser, Response]:
    browser = Browser(kg)
    authorize, flow = await start(browser, then)
    status, back = await asyncio.to_thread(follow_at_provider, idp, authorize)
    assert status == 302, back
    return browser, await callback(browser, back, flow)


async def test_login_page_offers_the_issuer(kg: Kubegate) -> None:
    """With OIDC configured, the sign-in page links to the OIDC flow."""
    page = await Browser(kg).page("/login?then=/x")
    assert b'href="/login?oidc=1&amp;then=%2Fx"' in page.body


async def test_code_flow_signs_in_and_the_session_reaches_the_proxy(
    kg: Kubegate, idp: RunningProvider, cluster: Cluster, echo: Backend
) -> None:
    """Start, provider, callback: a session for the ID token's user, back at ``then``."""
    target = cluster.path("services", "web:http", "/dash")
    browser, response = await sign_in(kg, idp, then=target)
    assert response.status == 303, response
    assert response.header("location") == target
    assert_cleared(response)
    assert browser.session
    assert (await browser.page(target)).status == 200  # RBAC bound to the OIDC user's name
    assert echo.targets() == ["/dash"]


async def test_flow_uses_pkce_s256_state_nonce_and_the_client_secret(
    kg: Kubegate, idp: RunningProvider
) -> None:
    """The authorization request carries S256 PKCE, state and nonce; the code is redeemed
    with the verifier, the registered redirect URI and the client secret (or it would fail)."""
    _, response = await sign_in(kg, idp)
    assert response.status == 303
    asked = idp.provider.authorize_requests[-1]
    assert asked["code_challenge_method"] == "S256"
    assert asked["scope"].split() == ["openid", "profile", "email"]
    assert len(asked["state"]) >= 43 and len(asked["nonce"]) >= 43
    redeemed = idp.provider.token_requests[-1]
    assert redeemed["redirect_uri"] == f"https://{kg.netloc}/oauth2/callback"
    assert len(redeemed["code_verifier"]) >= 43 and "client_secret" not in redeemed


async def test_flow_cookie_is_host_prefixed_and_lives_ten_minutes(kg: Kubegate) -> None:
    """``__Host-kubegate_oidc``: Secure, Path=/, no Domain (no sibling host can plant a flow),
    HttpOnly, SameSite=Lax and the flow's 600-second lifetime."""
    response = await Browser(kg).page("/login?oidc=1")
    assert response.status == 302, response
    flow = set_cookies(response)[FLOW_COOKIE]
    assert attributes(flow) == {"Path=/", "Max-Age=600", "HttpOnly", "Secure", "SameSite=Lax"}


async def test_an_unprefixed_flow_cookie_is_not_a_flow(kg: Kubegate, idp: RunningProvider) -> None:
    """A flow under the old name (which a sibling host could plant with ``Domain=``) signs
    nobody in, even with a valid code and state: no login CSRF by cookie tossing."""
    browser = Browser(kg)
    authorize, flow = await start(browser)
    _, back = await asyncio.to_thread(follow_at_provider, idp, authorize)
    parts = urlsplit(back)
    browser.extra_cookies = [f"kubegate_oidc={flow}"]
    response = await browser.page(f"{parts.path}?{parts.query}")
    assert response.status == 401, response
    assert browser.session is None


async def test_a_failed_callback_clears_the_flow_cookie(kg: Kubegate) -> None:
    """Whatever the outcome, the callback removes the flow cookie from the browser."""
    browser = Browser(kg)
    _, flow = await start(browser)
    response = await callback(browser, "/oauth2/callback?error=access_denied&state=x", flow)
    assert response.status == 401
    assert_cleared(response)


async def test_callback_with_another_state_is_refused(kg: Kubegate, idp: RunningProvider) -> None:
    """A callback whose state is not this browser's flow signs nobody in."""
    browser = Browser(kg)
    authorize, flow = await start(browser)
    _, back = await asyncio.to_thread(follow_at_provider, idp, authorize)
    query = parse_qs(urlsplit(back).query)
    forged = f"/oauth2/callback?code={query['code'][0]}&state=someone-elses-state"
    response = await callback(browser, forged, flow)
    assert response.status == 401
    assert COOKIE not in set_cookies(response)


async def test_callback_without_the_flow_cookie_is_refused(
    kg: Kubegate, idp: RunningProvider
) -> None:
    """A callback in a browser that did not start the flow (login CSRF) is refused."""
    starter = Browser(kg)
    authorize, _ = await start(starter)
    _, back = await asyncio.to_thread(follow_at_provider, idp, authorize)
    victim = Browser(kg)
    response = await callback(victim, back, None)
    assert response.status == 401 and victim.session is None


async def test_id_token_with_the_wrong_nonce_is_refused(kg: Kubegate, idp: RunningProvider) -> None:
    """An ID token that does not carry this login's nonce is not accepted."""
    idp.provider.wrong_nonce = True
    browser, response = await sign_in(kg, idp)
    assert response.status == 401
    assert browser.session is None


async def test_a_code_cannot_be_replayed(kg: Kubegate, idp: RunningProvider) -> None:
    """Replaying a used callback URL (same flow cookie) fails: the provider refuses the code."""
    browser = Browser(kg)
    authorize, flow = await start(browser)
    _, back = await asyncio.to_thread(follow_at_provider, idp, authorize)
    assert (await callback(browser, back, flow)).status == 303
    replay = Browser(kg)
    assert (await callback(replay, back, flow)).status == 401
    assert replay.session is None


async def test_provider_error_is_shown_as_a_failed_sign_in(kg: Kubegate) -> None:
    """``error=access_denied`` from the provider ends in a 401 page, no session."""
    browser = Browser(kg)
    _, flow = await start(browser)
    response = await callback(browser, "/oauth2/callback?error=access_denied&state=x", flow)
    assert response.status == 401
    assert b"access_denied" in response.body and browser.session is None
