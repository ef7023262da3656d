"""Code running inside workers, written for the site root, works through kubegate's service
proxy in real Chromium: a dedicated, a module, a shared and a service worker each fetch,
import scripts, open a WebSocket (and, where their kind of worker has them, use XHR and an
EventSource) with root-relative URLs, and every one of those requests stays under the
prefix, because kubegate prepends the shim's core to a worker's script
(tests/browser/apps/workers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from browser.apps.shimsite import wait_until
from browser.apps.workers.server import WorkersBackend
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster

IN_EVERY_WORKER = {"fetch", "fetch-absolute", "websocket", "eventsource", "cache"}
WITH_XHR = IN_EVERY_WORKER | {"xhr"}  # (a service worker has no XMLHttpRequest)
CHECKS = (
    {f"dedicated:{c}" for c in WITH_XHR | {"importScripts", "strict"}}
    | {f"module:{c}" for c in WITH_XHR | {"import"}}
    | {f"shared:{c}" for c in WITH_XHR | {"importScripts", "strict"}}
    | {f"service:{c}" for c in IN_EVERY_WORKER | {"importScripts", "strict"}}
)


@pytest.fixture(scope="module")
def browser(trusting_browser: Any) -> Any:
    """Chromium accepting the test certificate everywhere (conftest: trusting_browser)."""
    return trusting_browser


def _open(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> tuple[str, dict[str, str], WorkersBackend, NetworkLog]:
    """Publish the app as service ``workers``, open it and wait for every worker's report:
    the prefix, the checks' outcomes, the backend and the context's requests."""
    backend = WorkersBackend()
    url = publish(gate, cluster, "workers", apps.aiohttp(backend.app()))
    log = NetworkLog()
    log.attach_requests(page.context)
    page.goto(url)
    page.wait_for_selector("#checks[data-done]", state="attached", timeout=30_000)
    results = page.eval_on_selector_all(
        "#checks li", "els => els.map(e => [e.dataset.check, e.textContent])"
    )
    return urlsplit(url).path.rstrip("/"), dict(results), backend, log


def test_every_worker_check_passes(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """Each worker's fetch, absolute fetch, WebSocket, XHR, EventSource, Cache API
    (addAll, then caches.match) and importScripts succeed, a classic worker's "use strict" still holds, and a module worker's import
    works."""
    _, results, _, log = _open(page, gate, apps, cluster)
    assert set(results) == CHECKS, results
    failing = {name: r for name, r in results.items() if ": pass" not in r}
    assert not failing, (failing, log.summary(), netlog.summary())


def test_worker_requests_stay_under_the_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """Every request of the page and its workers stays under the prefix and none fails, and
    each worker's requests (WebSockets included) reached the backend through it."""
    prefix, _, backend, log = _open(page, gate, apps, cluster)
    base = gate.origin + prefix + "/"
    mine = [e for e in log.exchanges if e.url.startswith(gate.origin + "/")]
    assert [str(e) for e in mine if not e.url.startswith(base)] == [], log.summary()
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    finished = [e for e in mine if e.status is not None or e.failure]
    assert [str(e) for e in finished if not e.ok] == [], log.summary()
    for kind in ("dedicated", "module", "shared", "service"):
        tag = f"?from={kind}"
        wanted = {f"/api/hello{tag}", f"/api/hello{tag}&absolute", f"/ws{tag}", f"/events{tag}"}
        wanted.add(f"/api/hello{tag}&cached")  # fetched by cache.addAll
        if kind != "service":
            wanted.add(f"/api/hello{tag}&xhr")
        assert wait_until(lambda w=wanted: w <= set(backend.received)), (kind, backend.received)
    assert backend.received.count("/lib.js") == 3  # classic dedicated, shared, service


def test_worker_scripts_come_with_the_shim_and_page_scripts_without(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> None:
    """The workers' scripts are answered with X-Kubegate-Rewrite: worker-shim; the page's
    own script and the scripts a worker imports (importScripts, a module import) are
    relayed as they are."""
    prefix, _, _, log = _open(page, gate, apps, cluster)
    base = gate.origin + prefix
    assert log.rewrite.get(base + "/worker.js") == "worker-shim", log.rewrite
    assert log.rewrite.get(base + "/module-worker.js") == "worker-shim", log.rewrite
    assert log.rewrite.get(base + "/service-worker.js") == "worker-shim", log.rewrite
    assert log.rewrite.get(base + "/app.js", "absent") is None, log.rewrite
    assert log.rewrite.get(base + "/lib.js", "absent") is None, log.rewrite
    assert log.rewrite.get(base + "/module-lib.js", "absent") is None, log.rewrite
