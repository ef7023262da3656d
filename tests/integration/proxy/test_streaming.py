"""Bodies stream through the proxy both ways: events arrive as they are sent, large transfers
do not grow the server's memory, a slow reader holds the backend back, and a backend dying
mid-stream cuts the response short without hurting the server (security.md A37, A38)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import AsyncIterator

import pytest

from integration.proxy.harness import (
    Cluster,
    Connection,
    Exchange,
    Handler,
    Kubegate,
    Port,
    Response,
    request_bytes,
)

MIB = 1 << 20
RSS_GROWTH_LIMIT_KIB = 50 * 1024
BLOCK = bytes(range(256)) * 4096  # 1 MiB


class Gate:
    """Lets the test release a backend one step at a time."""

    def __init__(self) -> None:
        self._steps = asyncio.Semaphore(0)

    def release(self) -> None:
        self._steps.release()

    async def wait(self) -> None:
        await self._steps.acquire()


def gated_stream(gate: Gate, pieces: list[bytes], content_type: str, sent: list[int]) -> Handler:
    """A chunked response that sends each piece only once the gate is released."""

    async def handler(exchange: Exchange) -> None:
        await exchange.respond(
            200,
            [
                ("Content-Type", content_type),
                ("Cache-Control", "no-cache"),
                ("Transfer-Encoding", "chunked"),
            ],
        )
        for index, piece in enumerate(pieces):
            await gate.wait()
            await exchange.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent.append(index)
        await exchange.write(b"0\r\n\r\n")

    return handler


async def open_stream(cluster: Cluster, subpath: str) -> tuple[Connection, Response]:
    """Start a proxied GET on a raw connection; return the connection and the response head."""
    conn = await cluster.kg.connect()
    target = cluster.path("services", "svc", subpath)
    await conn.send(request_bytes("GET", target, cluster.kg.netloc, [cluster.kg.bearer]))
    return conn, await asyncio.wait_for(conn.read_head(), 10)


async def test_server_sent_events_arrive_one_by_one(cluster, backends):
    """Each event reaches the client before the backend is allowed to send the next one."""
    gate, sent = Gate(), []
    events = [b"id: %d\ndata: event %d\n\n" % (i, i) for i in range(4)]
    backend = await backends.http(gated_stream(gate, events, "text/event-stream", sent))
    await cluster.serve("svc", Port(backend))
    conn, head = await open_stream(cluster, "/events")
    async with conn:
        assert head.status == 200
        assert head.header("content-type") == "text/event-stream"
        pieces = conn.iter_body(head)
        received = b""
        for index, event in enumerate(events):
            gate.release()
            while event not in received:
                received += await asyncio.wait_for(anext(pieces), 5)
            assert sent == list(range(index + 1))  # the next event is still held back
        await pieces.aclose()


async def test_chunked_response_is_streamed_not_buffered(cluster, backends):
    """Chunks of a non-event-stream response are relayed as they come, not at the end."""
    gate, sent = Gate(), []
    chunks = [b"chunk-%d;" % i * 100 for i in range(3)]
    backend = await backends.http(gated_stream(gate, chunks, "application/octet-stream", sent))
    await cluster.serve("svc", Port(backend))
    conn, head = await open_stream(cluster, "/download")
    async with conn:
        pieces = conn.iter_body(head)
        received = b""
        for index, chunk in enumerate(chunks):
            gate.release()
            while chunk not in received:
                received += await asyncio.wait_for(anext(pieces), 5)
            assert sent == list(range(index + 1))
        gate.release()
        rest = b"".join([piece async for piece in pieces])
    assert received + rest == b"".join(chunks)


# -- large transfers ------------------------------------------------------------------------


class RssSampler:
    """Samples the server's resident memory while a transfer runs; ``growth_kib`` is the peak
    above the level before it started."""

    def __init__(self, kg: Kubegate) -> None:
        self.kg = kg
        self.baseline = kg.rss_kib()
        self.peak = self.baseline
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.kg.rss_kib())
            await asyncio.sleep(0.01)

    async def __aenter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._run(), name="rss-sampler")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak = max(self.peak, self.kg.rss_kib())

    @property
    def growth_kib(self) -> int:
        return self.peak - self.baseline


def large_download(size: int) -> Handler:
    async def handler(exchange: Exchange) -> None:
        await exchange.respond(
            200, [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
        )
        for _ in range(size // MIB):
            await exchange.write(BLOCK)

    return handler


async def receipt(exchange: Exchange) -> None:
    """Answer with the length and digest of the request body the backend received."""
    request = exchange.request
    await exchange.respond(200, [], f"{request.body_length} {request.body_sha256}".encode())


SIZES = [128 * MIB, pytest.param(1024 * MIB, marks=pytest.mark.slow, id="1GiB")]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s // MIB}MiB")
async def test_large_download_streams_in_bounded_memory(cluster, backends, size):
    """A large response arrives whole while the server's RSS grows less than 50 MiB."""
    backend = await backends.http(large_download(size))
    await cluster.serve("svc", Port(backend))
    async with RssSampler(cluster.kg) as rss:
        conn, head = await open_stream(cluster, "/big")
        async with conn:
            received = 0
            async for piece in conn.iter_body(head):
                received += len(piece)
    assert received == size
    assert rss.growth_kib < RSS_GROWTH_LIMIT_KIB, rss.growth_kib


