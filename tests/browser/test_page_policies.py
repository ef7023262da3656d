"""What a backend's Content-Security-Policy and the ``kubegate.io/sandbox`` annotation do to a
proxied page in real Chromium: the injected shim still runs under a strict policy (its hash is
added) while the page's own inline scripts stay blocked, and a sandboxed page gets an opaque
origin."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from browser.harness import Apps, Gate, publish
from integration.proxy.harness import Cluster

PAGE = """<!doctype html><html><head><title>policy</title>
<script src="/page.js"></script>
<script>document.documentElement.dataset.inline = "ran";</script>
</head><body><p id=out>waiting</p></body></html>"""

PAGE_JS = """
fetch('/api/ping').then(r => r.text()).then(t => {
  document.getElementById('out').textContent = t + ' from ' + self.origin;
}, e => { document.getElementById('out').textContent = 'fetch failed: ' + e; });
"""


def _app(csp: str | None) -> web.Application:
    async def index(request: web.Request) -> web.Response:
        headers = {"Content-Security-Policy": csp} if csp else {}
        return web.Response(text=PAGE, content_type="text/html", headers=headers)

    async def page_js(request: web.Request) -> web.Response:
        return web.Response(text=PAGE_JS, content_type="text/javascript")

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/page.js", page_js)
    app.router.add_get("/api/ping", ping)
    return app


def test_shim_runs_under_a_strict_backend_policy(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> None:
    """Under ``script-src 'self'`` the shim runs and fixes fetch; the page's inline script
    stays blocked (the policy was not weakened)."""
    url = publish(gate, cluster, "strict", apps.aiohttp(_app("script-src 'self'")))
    page.goto(url)
    # (a locator, not wait_for_function: polling a predicate needs eval, which the policy forbids)
    page.locator("#out:not(:has-text('waiting'))").wait_for()
    assert page.text_content("#out") == f"pong from {gate.origin}"
    assert page.evaluate("window.__kubegateShim !== undefined")
    assert page.evaluate("document.documentElement.dataset.inline") is None


def test_sandbox_annotation_gives_the_page_an_opaque_origin(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> None:
    """With ``kubegate.io/sandbox: "allow-scripts"`` the page's scripts run with origin
    "null": they cannot use kubegate's origin (its cookie and storage)."""
    annotations = {"kubegate.io/sandbox": "allow-scripts"}
    url = publish(gate, cluster, "boxed", apps.aiohttp(_app(None)), annotations=annotations)
    page.goto(url)
    assert page.evaluate("self.origin") == "null"
    assert (
        page.evaluate("(() => { try { return document.cookie; } catch (e) { return e.name; } })()")
        == "SecurityError"
    )
