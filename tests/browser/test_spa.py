"""A single-page app written for the site root works through kubegate's service proxy, in
real Chromium: server-side rewriting fixes its HTML, CSS, redirects and cookies, and the
injected shim fixes the URLs its JavaScript builds (tests/browser/apps/spa)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from browser.apps.spa.server import SpaBackend
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster

CHECKS = {
    "router",
    "fetch",
    "xhr",
    "websocket",
    "eventsource",
    "image",
    "login-cookie",
    "script-cookie",
}


def _open_spa(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, annotations: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """Publish the SPA as service ``spa``, open it, wait for its checks; (prefix, results)."""
    url = publish(gate, cluster, "spa", apps.aiohttp(SpaBackend().app()), annotations=annotations)
    page.goto(url)
    page.wait_for_selector("#checks[data-done]", state="attached")
    results = page.eval_on_selector_all(
        "#checks li", "els => els.map(e => [e.dataset.check, e.className + ' ' + e.textContent])"
    )
    return urlsplit(url).path.rstrip("/"), dict(results)


def test_spa_checks_pass_under_the_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog, screenshot: Any
) -> None:
    """Every check the page runs on itself (router, fetch, XHR, WebSocket, EventSource,
    images, cookies) passes through the proxy."""
    _, results = _open_spa(page, gate, apps, cluster)
    screenshot("spa-through-proxy")
    failing = {name: r for name, r in results.items() if not r.startswith("pass")}
    assert set(results) == CHECKS and not failing, (failing, netlog.summary())


def test_spa_requests_stay_under_prefix_and_succeed(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """Every request and WebSocket the SPA makes stays under its proxy prefix and none fails."""
    prefix, _ = _open_spa(page, gate, apps, cluster)
    assert netlog.on_origin(gate.origin), netlog.summary()
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    assert netlog.failed(gate.origin) == [], netlog.summary()
    assert any(url.endswith(prefix + "/ws") for url in netlog.websockets), netlog.summary()


def test_spa_login_redirect_and_cookie_stay_under_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> None:
    """The backend's redirect-based login lands back on the SPA, its cookie scoped to the prefix."""
    prefix, results = _open_spa(page, gate, apps, cluster)
    assert urlsplit(page.url).path == prefix + "/"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["spa_session"]["path"] == prefix + "/"
    assert results["login-cookie"].startswith("pass")


def test_spa_form_post_redirects_under_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """A form built by script posts under the prefix and its 303 lands on the prefixed page."""
    prefix, _ = _open_spa(page, gate, apps, cluster)
    page.click("a[href$='/form']")
    with page.expect_navigation(url=f"**{prefix}/done?note=hello"):
        page.click("#submit")
    assert page.text_content("#done") == "submitted: hello"
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()


def test_without_the_shim_fetch_escapes_the_prefix(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """With ``kubegate.io/shim: "false"`` the same SPA's fetch leaves the prefix and fails:
    the shim is what makes JavaScript-built URLs work."""
    prefix, results = _open_spa(page, gate, apps, cluster, {"kubegate.io/shim": "false"})
    assert results["fetch"].startswith("fail"), results
    stray = netlog.outside(gate.origin, prefix + "/")
    assert any("/api/items" in line for line in stray), netlog.summary()


def test_spa_works_with_basic_auth_sent_by_the_browser(
    basic_auth_context: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> None:
    """Without a session, basic credentials the browser attaches itself (as after a
    basic-auth prompt) carry the whole SPA, WebSocket and form POST included."""
    page = basic_auth_context.new_page()
    prefix, results = _open_spa(page, gate, apps, cluster)
    assert not [r for r in results.values() if not r.startswith("pass")], results
    page.click("a[href$='/form']")
    with page.expect_navigation(url=f"**{prefix}/done?note=hello"):
        page.click("#submit")
