"""``--apps-domain``: an app origin's session lives within the main session that signed it
in — signing out (or in again) on the main origin, or the main session idling out, ends it —
and kubegate's cookies never cross the app origin's proxy either way. Real HTTPS to a real
``kubegate serve``; the main session comes from the sign-in form, as a browser's would.

The idle test waits for the idle timeout on purpose (any main-origin request would be
activity), as tests/integration/test_browser_session_expiry.py does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from integration.login_kit import COOKIE, Browser
from integration.proxy.harness import (
    Backends,
    Cluster,
    Kubegate,
    Port,
    cluster_fixture,
    running_kubegate,
)
from integration.ui.conftest import BOB_TOKEN
from integration.ui.test_apps import DOMAIN, app_get, app_host, grant_once, published, sign_in

IDLE = 2.0  # the short-lived server's --session-idle-timeout
STEP = 0.3  # between app requests that keep the app session itself active
KUBEGATE_COOKIES = (
    "__Host-kubegate_session",
    "__Host-kubegate_oidc",
    "__Host-kubegate_app_session",
    "__Host-kubegate_app_state",
)


def _flags(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    tokens = tmp_path_factory.mktemp("apps-sessions") / "tokens.csv"
    tokens.write_text(f"{BOB_TOKEN},bob,bob-uid\n")
    return [
        "--proxy-allow-cidrs=127.0.0.0/8",
        f"--token-auth-file={tokens}",
        f"--apps-domain={DOMAIN}",
    ]


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubegate]:
    with running_kubegate(*_flags(tmp_path_factory)) as running:
        yield running


@pytest.fixture(scope="module")
def kg_idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubegate]:
    flags = [*_flags(tmp_path_factory), f"--session-idle-timeout={int(IDLE)}s"]
    with running_kubegate(*flags) as running:
        yield running


cluster_idle = cluster_fixture("kg_idle")


async def signed_in(kg: Kubegate) -> Browser:
    """A browser signed in on the main origin through the form (with bob's token)."""
    browser = Browser(kg)
    response = await browser.login_with_token(BOB_TOKEN)
    assert response.status == 303 and browser.session, response
    return browser


async def app_session(browser: Browser, host: str) -> str:
    """The app-origin handshake, the main origin step carrying the browser's main session."""
    main_session = ("Cookie", f"{COOKIE}={browser.session}")
    secret, _ = await sign_in(browser.kg, host, credential=main_session)
    return secret


async def test_logout_on_the_main_origin_ends_the_app_session(
    cluster: Cluster, backends: Backends
) -> None:
    """After POST /logout on the main origin the app cookie is refused (401), not proxied."""
    await published(cluster, backends)
    host = app_host(cluster)
    browser = await signed_in(cluster.kg)
    secret = await app_session(browser, host)
    assert (await app_get(cluster.kg, host, secret)).status == 200
    assert (await browser.logout()).status == 303
    refused = await app_get(cluster.kg, host, secret)
    assert refused.status == 401, refused
    assert refused.json()["kind"] == "Status"


async def test_signing_in_again_ends_the_app_sessions_of_the_old_session(
    cluster: Cluster, backends: Backends
) -> None:
    """A new sign-in revokes the browser's previous main session, and its app sessions with it."""
    await published(cluster, backends)
    host = app_host(cluster)
    browser = await signed_in(cluster.kg)
    secret = await app_session(browser, host)
    assert (await browser.login_with_token(BOB_TOKEN)).status == 303
    assert (await app_get(cluster.kg, host, secret)).status == 401


async def test_an_idle_main_session_ends_an_active_app_session(
    cluster_idle: Cluster, backends: Backends
) -> None:
    """Using the app does not keep the main session alive: once it idles out, so does the app."""
    await published(cluster_idle, backends)
    host = app_host(cluster_idle)
    browser = await signed_in(cluster_idle.kg)
    secret = await app_session(browser, host)  # the main origin's last request
    main_idle_since = time.monotonic()
    answers = []
    while time.monotonic() - main_idle_since < IDLE + 1.0:
        answers.append((await app_get(cluster_idle.kg, host, secret)).status)
        await asyncio.sleep(STEP)
    assert answers[0] == 200  # the app session itself was live, and kept active ...
    assert answers[-1] == 401  # ... yet refused once the main session idled out
    assert (await browser.page("/")).status == 302  # the main session is gone too


async def test_the_app_backend_never_sees_kubegates_cookies(
    cluster: Cluster, backends: Backends
) -> None:
    """On an app origin every kubegate cookie is taken out of Cookie; the app's own stay."""
    await published(cluster, backends)
    host = app_host(cluster)
    browser = await signed_in(cluster.kg)
    secret = await app_session(browser, host)
    others = "; ".join(f"{name}=x" for name in KUBEGATE_COOKIES[:2] + KUBEGATE_COOKIES[3:])
    response = await app_get(cluster.kg, host, secret, "/", [("Cookie", f"theirs=1; {others}")])
    assert response.status == 200, response
    cookies = [v for k, v in response.json()["headers"] if k.lower() == "cookie"]
    assert cookies == ["theirs=1"]


async def test_an_app_backend_cannot_set_kubegates_cookies(
    cluster: Cluster, backends: Backends
) -> None:
    """A backend on its own origin cannot set any of kubegate's cookies; its own pass."""

    async def sets_cookies(exchange) -> None:
        planted = [("Set-Cookie", f"{name}=planted; Path=/; Secure") for name in KUBEGATE_COOKIES]
        await exchange.respond(200, [*planted, ("Set-Cookie", "theme=dark; Path=/")], b"ok")

    await cluster.serve("web", Port(await backends.http(sets_cookies)))
    await grant_once(cluster)
    host = app_host(cluster)
    browser = await signed_in(cluster.kg)
    secret = await app_session(browser, host)
    response = await app_get(cluster.kg, host, secret, "/")
    assert response.status == 200, response
    assert response.values("set-cookie") == ["theme=dark; Path=/"]
