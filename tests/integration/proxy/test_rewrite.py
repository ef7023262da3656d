"""Response rewriting through a real ``kubegate serve`` and a loopback backend: HTML and CSS
under the prefix, content codings, cookies, CORS, CSP, the injected shim, annotations
(proxy/rewrite.py; docs/proxy.md, "Rewriting")."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import zlib
from collections.abc import Sequence

import brotli
import pytest

from integration.proxy.harness import Cluster, Exchange, Handler, Port, Response

PAGE = b'<!DOCTYPE html><html><head><title>t</title></head><body><a href="/x">x</a><a href="y">y</a></body></html>'


def serving(
    headers: Sequence[tuple[str, str]], body: bytes = PAGE, *, chunked: bool = False
) -> Handler:
    """A backend handler answering 200 with ``headers`` and ``body`` (chunked in 7 KiB pieces
    when asked, so the proxy streams it)."""

    async def handler(exchange: Exchange) -> None:
        if not chunked:
            await exchange.respond(200, headers, body)
            return
        await exchange.respond(200, [*headers, ("Transfer-Encoding", "chunked")])
        for i in range(0, len(body), 7000):
            piece = body[i : i + 7000]
            await exchange.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        await exchange.write(b"0\r\n\r\n")

    return handler


async def fetch(
    cluster: Cluster,
    backends,
    handler: Handler,
    *,
    annotations: dict[str, str] | None = None,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    subpath: str = "/page",
) -> tuple[Response, str]:
    """Publish ``handler`` as Service ``svc``, request ``subpath`` through the proxy; the
    response and the proxy prefix."""
    backend = await backends.http(handler)
    await cluster.serve("svc", Port(backend), annotations=annotations)
    path = cluster.path("services", "svc:http", subpath)
    response = await cluster.kg.request(method, path, headers=list(headers))
    return response, cluster.path("services", "svc:http", "")


HTML = [("Content-Type", "text/html; charset=utf-8")]
FETCH = [("Sec-Fetch-Dest", "empty")]  # as fetch() sends it: no shim injected


async def test_html_urls_move_under_the_prefix(cluster, backends):
    """A root-relative link gets the prefix; a relative one stays; the header says html."""
    response, prefix = await fetch(cluster, backends, serving(HTML), headers=FETCH)
    assert response.status == 200
    assert f'<a href="{prefix}/x">'.encode() in response.body
    assert b'<a href="y">' in response.body
    assert response.header("x-kubegate-rewrite") == "html"
    assert int(response.header("content-length") or -1) == len(response.body)


async def test_streamed_html_is_rewritten_whole(cluster, backends):
    """A large chunked page is rewritten throughout, tags cut between chunks included."""
    body = b"<html><body>" + b'<p>text</p><a href="/link">l</a>' * 20_000 + b"</body></html>"
    response, prefix = await fetch(
        cluster, backends, serving(HTML, body, chunked=True), headers=FETCH
    )
    assert response.status == 200
    assert response.body.count(f'<a href="{prefix}/link">'.encode()) == 20_000
    assert response.header("transfer-encoding") == "chunked"


@pytest.mark.parametrize(
    ("coding", "encode", "decode"),
    [
        ("gzip", gzip.compress, gzip.decompress),
        ("deflate", zlib.compress, zlib.decompress),
        ("br", brotli.compress, brotli.decompress),
    ],
)
async def test_compressed_html_is_decoded_and_reencoded(cluster, backends, coding, encode, decode):
    """gzip, deflate and br bodies are rewritten and sent back in the same coding."""
    body = PAGE * 3000
    headers = [*HTML, ("Content-Encoding", coding)]
    response, prefix = await fetch(
        cluster, backends, serving(headers, encode(body), chunked=True), headers=FETCH
    )
    assert response.header("content-encoding") == coding
    assert decode(response.body) == body.replace(b'href="/x"', f'href="{prefix}/x"'.encode())


async def test_css_urls_move_under_the_prefix(cluster, backends):
    """url() and @import in a stylesheet get the prefix."""
    css = b'@import "/base.css"; a { background: url(/bg.png) } b { background: url(x.png) }'
    response, prefix = await fetch(cluster, backends, serving([("Content-Type", "text/css")], css))
    assert (
        response.body
        == (
            f'@import "{prefix}/base.css"; a {{ background: url({prefix}/bg.png) }} b {{ background: url(x.png) }}'
        ).encode()
    )
    assert response.header("x-kubegate-rewrite") == "css"


async def test_etag_becomes_weak(cluster, backends):
    """A rewritten body's strong ETag is weakened; byte-range support is withdrawn."""
    headers = [*HTML, ("ETag", '"v1"'), ("Accept-Ranges", "bytes")]
    response, _ = await fetch(cluster, backends, serving(headers), headers=FETCH)
    assert response.header("etag") == 'W/"v1"'
    assert response.header("accept-ranges") is None


