"""A backend presented at its own root: ``kubegate proxy --service`` in front of a real
``kubegate serve`` sends ``X-Kubegate-Rewrite: off``, so pages come back as the backend wrote
them at the local root, while the same Service through the prefixed proxy is still rewritten
and no client can switch off kubegate's cookie and sandbox protections
(proxy/rewrite.py, client/service_mode.py; docs/proxy.md "Rewriting", docs/client.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from integration.localproxy_harness import LocalProxyProcess, start_kubegate_proxy
from integration.proxy.harness import Backend, Backends, Cluster, Exchange, Port

PAGE = (
    b'<!DOCTYPE html><html><head><link rel="stylesheet" href="/style.css"></head>'
    b'<body><a href="/items/1">item</a><form action="/login"></form></body></html>'
)
HTML = ("Content-Type", "text/html; charset=utf-8")
DOCUMENT = [("Sec-Fetch-Dest", "document")]  # a navigation: the shim would be injected
SHIM_MARK = b"data-kubegate-prefix"


async def app(exchange: Exchange) -> None:
    """A small web app written for the root of its own host."""
    path = exchange.request.target.partition("?")[0]
    if path == "/page":
        cookies = [("Set-Cookie", "sid=abc; Path=/; HttpOnly")]
        await exchange.respond(200, [HTML, *cookies], PAGE)
    elif path == "/go":
        await exchange.respond(302, [("Location", "/landing")])
    elif path == "/go-absolute":  # a URL on the backend's own host, as kubegate addressed it
        host = exchange.request.header("host")
        await exchange.respond(302, [("Location", f"http://{host}/landing")])
    elif path == "/landing":
        await exchange.respond(200, [("Content-Type", "text/plain")], b"landed")
    elif path == "/tossing":
        cookies = [
            ("Set-Cookie", "__Host-kubegate_session=planted; Path=/; Secure"),
            ("Set-Cookie", "pref=1; Path=/; Domain=example.test"),
        ]
        await exchange.respond(200, [HTML, *cookies], PAGE)
    else:
        await exchange.respond(200, [("Content-Type", "text/plain")], b"ok")


@dataclass
class Site:
    cluster: Cluster
    backend: Backend
    local: LocalProxyProcess  # kubegate proxy --service NS/site:http

    @property
    def prefix(self) -> str:
        return self.cluster.path("services", "site:http", "")


@pytest.fixture
async def site(cluster: Cluster, backends: Backends) -> AsyncIterator[Site]:
    backend = await backends.http(app)
    await cluster.serve("site", Port(backend), annotations={"kubegate.io/sandbox": "allow-scripts"})
    local = start_kubegate_proxy(
        cluster.kg.process.kubeconfig,
        "--service",
        f"{cluster.namespace}/site:http",
        "--local-port",
        "0",
    )
    try:
        yield Site(cluster, backend, local)
    finally:
        assert local.stop() == 0


async def test_page_comes_back_unrewritten_at_the_local_root(site: Site) -> None:
    """Through service mode a navigated HTML page is the backend's bytes: no prefix, no shim."""
    response = await site.local.request("GET", "/page", DOCUMENT)
    assert response.status == 200, response
    assert response.body == PAGE
    assert SHIM_MARK not in response.body
    assert response.header("x-kubegate-rewrite") is None


async def test_cookie_path_is_the_local_root(site: Site) -> None:
    """A backend cookie with Path=/ reaches the local browser with Path=/ (HttpOnly kept)."""
    response = await site.local.request("GET", "/page", DOCUMENT)
    assert response.values("set-cookie") == ["sid=abc; Path=/; HttpOnly"]


@pytest.mark.parametrize("start", ["/go", "/go-absolute"])
async def test_redirect_lands_at_the_local_root(site: Site, start: str) -> None:
    """A backend redirect (root-relative or to its own URL) points at the local root and lands."""
    redirect = await site.local.request("GET", start)
    assert (redirect.status, redirect.header("location")) == (302, "/landing")
    landed = await site.local.request("GET", "/landing")
    assert (landed.status, landed.body) == (200, b"landed")


async def test_backend_sees_neither_the_instruction_nor_a_prefix(site: Site) -> None:
    """The backend gets no X-Kubegate-Rewrite and no X-Forwarded-Prefix in service mode."""
    assert (await site.local.request("GET", "/probe")).status == 200
    received = next(r for r in site.backend.requests if r.target == "/probe")
    assert received.header("x-kubegate-rewrite") is None
    assert received.header("x-forwarded-prefix") is None


async def test_prefixed_proxy_still_rewrites_the_same_page(site: Site) -> None:
    """Fetched through the prefixed service proxy, the page, its cookie and the shim are as before."""
    kg = site.cluster.kg
    response = await kg.request("GET", f"{site.prefix}/page", headers=DOCUMENT)
    assert response.status == 200, response
    assert f'<a href="{site.prefix}/items/1">'.encode() in response.body
    assert SHIM_MARK in response.body
    assert response.values("set-cookie") == [f"sid=abc; Path={site.prefix}/; HttpOnly"]
    received = next(r for r in site.backend.requests if r.target == "/page")
    assert received.header("x-forwarded-prefix") == site.prefix


async def test_instruction_keeps_cookie_and_sandbox_protections(site: Site) -> None:
    """X-Kubegate-Rewrite: off sent straight to kubegate still scopes cookies, drops Domain and
    kubegate's own cookies, and adds the sandbox policy."""
    kg = site.cluster.kg
    headers = [*DOCUMENT, ("X-Kubegate-Rewrite", "off")]
    response = await kg.request("GET", f"{site.prefix}/tossing", headers=headers)
    assert response.status == 200, response
    assert response.body == PAGE
    assert response.values("set-cookie") == [f"pref=1; Path={site.prefix}/"]
    assert response.header("content-security-policy") == "sandbox allow-scripts"


async def test_normal_local_proxy_passes_a_callers_instruction_on(site: Site) -> None:
    """Plain ``kubegate proxy`` relays a caller's X-Kubegate-Rewrite to kubegate, as kubectl would."""
    local = start_kubegate_proxy(site.cluster.kg.process.kubeconfig)
    try:
        headers = [*DOCUMENT, ("X-Kubegate-Rewrite", "off")]
        response = await local.request("GET", f"{site.prefix}/page", headers)
        assert (response.status, response.body) == (200, PAGE)
    finally:
        assert local.stop() == 0
