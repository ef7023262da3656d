"""Well-known real web apps work under the proxy prefix without being told about it: FastAPI's
interactive docs, Swagger UI and ReDoc (served offline by the ``fastapi-offline`` package),
run by uvicorn on loopback *without* ``root_path``. Their HTML loads root-relative assets
(server-side rewriting), their JavaScript fetches the root-relative ``/openapi.json`` and
Swagger UI's "Try it out" calls root-relative API paths (the shim)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from browser.apps.petstore import ForwardedPrefix, create_app
from browser.harness import Apps, Gate, NetworkLog, publish
from integration.proxy.harness import Cluster

GET_PET = "#operations-default-get_pet_pets__pet_id__get"


@pytest.fixture
def petstore(gate: Gate, apps: Apps, cluster: Cluster) -> str:
    """The pet store's proxy URL (ending in ``/proxy/``)."""
    return publish(gate, cluster, "petstore", apps.asgi(create_app()))


def test_swagger_ui_try_it_out_under_prefix(
    page: Any, gate: Gate, petstore: str, netlog: NetworkLog, screenshot: Any
) -> None:
    """Swagger UI renders the API and "Try it out" gets a 200 from the prefixed API path."""
    prefix = urlsplit(petstore).path.rstrip("/")
    page.goto(petstore + "docs")
    op = page.locator(GET_PET)
    op.wait_for()
    screenshot("swagger-ui-through-proxy")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    op.locator("input[placeholder='pet_id']").fill("2")
    op.locator("button.execute").click()
    status = op.locator(".live-responses-table tbody .response-col_status").first
    assert status.text_content().strip() == "200"
    assert (
        '"name": "Rex"'
        in op.locator(".live-responses-table .response-col_description pre").first.text_content()
    )
    # The call itself went under the prefix (Swagger UI displays the URL it computed,
    # /pets/2, since the shim changes requests, not the page's own variables).
    calls = [
        e for e in netlog.exchanges if e.resource_type == "fetch" and e.path.endswith("/pets/2")
    ]
    assert [(c.path, c.status) for c in calls] == [(prefix + "/pets/2", 200)], netlog.summary()
    op.scroll_into_view_if_needed()
    screenshot("swagger-ui-try-it-out")
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    assert netlog.failed(gate.origin) == [], netlog.summary()


def test_redoc_renders_under_prefix(
    page: Any, gate: Gate, petstore: str, netlog: NetworkLog
) -> None:
    """ReDoc loads its bundle and the OpenAPI document under the prefix and renders them."""
    prefix = urlsplit(petstore).path.rstrip("/")
    page.goto(petstore + "redoc")
    page.wait_for_selector("h2:has-text('Get Pet')")
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    assert netlog.failed(gate.origin) == [], netlog.summary()


def test_prefix_aware_app_needs_no_rewriting(
    page: Any, gate: Gate, apps: Apps, cluster: Cluster, netlog: NetworkLog
) -> None:
    """With rewriting off (``kubegate.io/rewrite: "false"``), FastAPI taking its root_path
    from X-Forwarded-Prefix still works under the prefix, "Try it out" included."""
    app = ForwardedPrefix(create_app())
    url = publish(
        gate, cluster, "aware", apps.asgi(app), annotations={"kubegate.io/rewrite": "false"}
    )
    prefix = urlsplit(url).path.rstrip("/")
    page.goto(url + "docs")
    op = page.locator(GET_PET)
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    op.locator("input[placeholder='pet_id']").fill("1")
    op.locator("button.execute").click()
    status = op.locator(".live-responses-table tbody .response-col_status").first
    assert status.text_content().strip() == "200"
    assert page.evaluate("window.__kubegateShim === undefined")
    assert netlog.outside(gate.origin, prefix + "/") == [], netlog.summary()
    assert netlog.failed(gate.origin) == [], netlog.summary()
