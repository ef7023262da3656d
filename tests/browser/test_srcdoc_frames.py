"""A srcdoc frame that the page builds by script, with scripts of its own written for the
site root, works through kubegate's service proxy in real Chromium: the page's shim puts a
copy of itself at the top of the frame's document, so the frame's fetch (root-relative and
same-host absolute) and its links stay under the prefix — also under a CSP that allows the
shim only by its hash."""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from browser.apps.recording import RecordingBackend, echo_query, page_handler, script_handler
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster
from kubegate.core.rewrite_csp import script_hash_source

FRAME_SCRIPT = (
    "Promise.all([fetch('/api/echo?f=relative'),"
    " fetch(new URL('/api/echo?f=absolute', document.baseURI).href)])"
    ".then(function (rs) { return Promise.all(rs.map(function (r) { return r.text(); })); })"
    ".then(function (ts) { parent.postMessage(ts.join(' '), '*'); },"
    " function (e) { parent.postMessage('failed ' + e, '*'); });"
)
FRAME = f"<!doctype html><html><head><title>f</title></head><body><script>{FRAME_SCRIPT}</script>"
PAGE = """<!doctype html>
<html><head><title>srcdoc</title></head><body>
<p id="out">waiting</p>
<script src="/page.js"></script>
</body></html>
"""
PAGE_JS = f"""
addEventListener('message', function (e) {{ document.getElementById('out').textContent = e.data; }});
var frame = document.createElement('iframe');
frame.srcdoc = {json.dumps(FRAME)};
document.body.appendChild(frame);
"""
# The frame's own script allowed by its hash; kubegate adds the shim's.
HASH_CSP = f"script-src 'self' {script_hash_source(FRAME_SCRIPT)}"


def srcdoc_app(backend: RecordingBackend, csp: str | None) -> web.Application:
    app = backend.new_app()
    app.router.add_get("/", page_handler(PAGE, csp))
    app.router.add_get("/page.js", script_handler(PAGE_JS))
    app.router.add_get("/api/echo", echo_query)
    return app


@pytest.mark.parametrize("csp", [None, HASH_CSP], ids=["no-csp", "hash-csp"])
def test_a_scripted_srcdoc_frame_runs_the_shim(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog, csp: str | None
) -> None:
    backend = RecordingBackend()
    url = publish(gate, cluster, "srcdoc", apps.aiohttp(srcdoc_app(backend, csp)))
    prefix = urlsplit(url).path.rstrip("/")
    page.goto(url)
    page.wait_for_selector("#out:not(:text('waiting'))", state="attached")
    assert page.text_content("#out") == "f=relative f=absolute", netlog.summary()
    assert {"/api/echo?f=relative", "/api/echo?f=absolute"} <= set(backend.received)
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()


SERVED_SCRIPT = FRAME_SCRIPT.replace("f=relative", "f=served-relative").replace(
    "f=absolute", "f=served-absolute"
)
SERVED_FRAME = FRAME.replace(FRAME_SCRIPT, SERVED_SCRIPT)
SERVED_CSP = f"script-src 'self' {script_hash_source(SERVED_SCRIPT)}"
SERVED_PAGE = f"""<!doctype html>
<html><head><title>srcdoc</title></head><body>
<p id="out">waiting</p>
<script src="/listen.js"></script>
<iframe srcdoc="{html.escape(SERVED_FRAME)}"></iframe>
</body></html>
"""
LISTEN_JS = (
    "addEventListener('message', function (e) {"
    " document.getElementById('out').textContent = e.data; });"
)


@pytest.mark.parametrize("csp", [None, SERVED_CSP], ids=["no-csp", "hash-csp"])
def test_a_srcdoc_in_the_served_html_runs_the_shim(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog, csp: str | None
) -> None:
    """A srcdoc attribute in the page kubegate relays is rewritten as the document it is,
    with the shim put in (it has a script): the frame's requests stay under the prefix."""
    backend = RecordingBackend()
    app = backend.new_app()
    app.router.add_get("/", page_handler(SERVED_PAGE, csp))
    app.router.add_get("/listen.js", script_handler(LISTEN_JS))
    app.router.add_get("/api/echo", echo_query)
    url = publish(gate, cluster, "srcdoc-served", apps.aiohttp(app))
    prefix = urlsplit(url).path.rstrip("/")
    page.goto(url)
    page.wait_for_selector("#out:not(:text('waiting'))", state="attached")
    assert page.text_content("#out") == "f=served-relative f=served-absolute", netlog.summary()
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
