"""How a rewritten body streams through a real ``kubegate serve`` (proxy/rewrite_stream.py,
``_Output``): what is ready goes out while the backend is still sending, and a burst of
small reads from the backend goes out as a few large chunks."""

from __future__ import annotations

import asyncio

from integration.proxy.backends import Exchange
from integration.proxy.client import request_bytes
from integration.proxy.harness import Port

HTML = [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")]
FETCH = [("Sec-Fetch-Dest", "empty")]  # as fetch() sends it: no shim injected
WAIT = 10.0


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def test_first_part_arrives_before_the_backend_sends_the_rest(cluster, backends):
    """The rewritten start of a page reaches the client while the backend holds the rest
    back (it sends the rest only once the client has seen the start)."""
    seen_start = asyncio.Event()

    async def handler(exchange: Exchange) -> None:
        await exchange.respond(200, HTML)
        await exchange.write(chunk(b'<html><body><a href="/first">1</a>'))
        async with asyncio.timeout(WAIT):  # a proxy that buffers fails the test here
            await seen_start.wait()
        await exchange.write(chunk(b'<a href="/second">2</a></body></html>') + b"0\r\n\r\n")

    backend = await backends.http(handler)
    await cluster.serve("svc", Port(backend))
    prefix = cluster.path("services", "svc:http", "")
    received = b""
    async with asyncio.timeout(WAIT), await cluster.kg.connect() as conn:
        target = cluster.path("services", "svc:http", "/page")
        await conn.send(
            request_bytes("GET", target, cluster.kg.netloc, [cluster.kg.bearer, *FETCH])
        )
        head = await conn.read_head()
        async for piece in conn.iter_body(head):
            received += piece
            if f'href="{prefix}/first"'.encode() in received:
                seen_start.set()
    assert seen_start.is_set()
    assert f'<a href="{prefix}/second">2</a></body></html>'.encode() in received


async def test_burst_of_small_reads_leaves_in_large_chunks(cluster, backends):
    """A page the backend sends at once in 4 KiB chunks is rewritten and sent on in a few
    large chunks (not one per backend chunk)."""
    page = b'<p>text</p><a href="/link">l</a>' * 8_000  # 256 KiB
    pieces = [page[i : i + 4096] for i in range(0, len(page), 4096)]

    async def handler(exchange: Exchange) -> None:
        await exchange.respond(200, HTML)
        await exchange.write(b"".join(map(chunk, pieces)) + b"0\r\n\r\n")

    backend = await backends.http(handler)
    await cluster.serve("svc", Port(backend))
    prefix = cluster.path("services", "svc:http", "")
    async with asyncio.timeout(WAIT), await cluster.kg.connect() as conn:
        target = cluster.path("services", "svc:http", "/page")
        await conn.send(
            request_bytes("GET", target, cluster.kg.netloc, [cluster.kg.bearer, *FETCH])
        )
        head = await conn.read_head()
        received = [piece async for piece in conn.iter_body(head)]
    assert b"".join(received).count(f'<a href="{prefix}/link">'.encode()) == 8_000
    assert len(received) <= len(pieces) // 4