async def test_other_content_types_untouched(cluster, backends):
    """JSON and octet-stream bodies pass byte for byte, without the rewrite header."""
    body = b'{"href": "/x"}'
    response, _ = await fetch(
        cluster, backends, serving([("Content-Type", "application/json")], body)
    )
    assert response.body == body
    assert response.header("x-kubegate-rewrite") is None


async def test_set_cookie_scoped_to_the_prefix(cluster, backends):
    """Backend cookies get the prefix as Path and lose Domain; kubegate's own name is dropped."""
    headers = [
        *HTML,
        ("Set-Cookie", "app=1; Path=/; Domain=example.com; HttpOnly"),
        ("Set-Cookie", "other=2"),
        ("Set-Cookie", "__Host-kubegate_session=stolen; Path=/; Secure"),
    ]
    response, prefix = await fetch(cluster, backends, serving(headers), headers=FETCH)
    assert response.values("set-cookie") == [
        f"app=1; Path={prefix}/; HttpOnly",
        f"other=2; Path={prefix}/",
    ]


async def test_cookies_scoped_on_any_content_type(cluster, backends):
    """Cookie scoping does not depend on the body being rewritten."""
    headers = [("Content-Type", "application/json"), ("Set-Cookie", "t=1; Path=/api")]
    response, prefix = await fetch(cluster, backends, serving(headers, b"{}"))
    assert response.values("set-cookie") == [f"t=1; Path={prefix}/api"]


async def test_backend_cors_headers_removed(cluster, backends):
    """Access-Control-* from the backend never reach the browser."""
    headers = [
        *HTML,
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Expose-Headers", "X-Secret"),
        ("Access-Control-Max-Age", "600"),
    ]
    response, _ = await fetch(cluster, backends, serving(headers), headers=FETCH)
    assert not [name for name, _ in response.headers if name.startswith("access-control-")]


def _injected(body: bytes) -> tuple[str, bytes] | None:
    """The injected script's prefix attribute and text, if there is one."""
    found = re.search(
        rb'<script data-kubegate-prefix="([^"]*)"(?: data-kubegate-csp="[a-z]*")?>(.*?)</script>',
        body,
        re.DOTALL,
    )
    return (found.group(1).decode(), found.group(2)) if found else None


async def test_shim_injected_into_documents(cluster, backends):
    """A navigation to an HTML page gets the shim right after <head>, carrying the prefix."""
    response, prefix = await fetch(
        cluster, backends, serving(HTML), headers=[("Sec-Fetch-Dest", "document")]
    )
    injected = _injected(response.body)
    assert injected is not None and injected[0] == prefix
    assert response.body.index(b"<head><script data-kubegate-prefix=") > 0
    assert b"__kubegateShim" in injected[1]


async def test_no_shim_for_fetched_html(cluster, backends):
    """HTML loaded by fetch()/XHR (Sec-Fetch-Dest: empty) is rewritten but gets no script."""
    response, _ = await fetch(cluster, backends, serving(HTML), headers=FETCH)
    assert _injected(response.body) is None


async def test_csp_allows_exactly_the_injected_script(cluster, backends):
    """The backend's CSP gets the injected script's hash in script-src; other directives stay."""
    csp = "default-src 'self'; script-src 'self' 'nonce-abc'; img-src https:"
    response, _ = await fetch(cluster, backends, serving([*HTML, ("Content-Security-Policy", csp)]))
    injected = _injected(response.body)
    assert injected is not None
    assert b'data-kubegate-csp="inline"' in response.body  # the shim leaves a hashed map alone
    digest = base64.b64encode(hashlib.sha256(injected[1]).digest()).decode()
    assert response.header("content-security-policy") == (
        f"default-src 'self'; script-src 'self' 'nonce-abc' 'sha256-{digest}'; img-src https:"
    )


async def test_sandbox_annotation_adds_policy(cluster, backends):
    """kubegate.io/sandbox adds a sandbox CSP after the backend's own headers."""
    annotations = {"kubegate.io/sandbox": "allow-scripts allow-forms"}
    response, _ = await fetch(
        cluster, backends, serving(HTML), annotations=annotations, headers=FETCH
    )
    assert "sandbox allow-scripts allow-forms" in response.values("content-security-policy")


async def test_rewrite_false_annotation_relays_untouched(cluster, backends):
    """kubegate.io/rewrite: "false" relays body and cookies as the backend sent them."""
    headers = [*HTML, ("Set-Cookie", "app=1; Path=/")]
    annotations = {"kubegate.io/rewrite": "false"}
    response, _ = await fetch(cluster, backends, serving(headers), annotations=annotations)
    assert response.body == PAGE
    assert response.values("set-cookie") == ["app=1; Path=/"]
    assert response.header("x-kubegate-rewrite") is None


