"""kubegate's own cookies (the session, the OIDC flow, the app-origin session and state) on
the main origin's proxy: a backend never receives them, whatever else the browser sends,
and cannot set or clear them (server/proxywiring.py KUBEGATE_COOKIES)."""

from __future__ import annotations

from integration.login_kit import Browser
from integration.proxy.harness import Backends, Cluster, Exchange, Port

KUBEGATE_COOKIES = (
    "__Host-kubegate_session",
    "__Host-kubegate_oidc",
    "__Host-kubegate_app_session",
    "__Host-kubegate_app_state",
)


async def signed_in(cluster: Cluster) -> Browser:
    """A browser with a real session (signed in with the admin token through the form)."""
    browser = Browser(cluster.kg)
    response = await browser.login_with_token(cluster.kg.token)
    assert response.status == 303 and browser.session, response
    return browser


async def test_a_backend_never_receives_kubegates_cookies(
    cluster: Cluster, backends: Backends
) -> None:
    """Only the backend's own cookies reach it: the session that authenticated the request
    and the other kubegate cookies are cut out of every Cookie header."""
    backend = await backends.http()
    await cluster.serve("svc", Port(backend))
    browser = await signed_in(cluster)
    browser.extra_cookies = ["theme=dark", *(f"{name}=x" for name in KUBEGATE_COOKIES[1:])]
    extra = [("Cookie", "__Host-kubegate_oidc=again; lang=en")]
    response = await browser.request(
        "GET", cluster.path("services", "svc", "/h"), headers=extra, origin=None
    )
    assert response.status == 200, response
    (received,) = backend.requests
    assert received.values("cookie") == ["theme=dark", "lang=en"]


async def test_a_backend_cannot_set_kubegates_cookies(cluster: Cluster, backends: Backends) -> None:
    """A Set-Cookie for any kubegate cookie is dropped; the backend's own is relayed (scoped)."""

    async def plants_cookies(exchange: Exchange) -> None:
        planted = [("Set-Cookie", f"{name}=planted; Path=/; Secure") for name in KUBEGATE_COOKIES]
        await exchange.respond(200, [*planted, ("Set-Cookie", "theme=dark; Path=/")], b"ok")

    await cluster.serve("svc", Port(await backends.http(plants_cookies)))
    response = await cluster.get("services", "svc", "/")
    assert response.status == 200, response
    prefix = cluster.path("services", "svc", "")
    assert response.values("set-cookie") == [f"theme=dark; Path={prefix}/"]
