"""CSS that a page's scripts write, with root-relative URLs, stays under the prefix in real
Chromium: style properties (as React sets them), setProperty, cssText, style attributes,
style sheets built by script (insertRule, constructable sheets, a <style>'s text) and HTML
strings with style attributes — the shim fixes url(…) and @import in each."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from browser.apps.recording import RecordingBackend, page_handler, script_handler
from browser.apps.shimsite import PNG
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster

NAMES = "abcdefghij"
PAGE = (
    """<!doctype html>
<html><head><title>styles</title>
<style>div { width: 8px; height: 8px; }</style>
</head><body>
"""
    + "".join(f'<div id="{n}" class="{n}"></div>' for n in NAMES)
    + """
<div id="holder"></div>
<script src="/styles.js"></script>
</body></html>
"""
)
SCRIPT = """
function el(id) { return document.getElementById(id); }
el('a').style.backgroundImage = 'url(/img/a.png)';
el('b').style.setProperty('background-image', 'url("/img/b.png")');
el('c').setAttribute('style', "background: url('/img/c.png') no-repeat");
el('d').style.cssText = 'background-image: url( /img/d.png )';
var style = document.createElement('style');
document.head.appendChild(style);
style.sheet.insertRule('.e { background-image: url(/img/e.png) }', 0);
var sheet = new CSSStyleSheet();
sheet.replaceSync('.f { background-image: url(/img/f.png) }');
document.adoptedStyleSheets = [sheet];
var text = document.createElement('style');
text.textContent = '.g { background-image: url(/img/g.png) }';
document.head.appendChild(text);
el('holder').innerHTML = '<p class="h" style="width:8px;height:8px;' +
  'background-image:url(/img/h.png)"></p><style>.i { background-image: url(/img/i.png) }</style>';
el('j').style.background = 'url(/img/j.png) repeat';
document.body.dataset.done = '1';
"""


def styles_app(backend: RecordingBackend) -> web.Application:
    app = backend.new_app()
    app.router.add_get("/", page_handler(PAGE))
    app.router.add_get("/styles.js", script_handler(SCRIPT))

    async def image(request: web.Request) -> web.StreamResponse:
        return web.Response(body=PNG, content_type="image/png")

    app.router.add_get("/img/{name}.png", image)
    return app


def test_css_written_by_script_stays_under_the_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    backend = RecordingBackend()
    url = publish(gate, cluster, "styles", apps.aiohttp(styles_app(backend)))
    prefix = urlsplit(url).path.rstrip("/")
    page.goto(url)
    page.wait_for_selector("body[data-done]", state="attached")
    page.wait_for_load_state("networkidle")
    images = {f"/img/{n}.png" for n in NAMES}
    assert images <= set(backend.received), (sorted(backend.received), netlog.summary())
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    base = page.evaluate("getComputedStyle(document.getElementById('a')).backgroundImage")
    assert f"{prefix}/img/a.png" in base
