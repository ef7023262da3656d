"""A backend written for the site root whose page starts a dedicated, a module, a shared and
a service worker; each worker, also written for the root, fetches, uses XHR, imports
scripts, opens a WebSocket and an EventSource with root-relative URLs (as far as its kind
of worker has them) and reports the outcome (checks.js).

Routes: ``/`` (index.html), ``/app.js``, ``/worker.js``, ``/module-worker.js`` (with
``/module-lib.js``), ``/shared-worker.js``, ``/service-worker.js``, ``/lib.js`` (for
``importScripts``),
``/api/hello`` ("hello"), ``/ws`` (echo), ``/events`` (one event). Every request's path and
query is recorded in ``WorkersBackend.received``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from browser.apps.recording import (
    RecordingBackend,
    echo_websocket,
    file_handler,
    one_event,
    script_handler,
)

HERE = Path(__file__).resolve().parent
CHECKS = (HERE / "checks.js").read_text(encoding="utf-8")
# "use strict" first, as bundlers write it: the worker reports whether it still holds.
STRICT = (
    "r.strict = (function () { return this; })() === undefined ? 'pass strict' : 'fail sloppy';"
)
SCRIPTS = {
    "/worker.js": "'use strict';\n"
    + CHECKS
    + f"runChecks('dedicated').then(function (r) {{ {STRICT} postMessage(r); }});\n",
    "/module-worker.js": "import { marker } from './module-lib.js';\n"
    + CHECKS
    + "runChecks('module').then(function (r) {"
    " r.import = marker === 'module lib' ? 'pass import' : 'fail import'; postMessage(r); });\n",
    "/module-lib.js": "export const marker = 'module lib';\n",
    "/shared-worker.js": "'use strict';\n"
    + CHECKS
    + "var ready = runChecks('shared');\n"
    + f"self.onconnect = function (e) {{ ready.then(function (r) {{ {STRICT} e.ports[0].postMessage(r); }}); }};\n",
    # importScripts only while the service worker is evaluated; results on request.
    "/service-worker.js": "'use strict';\n"
    + CHECKS
    + "var imported;\n"
    + "try { importScripts('/lib.js'); imported = self.libLoaded === 'lib ok' && 'pass ' + self.libLoaded; }"
    " catch (e) { imported = 'fail ' + e.message; }\n"
    + "var ready = runChecks('service');\n"
    + "self.addEventListener('install', function () { self.skipWaiting(); });\n"
    + "self.addEventListener('message', function (e) { ready.then(function (r) {"
    + f" r.importScripts = imported || 'fail wrong result'; {STRICT} e.source.postMessage(r); }}); }});\n",
    "/lib.js": "self.libLoaded = 'lib ok';\n",
}


@dataclass
class WorkersBackend(RecordingBackend):
    def app(self) -> web.Application:
        app = self.new_app()
        r = app.router
        r.add_get("/", file_handler(HERE / "index.html", "text/html"))
        r.add_get("/app.js", file_handler(HERE / "app.js", "text/javascript"))
        for path, text in SCRIPTS.items():
            r.add_get(path, script_handler(text))
        r.add_get("/api/hello", self._hello)
        r.add_get("/ws", echo_websocket)
        r.add_get("/events", one_event)
        return app

    async def _hello(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="hello", content_type="text/plain")
