"""Workers made from blob: URLs, written for the site root, work through kubegate's service
proxy in real Chromium: the shim starts them through the core, so their fetches (root-
relative, which a blob worker cannot even resolve by itself, and same-host absolute) stay
under the prefix; a classic worker keeps its own "use strict", a module worker works, the
page may revoke its URL at once, and one blob URL still gives one SharedWorker. Under a
Content-Security-Policy the shim leaves blob: workers alone."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from browser.apps.recording import RecordingBackend, echo_query, page_handler
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster

PAGE = """<!doctype html>
<html><head><title>blob workers</title></head><body>
<ul id="out"></ul>
<script>
function report(name, value) {
  var li = document.createElement('li');
  li.dataset.check = name;
  li.textContent = String(value);
  document.getElementById('out').appendChild(li);
}
function blobURL(code) {
  return URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
}
function answer(worker) {
  return new Promise(function (resolve) {
    worker.onmessage = function (e) { resolve(e.data); };
    worker.onerror = function (e) { resolve('error: ' + (e.message || 'worker failed')); };
  });
}
var classic = blobURL("'use strict';" +
  "var strict = (function () { return this === undefined; })();" +
  "fetch('/api/echo?w=classic').then(function (r) { return r.text(); })" +
  ".then(function (t) { postMessage(strict + ' ' + t); }, function (e) { postMessage('failed ' + e); });");
var w1 = new Worker(classic);
URL.revokeObjectURL(classic);  // at once, as many libraries do
answer(w1).then(function (v) { report('classic', v); });

var module = blobURL("const r = await fetch(location.origin + '/api/echo?w=module');" +
  "postMessage(await r.text());");
answer(new Worker(module, {type: 'module'})).then(function (v) { report('module', v); });

var shared = blobURL("var n = 0; onconnect = function (e) { n += 1;" +
  "fetch('/api/echo?w=shared').then(function (r) { return r.text(); })" +
  ".then(function (t) { e.ports[0].postMessage(n + ' ' + t); }); };");
function connect() {
  var s = new SharedWorker(shared);
  return new Promise(function (resolve) { s.port.onmessage = function (e) { resolve(e.data); }; });
}
connect().then(function (first) {
  return connect().then(function (second) { report('shared', first + ' | ' + second); });
});
</script>
</body></html>
"""
EXPECTED = {
    "classic": "true w=classic",
    "module": "w=module",
    "shared": "1 w=shared | 2 w=shared",
}


def blob_app(backend: RecordingBackend, csp: str | None) -> web.Application:
    app = backend.new_app()
    app.router.add_get("/", page_handler(PAGE, csp))
    app.router.add_get("/api/echo", echo_query)
    return app


@pytest.fixture(scope="module")
def browser(trusting_browser: Any) -> Any:
    """Chromium accepting the test certificate everywhere (conftest: trusting_browser): a
    shared worker's own requests are not covered by Playwright's ignore_https_errors."""
    return trusting_browser


def _run(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, csp: str | None, *, checks: int = 3
) -> tuple:
    backend = RecordingBackend()
    url = publish(gate, cluster, "blobs", apps.aiohttp(blob_app(backend, csp)))
    page.goto(url)
    page.wait_for_selector(f"#out li:nth-child({checks})", state="attached")  # (no eval: CSP)
    results = page.eval_on_selector_all(
        "#out li", "els => els.map(e => [e.dataset.check, e.textContent])"
    )
    return urlsplit(url).path.rstrip("/"), dict(results), backend


def test_blob_workers_stay_under_the_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    prefix, results, backend = _run(page, gate, apps, cluster, None)
    assert results == EXPECTED, netlog.summary()
    echoed = {path for path in backend.received if path.startswith("/api/echo")}
    assert echoed == {"/api/echo?w=classic", "/api/echo?w=module", "/api/echo?w=shared"}
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()


@pytest.mark.parametrize("csp", ["worker-src blob:; script-src 'self' 'unsafe-inline' blob:"])
def test_under_a_policy_blob_workers_are_left_alone(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, csp: str
) -> None:
    """With a CSP the shim does not step in: the workers run as the page made them, so the
    root-relative fetch of a blob worker fails as it would anywhere (the shared worker's
    never answers), and the same-host absolute one leaves the prefix."""
    _, results, _ = _run(page, gate, apps, cluster, csp, checks=2)
    assert results["classic"].startswith("failed"), results
    assert results["module"] != EXPECTED["module"], results
