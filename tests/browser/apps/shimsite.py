"""A loopback site that serves a page with kubegate's shim inlined under a made-up prefix
(no kubegate in between) and records the path of every request it receives, so a test can
see exactly where the page's JavaScript-built requests went."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from kubegate.proxy.shim_text import load_shim, shim_script

PREFIX = "/pfx"
PAGE = PREFIX + "/page.html"
# A 1x1 transparent PNG: real image bytes, so <img> loads succeed.
SPRITE = '<svg xmlns="http://www.w3.org/2000/svg"><symbol id="dot"><circle r="1"/></symbol></svg>'
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

# A worker script for every kind of worker: a dedicated worker posts "ok", a shared worker
# answers each connection with "ok"; a service worker or a page just runs it. (Worklets,
# which have no "self", get WORKLET.)
WORKER_JS = (
    "if (typeof self === 'object') {"
    " self.onconnect = e => e.ports[0].postMessage('ok');"
    " if (self.postMessage) postMessage('ok'); }"
)
WORKLET_JS = "registerProcessor('kubegate-noop', class extends AudioWorkletProcessor { process() { return false; } });"


def wav(samples: int = 800, rate: int = 8000) -> bytes:
    """A tenth of a second of 8-bit mono silence as a WAV file, which every Chromium plays."""
    chunks = (b"RIFF", 36 + samples, b"WAVE", b"fmt ", 16, 1, 1, rate, rate, 1, 8, b"data", samples)
    return struct.pack("<4sI4s4sIHHIIHH4sI", *chunks) + b"\x80" * samples


def shim_tag(prefix: str = PREFIX) -> tuple[str, str]:
    """The shim's <script> as kubegate injects it, and the CSP hash source of its text."""
    js = load_shim()
    assert js is not None, "kubegate/proxy/shim.js is missing from the package"
    tag, hash_source = shim_script(js, prefix)
    return tag.decode("utf-8"), hash_source


def page_html(prefix: str = PREFIX, copies: int = 1, body: str = "") -> str:
    """A page carrying the shim the way kubegate injects it, first in <head>."""
    script = shim_tag(prefix)[0]
    return f"<!doctype html><html><head>{script * copies}</head><body>{body}</body></html>"


@dataclass
class ShimSite:
    """The site's app and what it received (paths with query, arrival order)."""

    body: str = ""
    copies: int = 1
    csp: str = ""  # a Content-Security-Policy for the page, if any
    received: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def saw(self, path: str) -> bool:
        return path in self.received

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(request.raw_path)
        path = request.path
        if path == PAGE:
            headers = {"Content-Security-Policy": self.csp} if self.csp else {}
            return web.Response(
                text=page_html(copies=self.copies, body=self.body),
                content_type="text/html",
                headers=headers,
            )
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _echo(request)
        if path.endswith("/events"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(b"data: hello\n\n")
            return response
        if path.endswith(".png"):
            return web.Response(body=PNG, content_type="image/png")
        if path.endswith(".wav"):
            return web.Response(body=wav(), content_type="audio/wav")
        if path.endswith(".js"):
            script = WORKLET_JS if path.endswith("worklet.js") else WORKER_JS
            return web.Response(text=script, content_type="text/javascript")
        if path.endswith(".svg"):
            return web.Response(text=SPRITE, content_type="image/svg+xml")
        if path.endswith(".css"):
            return web.Response(text="body{}", content_type="text/css")
        return web.Response(text="<!doctype html><p id=landed>landed</p>", content_type="text/html")


async def _echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
    return ws


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` (set by the loopback app's thread) until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
