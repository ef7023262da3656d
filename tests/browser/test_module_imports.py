"""Module imports written for the site root work through kubegate's service proxy in real
Chromium: the import map kubegate puts before the shim moves ``import '/x.js'``,
``import('/x.js')`` (also from an imported module, and same-host absolute) under the
prefix, and a page's own import map still applies next to it (Chromium merges the two).
A page's own import map with root-relative addresses and scopes (as Rails' importmap
writes them) is fixed by the shim before the browser reads it — also where kubegate sends
no import map of its own (a browser that says it is Chromium 120), and under a nonce CSP."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from browser.apps.recording import RecordingBackend, page_handler, script_handler
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster
from kubegate.core.rewrite_csp import script_hash_source

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


def module_app(
    backend: RecordingBackend, page: str, scripts: dict[str, str], csp: str | None = None
) -> web.Application:
    """The page at ``/`` (with ``csp``) and each of ``scripts`` at its path."""
    app = backend.new_app()
    app.router.add_get("/", page_handler(page, csp))
    for path, text in scripts.items():
        app.router.add_get(path, script_handler(text))
    return app


def test_module_imports_stay_under_the_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    backend = RecordingBackend()
    url = publish(gate, cluster, "modules", apps.aiohttp(module_app(backend, PAGE, MODULES)))
    prefix = urlsplit(url).path.rstrip("/")
    page.goto(url)
    page.wait_for_function("document.getElementById('out').textContent !== 'waiting'")
    assert page.text_content("#out") == "a,bd,c,lib", netlog.summary()
    assert set(MODULES) <= set(backend.received), backend.received
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    assert netlog.failed(gate.origin) == [], netlog.summary()


RAILS_PAGE = """<!doctype html>
<html><head><title>rails-like</title>
<script type="importmap"{nonce}>{{
  "imports": {{"app": "/assets/app.js", "lib": "/assets/lib.js"}},
  "scopes": {{"/assets/": {{"dep": "/assets/dep.js"}}}}
}}</script>
<link rel="modulepreload" href="/assets/app.js">
<script type="module"{nonce}>import "app";</script>
</head><body><p id="out">waiting</p></body></html>
"""
RAILS_MODULES = {
    "/assets/app.js": """
import { lib } from 'lib';
import { x } from '/mod/x.js';
document.getElementById('out').textContent = lib + ',' + x;
""",
    "/assets/lib.js": "import { dep } from 'dep';\nexport const lib = 'lib' + dep;",
    "/assets/dep.js": "export const dep = '+dep';",
    "/mod/x.js": "export const x = 'x';",
}
NONCE = "r4nd0m"


@pytest.mark.parametrize("csp", [False, True], ids=["no-csp", "nonce-csp"])
@pytest.mark.parametrize(
    "browser_says", [None, '"Chromium";v="120"'], ids=["as-is", "chromium-120"]
)
def test_a_pages_own_import_map_is_moved_under_the_prefix(
    page: Any,
    gate: Gate,
    apps: Apps,
    cluster: Cluster,
    netlog: NetworkLog,
    csp: bool,
    browser_says: str | None,
) -> None:
    backend = RecordingBackend()
    page_text = RAILS_PAGE.format(nonce=f' nonce="{NONCE}"' if csp else "")
    policy = f"script-src 'self' 'nonce-{NONCE}'" if csp else None
    app = module_app(backend, page_text, RAILS_MODULES, policy)
    url = publish(gate, cluster, "railslike", apps.aiohttp(app))
    prefix = urlsplit(url).path.rstrip("/")
    if browser_says is not None:  # kubegate then sends no import map of its own
        page.set_extra_http_headers({"sec-ch-ua": browser_says})
    with page.expect_response(lambda r: urlsplit(r.url).path == prefix + "/") as first:
        page.goto(url)
    injected = b'<script type="importmap">{"imports":{"/":' in first.value.body()
    assert injected is (browser_says is None)
    page.wait_for_function("document.getElementById('out').textContent !== 'waiting'")
    assert page.text_content("#out") == "lib+dep,x", netlog.summary()
    assert set(RAILS_MODULES) <= set(backend.received), backend.received
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    assert netlog.failed(gate.origin) == [], netlog.summary()


HASHED_MAP = (
    '{"imports": {"lib": "./assets/lib.js"}, "scopes": {"./assets/": {"dep": "./assets/dep.js"}}}'
)
HASHED_MODULE = "import { lib } from 'lib'; document.getElementById('out').textContent = lib;"
HASHED_PAGE = f"""<!doctype html>
<html><head><title>hashed</title>
<script type="importmap">{HASHED_MAP}</script>
<script type="module">{HASHED_MODULE}</script>
</head><body><p id="out">waiting</p></body></html>
"""


HASHED_CSP = "script-src 'self' " + " ".join(
    script_hash_source(text) for text in (HASHED_MAP, HASHED_MODULE)
)


def test_a_hashed_import_map_that_needs_no_change_is_left_as_it_is(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """Under a CSP that allows the page's map by its hash, a map with only relative
    addresses keeps its exact text (adding kubegate's entries would void the hash), also
    where kubegate sends no map of its own: the page works as it did."""
    backend = RecordingBackend()
    scripts = {path: RAILS_MODULES[path] for path in ("/assets/lib.js", "/assets/dep.js")}
    app = module_app(backend, HASHED_PAGE, scripts, HASHED_CSP)
    url = publish(gate, cluster, "hashed", apps.aiohttp(app))
    prefix = urlsplit(url).path.rstrip("/")
    page.set_extra_http_headers({"sec-ch-ua": '"Chromium";v="120"'})
    page.goto(url)
    page.wait_for_function("document.getElementById('out').textContent !== 'waiting'")
    assert page.text_content("#out") == "lib+dep", netlog.summary()
    text = page.eval_on_selector("script[type=importmap]", "el => el.textContent")
    assert text == HASHED_MAP
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
