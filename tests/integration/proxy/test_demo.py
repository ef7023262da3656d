"""``kubegate serve --demo``: the demo services answer through the service proxy by the ids
the docs and ``cluster-info`` use (``echo:http``, ``https:secure-echo:``, ``webapp:http-web``)."""

from __future__ import annotations

import pytest

from integration.proxy.harness import Kubegate, Response, eventually, proxy_path, resolution_pending


@pytest.fixture(scope="module")
def demo(server) -> Kubegate:
    """The shared ``--demo`` server of the test session (tests/conftest.py)."""
    return Kubegate(server)


async def demo_get(demo: Kubegate, proxy_id: str, subpath: str = "/") -> Response:
    path = proxy_path("kube-system", "services", proxy_id, subpath)
    return await eventually(lambda: demo.request("GET", path), lambda r: not resolution_pending(r))


async def test_echo_answers_with_a_description_of_the_request(demo):
    """``echo:http`` describes the request it got: method, path and raw query."""
    response = await demo_get(demo, "echo:http", "/hello?x=1")
    assert response.status == 200
    doc = response.json()
    assert (doc["service"], doc["method"], doc["path"], doc["raw_query"]) == (
        "echo",
        "GET",
        "/hello",
        "x=1",
    )


async def test_secure_echo_is_reached_over_tls(demo):
    """``https:secure-echo:`` reaches the HTTPS echo, which reports the TLS connection."""
    response = await demo_get(demo, "https:secure-echo:", "/")
    assert response.status == 200
    doc = response.json()
    assert doc["service"] == "secure-echo"
    assert doc["tls"]


async def test_webapp_serves_its_page(demo):
    """``webapp:http-web`` answers GET / with its HTML page."""
    response = await demo_get(demo, "webapp:http-web", "/")
    assert response.status == 200
    assert response.header("content-type").startswith("text/html")
    assert b"<html" in response.body.lower()