async def upload_body(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // MIB):
        yield BLOCK


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s // MIB}MiB")
async def test_large_upload_streams_in_bounded_memory(cluster, backends, size):
    """A large request body reaches the backend intact while RSS grows less than 50 MiB."""
    backend = await backends.http(receipt)
    await cluster.serve("svc", Port(backend))
    digest = hashlib.sha256()
    async with RssSampler(cluster.kg) as rss:
        conn = await cluster.kg.connect()
        async with conn:
            target = cluster.path("services", "svc", "/upload")
            head = request_bytes(
                "PUT", target, cluster.kg.netloc, [cluster.kg.bearer, ("Content-Length", str(size))]
            )
            await conn.send(head)
            async for block in upload_body(size):
                digest.update(block)
                await conn.send(block)
            response = await asyncio.wait_for(conn.read_response(), 30)
    assert response.status == 200
    assert response.body.decode() == f"{size} {digest.hexdigest()}"
    assert rss.growth_kib < RSS_GROWTH_LIMIT_KIB, rss.growth_kib


async def test_chunked_upload_is_forwarded_whole(cluster, backends):
    """A chunked request body of unknown length reaches the backend byte for byte."""
    backend = await backends.http(receipt)
    await cluster.serve("svc", Port(backend))
    data = BLOCK * 8
    chunked = (
        b"".join(
            b"%x\r\n%s\r\n" % (len(piece), piece) for piece in (data[:3], data[3:MIB], data[MIB:])
        )
        + b"0\r\n\r\n"
    )
    response = await cluster.kg.request(
        "POST",
        cluster.path("services", "svc", "/c"),
        headers=[("Transfer-Encoding", "chunked")],
        body=chunked,
    )
    assert response.status == 200
    assert response.body.decode() == f"{len(data)} {hashlib.sha256(data).hexdigest()}"


def endless(sent: list[int]) -> Handler:
    """Writes 1 MiB blocks until the connection is gone, counting what drained."""

    async def handler(exchange: Exchange) -> None:
        await exchange.respond(
            200, [("Content-Type", "application/octet-stream"), ("Content-Length", str(1 << 40))]
        )
        while True:
            await exchange.write(BLOCK)
            sent[0] += MIB

    return handler


async def test_slow_reader_holds_the_backend_back(cluster, backends):
    """A client that stops reading stops the backend too: nothing piles up in the server (A37)."""
    sent = [0]
    backend = await backends.http(endless(sent))
    await cluster.serve("svc", Port(backend))
    async with RssSampler(cluster.kg) as rss:
        conn, _head = await open_stream(cluster, "/forever")
        async with conn:
            await conn.reader.readexactly(MIB)
            last, still_since = -1, asyncio.get_running_loop().time()
            async with asyncio.timeout(20):
                while asyncio.get_running_loop().time() - still_since < 1.0:
                    if sent[0] != last:
                        last, still_since = sent[0], asyncio.get_running_loop().time()
                    await asyncio.sleep(0.05)
    assert sent[0] < 64 * MIB
    assert rss.growth_kib < RSS_GROWTH_LIMIT_KIB, rss.growth_kib


async def test_client_leaving_mid_stream_closes_the_backend_connection(cluster, backends):
    """When the client disconnects during a response, the backend connection is closed (A38)."""
    sent = [0]
    backend = await backends.http(endless(sent))
    await cluster.serve("svc", Port(backend))
    conn, _head = await open_stream(cluster, "/forever")
    await conn.reader.readexactly(MIB)
    conn.writer.transport.abort()
    request = backend.requests[0]
    await backend.wait_for(lambda: backend.connection_ended(request), within=3)


def quiet_after_one_event() -> Handler:
    """Sends one event, then stays silent until the proxy closes the connection."""

    async def handler(exchange: Exchange) -> None:
        await exchange.respond(
            200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]
        )
        await exchange.write(b"%x\r\n%s\r\n" % (len(b"data: 1\n\n"), b"data: 1\n\n"))
        while await exchange.reader.read(65536):
            pass

    return handler


