"""The rewrite memo (proxy/rewrite_memo.py) through a real ``kubegate serve`` and a loopback
backend: a repeated page is answered from the memo, byte for byte what the rewrite sent,
a changed page is rewritten anew; the server's /metrics counts hits and misses."""

from __future__ import annotations

import gzip
import re

from integration.proxy.harness import (
    Backends,
    Cluster,
    Exchange,
    Handler,
    Port,
    Response,
    cluster_fixture,
    kubegate_fixture,
)
from integration.proxy.test_rewrite import HTML, serving

# Longer than the 64 KiB a small body may be (so only a declared length takes it whole),
# shorter than the memo's 1 MiB per entry.
PAGE = b"<!DOCTYPE html><html><head></head><body>" + b'<p><a href="/docs/x">x</a></p>\n' * 6000
LOOKUPS = re.compile(
    rb'^kubegate_proxy_rewrite_memo_lookups_total\{result="(hit|miss)"\} (\S+)$', re.M
)

kg_no_memo = kubegate_fixture(
    "--proxy-allow-cidrs", "127.0.0.0/8", "--proxy-rewrite-memo-bytes", "0"
)
cluster_no_memo = cluster_fixture("kg_no_memo")


async def lookups(cluster: Cluster) -> dict[str, float]:
    """The memo's hit and miss counters from the server's /metrics."""
    response = await cluster.kg.request("GET", "/metrics")
    assert response.status == 200
    return {name.decode(): float(value) for name, value in LOOKUPS.findall(response.body)}


async def publish(cluster: Cluster, backends: Backends, handler: Handler) -> str:
    """Publish ``handler`` as Service ``svc``; the proxy path of its ``/page``."""
    backend = await backends.http(handler)
    await cluster.serve("svc", Port(backend))
    return cluster.path("services", "svc:http", "/page")


async def get_twice(cluster: Cluster, path: str) -> tuple[Response, Response]:
    first = await cluster.kg.request("GET", path)
    return first, await cluster.kg.request("GET", path)


async def test_repeated_page_is_served_from_the_memo(cluster, backends):
    """The second request for the same 190 KiB page is a hit with the same bytes and length."""
    path = await publish(cluster, backends, serving(HTML, PAGE))
    await cluster.kg.request("GET", path)  # its first rewrite (the shim is injected)
    before = await lookups(cluster)
    first, second = await get_twice(cluster, path)
    after = await lookups(cluster)
    prefix = cluster.path("services", "svc:http", "")
    assert first.body == second.body
    assert second.body.count(f'href="{prefix}/docs/x"'.encode()) == 6000
    assert second.header("content-length") == str(len(second.body))
    assert after["hit"] - before["hit"] == 2 and after["miss"] == before["miss"]


async def test_changed_page_is_rewritten_anew(cluster, backends):
    """A page that changes between requests misses the memo and comes back rewritten new."""
    served = 0

    async def handler(exchange: Exchange) -> None:
        nonlocal served
        served += 1
        body = PAGE.replace(b"/docs/x", b"/docs/%d" % served, 1)
        await exchange.respond(200, HTML, body)

    path = await publish(cluster, backends, handler)
    before = await lookups(cluster)
    first, second = await get_twice(cluster, path)
    after = await lookups(cluster)
    prefix = cluster.path("services", "svc:http", "")
    assert f'href="{prefix}/docs/1"'.encode() in first.body
    assert f'href="{prefix}/docs/2"'.encode() in second.body
    assert after["miss"] - before["miss"] == 2 and after["hit"] == before["hit"]


async def test_gzip_page_is_served_from_the_memo(cluster, backends):
    """A repeated gzip page is a hit: the same re-encoded bytes, decoding to the rewrite."""
    headers = [*HTML, ("Content-Encoding", "gzip")]
    path = await publish(cluster, backends, serving(headers, gzip.compress(PAGE)))
    before = await lookups(cluster)
    first, second = await get_twice(cluster, path)
    after = await lookups(cluster)
    prefix = cluster.path("services", "svc:http", "")
    assert second.header("content-encoding") == "gzip" and first.body == second.body
    assert gzip.decompress(second.body).count(f'href="{prefix}/docs/x"'.encode()) == 6000
    assert (after["miss"] - before["miss"], after["hit"] - before["hit"]) == (1, 1)


async def test_chunked_page_streams_without_a_lookup(cluster, backends):
    """A page without a declared length streams as before and never touches the memo."""
    path = await publish(cluster, backends, serving(HTML, PAGE, chunked=True))
    before = await lookups(cluster)
    first, second = await get_twice(cluster, path)
    after = await lookups(cluster)
    assert first.body == second.body and second.header("content-length") is None
    assert after == before


async def test_memo_off_still_rewrites_and_exports_nothing(cluster_no_memo, backends):
    """With --proxy-rewrite-memo-bytes 0 the page is rewritten each time and /metrics has no
    memo counters."""
    path = await publish(cluster_no_memo, backends, serving(HTML, PAGE))
    first, second = await get_twice(cluster_no_memo, path)
    prefix = cluster_no_memo.path("services", "svc:http", "")
    assert first.body == second.body
    assert second.body.count(f'href="{prefix}/docs/x"'.encode()) == 6000
    assert await lookups(cluster_no_memo) == {}
