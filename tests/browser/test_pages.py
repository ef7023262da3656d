"""kubegate's own browser pages as a user meets them, in real Chromium — the sign-in page
and the service index — with the screenshots docs/browser.md shows."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from browser.harness import PASSWORD, USER, Apps, Gate, publish, save_screenshot
from integration.proxy.harness import Cluster


def _hello_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><p id=hello>hello</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", hello)
    return app


def test_sign_in_with_password_returns_to_the_service(
    anonymous_context: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> None:
    """A browser without credentials opening a proxy URL signs in on /login and lands back
    on the service page it asked for."""
    url = publish(gate, cluster, "hello", apps.aiohttp(_hello_app()))
    page = anonymous_context.new_page()
    page.goto(url)
    assert urlsplit(page.url).path == "/login"
    save_screenshot(page, "login-page")
    page.fill("#password-login input[name=username]", USER)
    page.fill("#password-login input[name=password]", PASSWORD)
    with page.expect_navigation(url=url):
        page.click("#password-login button[type=submit]")
    assert page.text_content("#hello") == "hello"
    cookies = {c["name"]: c for c in anonymous_context.cookies()}
    session = cookies["__Host-kubegate_session"]
    assert session["httpOnly"] and session["secure"] and session["path"] == "/"


def test_index_links_a_published_service(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> None:
    """The service index at / lists a published service with a link to its proxy URL."""
    url = publish(gate, cluster, "hello", apps.aiohttp(_hello_app()))
    path = urlsplit(url).path
    page.goto(gate.url(f"/?q={cluster.namespace}"))
    link = page.locator(f"a.port[href='{path}']")
    assert link.count() == 1
    save_screenshot(page, "service-index")
    with page.expect_navigation(url=url):
        link.click()