async def test_client_leaving_an_idle_stream_closes_the_backend_connection(cluster, backends):
    """A client leaving while the stream is quiet has its backend connection closed (A38)."""
    backend = await backends.http(quiet_after_one_event())
    await cluster.serve("svc", Port(backend))
    conn, head = await open_stream(cluster, "/events")
    await asyncio.wait_for(anext(conn.iter_body(head)), 5)
    conn.writer.transport.abort()
    request = backend.requests[0]
    await backend.wait_for(lambda: backend.connection_ended(request), within=3)


# -- a backend dying mid-stream -----------------------------------------------------------------


def dying(framing: str, gate: Gate) -> Handler:
    """Sends 1 MiB of an 8 MiB response, waits for the gate, then resets the connection."""

    async def handler(exchange: Exchange) -> None:
        if framing == "length":
            await exchange.respond(200, [("Content-Length", str(8 * MIB))])
            await exchange.write(BLOCK)
        else:
            await exchange.respond(200, [("Transfer-Encoding", "chunked")])
            await exchange.write(b"%x\r\n%s\r\n" % (MIB, BLOCK))
        await gate.wait()
        exchange.reset()

    return handler


async def cut_short(cluster: Cluster, gate: Gate) -> int:
    """GET a dying backend, let it die once the response started; return the body bytes
    received before the response was cut short."""
    conn, head = await open_stream(cluster, "/dies")
    async with conn:
        assert head.status == 200
        gate.release()
        received = 0
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError, ssl.SSLError)):
            async with asyncio.timeout(10):
                async for piece in conn.iter_body(head):
                    received += len(piece)
    return received


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_backend_dying_mid_stream_cuts_the_response_short(cluster, backends, framing):
    """The client sees an incomplete body, never a complete one or a second head (A38)."""
    gate = Gate()
    backend = await backends.http(dying(framing, gate))
    await cluster.serve("svc", Port(backend))
    assert await cut_short(cluster, gate) <= MIB
    after = await cluster.get("services", "svc", "/__ready")
    assert after.status == 204


async def test_backends_dying_mid_stream_leak_no_file_descriptors(cluster, backends):
    """Fifty responses cut short leave the server's open descriptors where they were."""
    gate = Gate()
    backend = await backends.http(dying("length", gate))
    await cluster.serve("svc", Port(backend))
    await cut_short(cluster, gate)
    before = cluster.kg.fd_count()
    for _ in range(50):
        await cut_short(cluster, gate)
    await cluster.wait_ready("services", "svc:http")
    assert cluster.kg.fd_count() - before <= 5
