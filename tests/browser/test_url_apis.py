"""An app written for the site root that uses URL-taking browser APIs (workers, a service
worker, sendBeacon, setAttribute, a.href, Request, Audio, document.write, iframe srcdoc) with
root-relative URLs works through kubegate's service proxy in real Chromium: the injected
shim keeps every request under the prefix (tests/browser/apps/urlapis)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from browser.apps.shimsite import wait_until
from browser.apps.urlapis.server import UrlApisBackend
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster

CHECKS = {
    "worker",
    "shared-worker",
    "service-worker",
    "beacon",
    "set-attribute",
    "request",
    "audio",
    "link",
    "link-pathname",
    "document-write",
    "document-write-open",
    "srcdoc",
    "srcdoc-attribute",
}


def _open(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, requested: list[str] | None = None
) -> tuple[str, dict[str, str], UrlApisBackend]:
    """Publish the app as service ``urlapis``, open it, wait for its checks; every URL the
    browser requests for the page and its workers (shared and service workers included,
    which the page's own log does not show) goes to ``requested``."""
    backend = UrlApisBackend()
    url = publish(gate, cluster, "urlapis", apps.aiohttp(backend.app()))
    if requested is not None:
        page.context.on("request", lambda request: requested.append(request.url))
    page.goto(url)
    page.wait_for_selector("#checks[data-done]", state="attached")
    results = page.eval_on_selector_all(
        "#checks li", "els => els.map(e => [e.dataset.check, e.className + ' ' + e.textContent])"
    )
    return urlsplit(url).path.rstrip("/"), dict(results), backend


def test_url_api_checks_pass_under_the_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """Every check the page runs on itself passes through the proxy (the service worker's
    registration as far as the test certificate lets it: see _registered_under)."""
    prefix, results, _ = _open(page, gate, apps, cluster)
    assert set(results) == CHECKS, results
    assert _registered_under(results.pop("service-worker"), gate.origin + prefix), netlog.summary()
    failing = {name: r for name, r in results.items() if not r.startswith("pass")}
    assert not failing, (failing, netlog.summary())


def _registered_under(outcome: str, base: str) -> bool:
    """Whether the service worker registered with its scope under the prefix — or, as
    Chromium accepts no service worker from an origin whose certificate it does not trust
    (the test kubegate's own CA), whether its refusal names the prefixed scope and script."""
    if outcome.startswith("pass"):
        return True
    named = f"scope ('{base}/') with script ('{base}/sw.js')"
    return "SSL certificate error" in outcome and named in outcome


def test_url_api_requests_stay_under_prefix_and_succeed(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """Every request the page, its workers and its link make stays under the prefix and
    succeeds, and each one reached the backend."""
    requested: list[str] = []
    prefix, _, backend = _open(page, gate, apps, cluster, requested)
    assert wait_until(lambda: "/beacon" in backend.received), backend.received
    # Checked before the page goes: Playwright never sees the response to a shared worker's
    # script (it reaches the worker's own target), so leaving the page marks it aborted.
    assert netlog.failed(gate.origin) == [], netlog.summary()
    with page.expect_navigation(url=f"**{prefix}/next"):
        page.click("#next")
    assert page.text_content("#landed") == "landed"
    expected = {"/worker.js", "/shared-worker.js", "/sw.js", "/img/dot.png", "/api/echo"}
    expected |= {"/img/written.png", "/img/srcdoc.png", "/img/srcdoc-attribute.png"}
    assert expected | {"/sound.wav", "/next"} <= set(backend.received), backend.received
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    base = gate.origin + prefix + "/"
    assert [u for u in requested if u.startswith(gate.origin) and not u.startswith(base)] == []
    assert {base + "shared-worker.js", base + "sw.js"} <= set(requested), requested
    seen = {e.path.removeprefix(prefix) for e in netlog.on_origin(gate.origin)}
    assert {"/worker.js", "/beacon", "/img/dot.png", "/api/echo", "/next"} <= seen, netlog.summary()
