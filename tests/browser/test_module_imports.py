"""Module imports written for the site root work through kubegate's service proxy in real
Chromium: the import map kubegate puts before the shim moves ``import '/x.js'``,
``import('/x.js')`` (also from an imported module, and same-host absolute) under the
prefix, and a page's own import map still applies next to it (Chromium merges the two)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from browser.apps.recording import NO_STORE, RecordingBackend, script_handler
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster

PAGE = """<!doctype html>
<html><head><title>modules</title>
<script type="importmap">{"imports": {"lib": "./lib/lib.js"}}</script>
<script type="module" src="/main.js"></script>
</head><body><p id="out">waiting</p></body></html>
"""
MODULES = {
    "/main.js": """
import { a } from '/mod/a.js';
import { lib } from 'lib';
const { b } = await import('/mod/b.js');
const { c } = await import(new URL('/mod/c.js', location.origin).href);
document.getElementById('out').textContent = [a, b, c, lib].join(',');
""",
    "/mod/a.js": "export const a = 'a';",
    "/mod/b.js": "import { d } from '/mod/d.js';\nexport const b = 'b' + d;",
    "/mod/c.js": "export const c = 'c';",
    "/mod/d.js": "export const d = 'd';",
    "/lib/lib.js": "export const lib = 'lib';",
}


class ModulesBackend(RecordingBackend):
    def app(self) -> web.Application:
        app = self.new_app()
        app.router.add_get("/", self._page)
        for path, text in MODULES.items():
            app.router.add_get(path, script_handler(text))
        return app

    @staticmethod
    async def _page(request: web.Request) -> web.StreamResponse:
        return web.Response(text=PAGE, content_type="text/html", headers=NO_STORE)


def test_module_imports_stay_under_the_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    backend = ModulesBackend()
    url = publish(gate, cluster, "modules", apps.aiohttp(backend.app()))
    prefix = urlsplit(url).path.rstrip("/")
    page.goto(url)
    page.wait_for_function("document.getElementById('out').textContent !== 'waiting'")
    assert page.text_content("#out") == "a,bd,c,lib", netlog.summary()
    assert set(MODULES) <= set(backend.received), backend.received
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    assert netlog.failed(gate.origin) == [], netlog.summary()