async def test_shim_false_annotation_rewrites_without_script(cluster, backends):
    """kubegate.io/shim: "false" keeps rewriting but injects nothing."""
    annotations = {"kubegate.io/shim": "false"}
    response, prefix = await fetch(cluster, backends, serving(HTML), annotations=annotations)
    assert _injected(response.body) is None
    assert f'href="{prefix}/x"'.encode() in response.body


async def test_head_gets_the_fields_of_the_rewritten_get(cluster, backends):
    """A HEAD of a page a GET would rewrite gets the GET's fields (RFC 9110 §9.3.2): the weak
    ETag, the rewrite header, no byte ranges — and no Content-Length, since the rewritten
    length is not known (§8.6)."""
    headers = [*HTML, ("ETag", '"v1"'), ("Accept-Ranges", "bytes")]
    head, prefix = await fetch(cluster, backends, serving(headers), method="HEAD", headers=FETCH)
    get = await cluster.kg.request("GET", f"{prefix}/page", headers=FETCH)
    assert head.status == get.status == 200
    assert head.body == b""
    assert head.header("etag") == get.header("etag") == 'W/"v1"'
    assert head.header("x-kubegate-rewrite") == get.header("x-kubegate-rewrite") == "html"
    assert head.header("accept-ranges") is None
    assert head.header("content-length") is None


async def test_head_gets_the_csp_of_the_get_that_injects_the_shim(cluster, backends):
    """A page load's HEAD carries the CSP the GET has: the injected shim's hash added."""
    headers = [*HTML, ("Content-Security-Policy", "script-src 'self'")]
    head, prefix = await fetch(cluster, backends, serving(headers), method="HEAD")
    get = await cluster.kg.request("GET", f"{prefix}/page")
    csp = get.header("content-security-policy")
    assert csp is not None and csp != "script-src 'self'"
    assert head.header("content-security-policy") == csp


async def test_head_of_a_body_that_is_not_rewritten_keeps_its_length(cluster, backends):
    """A HEAD of a page a GET would not rewrite (no-transform) keeps the backend's fields."""
    headers = [*HTML, ("ETag", '"v1"'), ("Cache-Control", "no-transform")]
    response, _ = await fetch(cluster, backends, serving(headers), method="HEAD")
    assert response.header("etag") == '"v1"'
    assert response.header("content-length") == str(len(PAGE))
    assert response.header("x-kubegate-rewrite") == "skipped-no-transform"


async def test_unknown_coding_passes_unrewritten(cluster, backends):
    """A body in a coding kubegate cannot decode is relayed as is, and the header says so."""
    body = b"\x28\xb5\x2f\xfd not really zstd"
    headers = [*HTML, ("Content-Encoding", "zstd")]
    response, _ = await fetch(cluster, backends, serving(headers, body))
    assert response.body == body
    assert response.header("x-kubegate-rewrite") == "skipped-encoding"


async def test_no_transform_respected(cluster, backends):
    """Cache-Control: no-transform keeps the body exactly as the backend sent it."""
    headers = [*HTML, ("Cache-Control", "public, no-transform")]
    response, _ = await fetch(cluster, backends, serving(headers))
    assert response.body == PAGE
    assert response.header("x-kubegate-rewrite") == "skipped-no-transform"


async def test_corrupt_gzip_is_bad_gateway(cluster, backends):
    """A body that is not the gzip it claims to be ends as 502, not as garbage."""
    headers = [*HTML, ("Content-Encoding", "gzip")]
    response, _ = await fetch(cluster, backends, serving(headers, b"this is not gzip"))
    assert response.status == 502


@pytest.mark.parametrize("destination", [FETCH, [("Sec-Fetch-Dest", "document")]])
async def test_pages_vary_on_the_fetch_destination(cluster, backends, destination):
    """A page that may get the shim says it varies by Sec-Fetch-Dest and Sec-CH-UA, whichever
    copy this is (a cache must not answer a navigation with a fetch()'s unshimmed copy, nor
    one browser with the import map meant for another)."""
    response, _ = await fetch(cluster, backends, serving(HTML), headers=destination)
    assert response.status == 200
    varies = [v for n, v in response.headers if n.lower() == "vary"]
    assert varies == ["Sec-Fetch-Dest, Sec-CH-UA"]


async def test_no_vary_when_the_service_opts_out_of_the_shim(cluster, backends):
    """Without the shim nothing depends on the destination: no Vary is added."""
    response, _ = await fetch(
        cluster, backends, serving(HTML), annotations={"kubegate.io/shim": "false"}
    )
    assert response.status == 200
    assert not [v for n, v in response.headers if n.lower() == "vary"]
