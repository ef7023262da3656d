"""The sign-in as a user lives it, in real Chromium: sign in on the form, land on the page
asked for, sign out; and what the session cookie is refused for — a page on another origin of
the same site (which SameSite=Lax does *not* stop: the cookie goes along) posting through the
proxy or opening a WebSocket with it. Screenshot: docs/img/login.png."""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme
from aiohttp import WSMsgType, web

from browser.harness import (
    LOOPBACK,
    PASSWORD,
    USER,
    Apps,
    Gate,
    LoopThread,
    publish,
    save_screenshot,
)
from integration.proxy.harness import Cluster

# What a page runs to try the proxied app's form POST and WebSocket; the result goes into the
# document title, which the test waits for.
PROBE = """
async function probe(base) {
  const result = {};
  try {
    const r = await fetch(base + 'form', {method: 'POST', credentials: 'include',
      mode: 'no-cors', body: 'x=1', headers: {'Content-Type': 'application/x-www-form-urlencoded'}});
    result.post = 'sent';
  } catch (e) { result.post = 'error'; }
  result.ws = await new Promise((resolve) => {
    const ws = new WebSocket(base.replace(/^http/, 'ws') + 'ws');
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onerror = () => resolve('error');
  });
  document.title = 'done:' + JSON.stringify(result);
}
"""


@dataclass
class Recorder:
    """What the proxied app received: form POSTs and WebSocket connections."""

    posts: list[str] = field(default_factory=list)
    sockets: int = 0


def _app(recorder: Recorder) -> web.Application:
    async def index(request: web.Request) -> web.Response:
        page = f"<!doctype html><title>app</title><p id=hello>hello</p><script>{PROBE}</script>"
        return web.Response(text=page, content_type="text/html")

    async def form(request: web.Request) -> web.Response:
        recorder.posts.append(await request.text())
        return web.Response(text="ok")

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        recorder.sockets += 1
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_post("/form", form)
    app.router.add_get("/ws", socket)
    return app


@pytest.fixture
def proxied(gate: Gate, apps: Apps, cluster: Cluster) -> tuple[str, Recorder]:
    recorder = Recorder()
    url = publish(gate, cluster, "app", apps.aiohttp(_app(recorder)))
    return url, recorder


@pytest.fixture
def same_site_page(bg: LoopThread, proxied: tuple[str, Recorder]) -> Any:
    """An HTTPS page on another port of the gate's host: another origin, the same site."""
    url, _ = proxied
    page = f"<!doctype html><title>other</title><script>{PROBE}probe({json.dumps(url)});</script>"

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert(LOOPBACK).configure_cert(context)

    async def start() -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0, ssl_context=context)
        await site.start()
        return runner, int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    runner, port = bg.run(start())
    yield f"https://{LOOPBACK}:{port}/"
    bg.run(runner.cleanup())


def _sign_in_on_the_form(page: Any, target: str) -> None:
    page.goto(target)
    assert urlsplit(page.url).path == "/login"
    page.fill("#password-login input[name=username]", USER)
    page.fill("#password-login input[name=password]", PASSWORD)
    with page.expect_navigation(url=target):
        page.click("#password-login button[type=submit]")


def _probe_result(page: Any) -> dict[str, str]:
    page.wait_for_function("document.title.startsWith('done:')", timeout=15_000)
    return json.loads(page.title()[len("done:") :])


def test_sign_in_lands_on_the_page_and_sign_out_ends_the_session(
    anonymous_context: Any, gate: Gate, proxied: tuple[str, Recorder]
) -> None:
    """Form sign-in returns to the proxied page; after signing out the page asks to sign in
    again and the cookie is gone."""
    url, _ = proxied
    page = anonymous_context.new_page()
    page.goto(url)
    assert urlsplit(page.url).path == "/login"
    page.wait_for_selector("#password-login")
    save_screenshot(page, "login")
    page.fill("#password-login input[name=username]", USER)
    page.fill("#password-login input[name=password]", PASSWORD)
    with page.expect_navigation(url=url):
        page.click("#password-login button[type=submit]")
    assert page.text_content("#hello") == "hello"
    page.goto(gate.url("/logout"))
    with page.expect_navigation(url=gate.url("/login")):
        page.click("#logout button[type=submit]")
    assert "__Host-kubegate_session" not in {c["name"] for c in anonymous_context.cookies()}
    page.goto(url)
    assert urlsplit(page.url).path == "/login"


def test_the_app_itself_may_post_and_open_websockets(
    anonymous_context: Any, proxied: tuple[str, Recorder]
) -> None:
    """The proxied page, on kubegate's own origin, posts its form and opens its WebSocket."""
    url, recorder = proxied
    page = anonymous_context.new_page()
    _sign_in_on_the_form(page, url)
    page.evaluate("probe(location.href)")
    assert _probe_result(page) == {"post": "sent", "ws": "open"}
    assert recorder.posts == ["x=1"] and recorder.sockets == 1


def test_a_same_site_page_cannot_use_the_session(
    anonymous_context: Any,
    gate: Gate,
    proxied: tuple[str, Recorder],
    same_site_page: str,
) -> None:
    """From another origin of the same site the browser attaches the cookie, and kubegate
    answers 403 to the POST and the WebSocket: the app sees neither."""
    url, recorder = proxied
    page = anonymous_context.new_page()
    _sign_in_on_the_form(page, url)
    statuses: dict[str, int] = {}
    page.on(
        "response",
        lambda r: (
            statuses.setdefault(urlsplit(r.url).path, r.status)
            if r.request.method == "POST"
            else None
        ),
    )
    page.goto(same_site_page)
    result = _probe_result(page)
    assert result["ws"] != "open"
    # 403, not 401: the cookie did go along (SameSite=Lax allows same-site requests), and
    # the Origin check refused it.
    assert statuses.get(urlsplit(url).path + "form") == 403
    assert recorder.posts == [] and recorder.sockets == 0
