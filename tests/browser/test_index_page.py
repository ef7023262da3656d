"""The service index at ``/`` in real Chromium: it renders under its strict CSP with nothing
blocked, its copy buttons appear (the nonce-tagged script ran), and its links open the
services through the proxy. Saves docs/img/index.png."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from browser.harness import Apps, Gate, LoopThread, NetworkLog, publish
from integration.proxy.harness import Cluster


def _page_app(title: str) -> web.Application:
    async def root(request: web.Request) -> web.Response:
        return web.Response(
            text=f"<title>{title}</title><h1 id=app>{title}</h1>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", root)
    return app


def _describe(bg: LoopThread, cluster: Cluster, service: str, text: str, title: str) -> None:
    """Give a published Service a description (annotation) and a title (label)."""
    patch = {
        "metadata": {
            "annotations": {"kubegate.io/description": text},
            "labels": {"app.kubernetes.io/name": title},
        }
    }
    path = f"/api/v1/namespaces/{cluster.namespace}/services/{service}"
    response = bg.run(cluster.kg.api("PATCH", path, patch, patch=True))
    assert response.status == 200, response


def _open_index(page: Any, gate: Gate, cluster: Cluster) -> None:
    page.goto(gate.url(f"/?q={cluster.namespace}"))
    page.wait_for_selector(f'tr[data-service="{cluster.namespace}/grafana"]')


def test_index_renders_under_its_csp_and_links_work(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog, screenshot: Any
) -> None:
    """The page loads with no CSP violation, shows copy buttons, and a port link opens the app."""
    publish(gate, cluster, "grafana", apps.aiohttp(_page_app("Grafana")))
    publish(gate, cluster, "prometheus", apps.aiohttp(_page_app("Prometheus")), port_name="web")
    _describe(gate.bg, cluster, "grafana", "Dashboards for the team", "Grafana")
    _describe(gate.bg, cluster, "prometheus", "Metrics and alerts", "Prometheus")
    _open_index(page, gate, cluster)
    page.click(
        f'tr[data-service="{cluster.namespace}/grafana"] + tr.more summary'
    )  # show the commands
    assert page.locator("button.copy").count() >= 3  # the nonce-tagged script ran
    screenshot("index")
    violations = [
        line for line in netlog.console if "Content Security Policy" in line or "pageerror" in line
    ]
    assert violations == [], netlog.summary()
    assert netlog.failed(gate.origin) == [], netlog.summary()
    page.click(f'tr[data-service="{cluster.namespace}/prometheus"] a.port')
    page.wait_for_selector("#app")
    assert page.text_content("#app") == "Prometheus"
    assert page.url == gate.url(cluster.path("services", "prometheus:web", "/"))


def test_index_works_without_javascript(
    browser: Any, gate: Gate, apps: Apps, cluster: Cluster
) -> None:
    """With scripts off the list, the filter form and the links still work (no copy buttons)."""
    publish(gate, cluster, "grafana", apps.aiohttp(_page_app("Grafana")))
    context = browser.new_context(
        ignore_https_errors=True,
        java_script_enabled=False,
        extra_http_headers=gate.basic_auth_header,
    )
    try:
        page = context.new_page()
        page.goto(gate.url("/"))
        page.fill("input[name=q]", cluster.namespace)
        page.click("form.filter button[type=submit]")
        page.wait_for_selector(f'tr[data-service="{cluster.namespace}/grafana"]')
        assert page.locator("button.copy").count() == 0
        page.click(f'tr[data-service="{cluster.namespace}/grafana"] a.port')
        assert page.text_content("#app") == "Grafana"
    finally:
        context.close()
