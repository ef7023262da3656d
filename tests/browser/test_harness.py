"""The browser harness itself: Chromium reaches a loopback app through kubegate's proxy."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster


async def _hello(request: web.Request) -> web.Response:
    return web.Response(
        text="<title>hello</title><p id=msg>hello from the backend</p>", content_type="text/html"
    )


def test_page_loads_through_the_proxy(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """A page served by a loopback backend renders in Chromium through the service proxy."""
    app = web.Application()
    app.router.add_get("/", _hello)
    url = publish(gate, cluster, "hello", apps.aiohttp(app))
    page.goto(url)
    assert page.text_content("#msg") == "hello from the backend"
    assert netlog.failed(gate.origin) == [], netlog.summary()
