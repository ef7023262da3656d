"""A backend written for the site root whose page uses URL-taking browser APIs the shim
wraps (workers, a service worker, sendBeacon, setAttribute, a.href, Request, Audio,
document.write, iframe srcdoc) with root-relative URLs; its app.js checks each and reports in
``#checks``.

Routes: ``/`` (index.html), ``/app.js``, ``/worker.js``, ``/shared-worker.js``, ``/sw.js``,
``/img/<name>.png`` (one image under any name), ``/sound.wav``, ``POST /beacon`` and ``POST
/api/echo`` (the body back), ``/next`` (a page to land on). Every request's path is recorded in ``UrlApisBackend.received``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from browser.apps.recording import RecordingBackend, file_handler, script_handler
from browser.apps.shimsite import PNG, wav

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "/worker.js": "postMessage('worker ok');",
    "/shared-worker.js": "onconnect = function (e) { e.ports[0].postMessage('shared ok'); };",
    "/sw.js": "self.addEventListener('install', function () { self.skipWaiting(); });",
}


@dataclass
class UrlApisBackend(RecordingBackend):
    def app(self) -> web.Application:
        app = self.new_app()
        r = app.router
        r.add_get("/", file_handler(HERE / "index.html", "text/html"))
        r.add_get("/app.js", file_handler(HERE / "app.js", "text/javascript"))
        for path, text in SCRIPTS.items():
            r.add_get(path, script_handler(text))
        r.add_get("/img/{name}.png", self._bytes(PNG, "image/png"))
        r.add_get("/sound.wav", self._bytes(wav(), "audio/wav"))
        r.add_post("/beacon", self._beacon)
        r.add_post("/api/echo", self._echo)
        r.add_get("/next", self._next)
        return app

    @staticmethod
    def _bytes(body: bytes, content_type: str) -> web.RequestHandler:  # type: ignore[name-defined]
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=body, content_type=content_type)

        return handler

    async def _beacon(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(status=204)

    async def _echo(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=await request.text(), content_type="text/plain")

    async def _next(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            text="<!doctype html><title>next</title><p id=landed>landed</p>",
            content_type="text/html",
        )
