"""304 Not Modified through the rewriting proxy: it carries the weak ETag its rewritten 200 had,
so a revalidated cached copy keeps a validator that matches its (rewritten) bytes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from integration.proxy.harness import Exchange, Handler
from integration.proxy.test_rewrite import HTML, PAGE, fetch

PNG = [("Content-Type", "image/png")]
# A 304 of Go's http.ServeContent: no Content-Type, Content-Length or Content-Encoding.
BARE: list[tuple[str, str]] = []


def revalidating(
    ok_headers: Sequence[tuple[str, str]], not_modified_headers: Sequence[tuple[str, str]]
) -> Handler:
    """A backend with one resource, ETag ``"v1"``: 304 when ``If-None-Match`` names it (weak
    comparison, as RFC 9110 §13.1.2 asks), 200 otherwise."""

    async def handler(exchange: Exchange) -> None:
        tags = re.findall(r'(?:W/)?"([^"]*)"', exchange.request.header("if-none-match") or "")
        if "v1" in tags:
            await exchange.respond(304, [*not_modified_headers, ("ETag", '"v1"')])
        else:
            await exchange.respond(200, [*ok_headers, ("ETag", '"v1"')], PAGE)

    return handler


async def test_a_304_for_a_rewritten_page_gets_the_weak_etag_of_its_200(cluster, backends):
    """The 200 of an HTML page says W/"v1"; revalidating with it, the 304 says W/"v1" too."""
    handler = revalidating(HTML, HTML)
    first, _ = await fetch(cluster, backends, handler)
    assert first.status == 200 and first.header("etag") == 'W/"v1"'
    again = await cluster.kg.request(
        "GET", cluster.path("services", "svc:http", "/page"), headers=[("If-None-Match", 'W/"v1"')]
    )
    assert again.status == 304
    assert again.header("etag") == 'W/"v1"'
    assert again.header("x-kubegate-rewrite") is None


async def test_a_304_without_content_type_follows_the_clients_weak_validator(cluster, backends):
    """A 304 with no Content-Type (Go's ServeContent) is weakened when the client revalidates
    the weak tag it got from a rewritten 200."""
    handler = revalidating(HTML, BARE)
    response, _ = await fetch(cluster, backends, handler, headers=[("If-None-Match", 'W/"v1"')])
    assert response.status == 304
    assert response.header("etag") == 'W/"v1"'


async def test_a_304_without_content_type_for_a_strong_validator_stays_strong(cluster, backends):
    """A client revalidating a strong tag (an unrewritten copy) gets the strong tag back."""
    handler = revalidating(PNG, BARE)
    response, _ = await fetch(cluster, backends, handler, headers=[("If-None-Match", '"v1"')])
    assert response.status == 304
    assert response.header("etag") == '"v1"'


async def test_a_304_for_a_type_that_is_not_rewritten_stays_strong(cluster, backends):
    """An image's 304 keeps the backend's strong ETag, as its 200 did."""
    handler = revalidating(PNG, PNG)
    response, _ = await fetch(cluster, backends, handler, headers=[("If-None-Match", '"v1"')])
    assert response.status == 304
    assert response.header("etag") == '"v1"'


async def test_a_304_of_a_service_that_turned_rewriting_off_stays_strong(cluster, backends):
    """With kubegate.io/rewrite: "false" the 200 keeps "v1", and so does its 304."""
    handler = revalidating(HTML, HTML)
    response, _ = await fetch(
        cluster,
        backends,
        handler,
        annotations={"kubegate.io/rewrite": "false"},
        headers=[("If-None-Match", '"v1"')],
    )
    assert response.status == 304
    assert response.header("etag") == '"v1"'
