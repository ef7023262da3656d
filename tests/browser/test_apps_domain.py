"""``--apps-domain`` in real Chromium: a service on its own origin (``*.apps.localhost``),
signed in through kubegate's login page on the main origin, running at ``/`` with no prefix
and no rewriting. Chromium resolves ``localhost`` and ``*.localhost`` to loopback by itself
(no DNS, no host-resolver rules). Saves docs/img/apps-domain.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from browser.harness import (
    PASSWORD,
    USER,
    Apps,
    Gate,
    LoopThread,
    NetworkLog,
    new_cluster,
    publish,
    running_gate,
    save_screenshot,
)

DOMAIN = "apps.localhost"

# The app builds its URLs in JavaScript for the site root: under a proxy prefix it would need
# the shim; on its own origin it needs nothing.
APP_PAGE = """<!doctype html><title>Root app</title>
<h1>Root app</h1><p>path: <code id=path></code></p><p>api: <code id=api>…</code></p>
<script>
document.getElementById('path').textContent = location.pathname;
fetch('/api/whoami').then(r => r.json()).then(d => {
  document.getElementById('api').textContent = JSON.stringify(d);
  document.body.dataset.done = '1';
});
</script>"""


def _root_app() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=APP_PAGE, content_type="text/html")

    async def whoami(request: web.Request) -> web.Response:
        doc = {
            "path": request.path,
            "prefix": request.headers.get("X-Forwarded-Prefix"),
            "cookies": sorted(request.cookies),
        }
        return web.json_response(doc)

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/dash", page)
    app.router.add_get("/api/whoami", whoami)
    return app


@pytest.fixture(scope="module")
def apps_gate(bg: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    with running_gate(bg, tmp_path_factory.mktemp("apps-gate"), "--apps-domain", DOMAIN) as gate:
        yield gate


def _sign_in(page: Any, port: int, app_url: str) -> None:
    """Open ``app_url``; on the main origin's login page sign in with the gate's user."""
    page.goto(app_url)
    assert urlsplit(page.url).netloc == f"localhost:{port}"
    assert urlsplit(page.url).path == "/login"
    page.fill("#password-login input[name=username]", USER)
    page.fill("#password-login input[name=password]", PASSWORD)
    page.click("#password-login button[type=submit]")
    page.wait_for_selector("body[data-done]", state="attached")


def test_app_signs_in_through_the_main_origin_and_runs_at_root(
    browser: Any, apps_gate: Gate, apps: Apps
) -> None:
    """Opening the app's origin goes via /login on the main origin and back; the app then
    runs at /, its root-relative fetch works, and kubegate's cookies never reach it."""
    cluster = apps_gate.bg.run(new_cluster(apps_gate.kg, "apps"))
    publish(apps_gate, cluster, "dash", apps.aiohttp(_root_app()))
    port = apps_gate.kg.port
    app_origin = f"https://http--dash--{cluster.namespace}.{DOMAIN}:{port}"
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800})
    netlog = NetworkLog()
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        netlog.attach(page)
        _sign_in(page, port, app_origin + "/dash")
        save_screenshot(page, "apps-domain")
        assert page.url == app_origin + "/dash"
        assert page.text_content("#path") == "/dash"
        seen = json.loads(page.text_content("#api") or "{}")
        assert seen["path"] == "/api/whoami" and seen["prefix"] is None
        assert not [c for c in seen["cookies"] if "kubegate" in c], seen
        cookies = {c["name"]: c for c in context.cookies()}
        app_cookie = cookies["__Host-kubegate_app_session"]
        assert app_cookie["domain"] == f"http--dash--{cluster.namespace}.{DOMAIN}"
        assert app_cookie["httpOnly"] and app_cookie["secure"]
        assert cookies["__Host-kubegate_session"]["domain"] == "localhost"
        assert netlog.failed(app_origin) == [], netlog.summary()
    finally:
        context.close()


def test_app_origin_cannot_read_the_main_origin(browser: Any, apps_gate: Gate, apps: Apps) -> None:
    """Script on the app's origin cannot read kubegate's API with the user's main session."""
    cluster = apps_gate.bg.run(new_cluster(apps_gate.kg, "iso"))
    publish(apps_gate, cluster, "dash", apps.aiohttp(_root_app()))
    port = apps_gate.kg.port
    app_origin = f"https://http--dash--{cluster.namespace}.{DOMAIN}:{port}"
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _sign_in(page, port, app_origin + "/")
        outcome = page.evaluate(
            """url => fetch(url, {credentials: 'include'}).then(r => 'read ' + r.status, e => 'blocked')""",
            f"https://localhost:{port}/api/v1/namespaces",
        )
        assert outcome == "blocked"  # no CORS grant: the response is opaque to the app
    finally:
        context.close()


def test_signing_out_on_the_main_origin_signs_the_app_out(
    browser: Any, apps_gate: Gate, apps: Apps
) -> None:
    """After "Sign out" on the main origin, the app's still-present cookie no longer opens
    the app: reloading it goes back through the main origin to the sign-in page."""
    cluster = apps_gate.bg.run(new_cluster(apps_gate.kg, "out"))
    publish(apps_gate, cluster, "dash", apps.aiohttp(_root_app()))
    port = apps_gate.kg.port
    app_origin = f"https://http--dash--{cluster.namespace}.{DOMAIN}:{port}"
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _sign_in(page, port, app_origin + "/dash")
        main = f"https://localhost:{port}"
        page.goto(main + "/logout")
        with page.expect_navigation(url=main + "/login"):
            page.click("#logout button[type=submit]")
        names = {c["name"] for c in context.cookies()}
        assert "__Host-kubegate_app_session" in names  # the browser still holds it ...
        page.goto(app_origin + "/dash")
        assert urlsplit(page.url).netloc == f"localhost:{port}"  # ... but it opens nothing
        assert urlsplit(page.url).path == "/login"
    finally:
        context.close()
