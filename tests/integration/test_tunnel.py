"""Upgrades and the byte tunnel over real sockets (security.md §2.2, A1, A2, A26).

``UpstreamPool.upgrade`` hands over a 101 connection or closes it; ``tunnel`` pumps bytes
between two detached transports with back-pressure, half-close and teardown. Every scenario
runs on asyncio's loop and on uvloop and fails if it leaves a task behind.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets
from aiohttp import WSMsgType, web
from test_http_client_support import (
    LOOPS,
    Certificates,
    Scenario,
    aiohttp_backend,
    answer_each,
    at_eof,
    loop_runner,
    make_certificates,
    raw_backend,
    read_request_head,
    upstream_pool,
    wait_until,
)

from kubegate.http import HTTPServer, Request, ResponseWriter, UpstreamTarget, tunnel
from kubegate.http.client import INSECURE_CONTEXT

MiB = 1 << 20
WS_KEY = base64.b64encode(b"0123456789abcdef").decode()
UPGRADE_HEADERS = [
    ("Host", "backend.test"),
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Key", WS_KEY),
    ("Sec-WebSocket-Version", "13"),
]


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    return loop_runner(request)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates("front.test", Path(tmp_path_factory.mktemp("tunnel-tls")))


def local(port: int) -> UpstreamTarget:
    return UpstreamTarget("127.0.0.1", port)


def websocket_echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str("echo: " + message.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    return app


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked


class Collector(asyncio.Protocol):
    """Gathers what a transport receives."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.eof = False

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.eof = True
        return False


# -- upgrade ------------------------------------------------------------------------------------


def test_upgrade_to_a_websocket_backend_returns_101_and_a_live_transport(run):
    """A 101 from a real WebSocket server hands over a transport that speaks WebSocket."""

    async def scenario():
        async with aiohttp_backend(websocket_echo_app()) as port, upstream_pool() as pool:
            result = await pool.upgrade(local(port), "GET", "/ws", UPGRADE_HEADERS)
            assert result.status == 101
            assert ("upgrade", "websocket") in result.headers
            assert result.transport is not None
            collector = Collector()
            result.transport.set_protocol(collector)
            result.transport.resume_reading()
            result.transport.write(masked_text_frame("hi"))
            expected = b"\x81\x08echo: hi"
            await wait_until(lambda: bytes(collector.data) == result.buffered + expected)
            result.transport.close()
            assert pool.stats().idle == 0  # never pooled

    run(scenario)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request",
        b"HTTP/1.1 302 Found\r\nLocation: https://evil.example/\r\nContent-Length: 5\r\n\r\nmoved",
    ],
    ids=["400", "302"],
)
def test_non_101_answer_closes_the_backend_connection(run, answer):
    """A refused upgrade returns the answer without a transport, and the backend sees EOF
    (CVE-2018-1002105: the connection is never left open for a second request)."""

    async def scenario():
        eof: list[bool] = []

        async def refuse(reader, writer):
            await read_request_head(reader)
            writer.write(answer)
            eof.append(await at_eof(reader))

        async with raw_backend(refuse) as backend, upstream_pool() as pool:
            result = await pool.upgrade(local(backend.port), "GET", "/ws", UPGRADE_HEADERS)
            assert result.transport is None
            assert result.status in (400, 302)
            assert result.body == answer.partition(b"\r\n\r\n")[2]
            await wait_until(lambda: eof == [True])
            assert pool.stats().idle == 0

    run(scenario)


def test_upgrade_uses_a_fresh_connection_never_pooled(run):
    """An idle keep-alive connection is not used for an upgrade (A26)."""

    async def scenario():
        async def switch_or_answer(reader, writer):
            request = await read_request_head(reader)
            if "upgrade" in request.headers:
                writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
                await reader.read()
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await answer_each(reader, writer)

        async with raw_backend(switch_or_answer) as backend, upstream_pool() as pool:
            target = local(backend.port)
            await (await pool.request(target, "GET", "/", [("Host", "b")])).aclose()
            assert pool.stats(target).idle == 1
            result = await pool.upgrade(target, "GET", "/ws", UPGRADE_HEADERS)
            assert result.status == 101
            assert backend.accepted == 2
            assert pool.stats(target).idle == 1  # the upgraded one is not the pool's
            assert result.transport is not None
            result.transport.close()

    run(scenario)


def test_upgrade_with_a_body_is_refused_before_connecting(run):
    """An upgrade request never carries a body (nghttpx CVE-2026-58055)."""

    async def scenario():
        async with raw_backend(answer_each) as backend, upstream_pool() as pool:
            with pytest.raises(ValueError):
                await pool.upgrade(local(backend.port), "GET", "/", UPGRADE_HEADERS, b"body")
            assert backend.accepted == 0

    run(scenario)


def test_bytes_after_the_101_head_are_handed_over(run):
    """What the backend sends right behind its 101 head comes back as ``buffered``."""

    async def scenario():
        async def switch_and_greet(reader, writer):
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\ngreeting")
            await reader.read()

        async with raw_backend(switch_and_greet) as backend, upstream_pool() as pool:
            result = await pool.upgrade(local(backend.port), "GET", "/", UPGRADE_HEADERS)
            await asyncio.sleep(0.05)  # anything still arriving waits in the paused transport
            assert result.transport is not None
            collector = Collector()
            result.transport.set_protocol(collector)
            result.transport.resume_reading()
            await asyncio.sleep(0.05)
            assert result.buffered + bytes(collector.data) == b"greeting"
            result.transport.close()

    run(scenario)


# -- tunnel ------------------------------------------------------------------------------------


class Held(asyncio.Protocol):
    """Holds a new connection's transport until it is paused like a detached one (by the
    waiter: uvloop starts reading right after ``connection_made`` whatever it did)."""

    def __init__(self, ready: asyncio.Future[asyncio.Transport]) -> None:
        self.ready = ready

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.ready.set_result(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        raise AssertionError("bytes arrived before the tunnel took the connection")


async def held(ready: asyncio.Future[asyncio.Transport]) -> asyncio.Transport:
    transport = await ready
    transport.pause_reading()
    return transport


@dataclass
class Ends:
    """client <-> a ... tunnel ... b <-> backend"""

    client: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    a: asyncio.Transport
    b: asyncio.Transport
    backend: tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def tunnel_ends(
    front_ssl: ssl.SSLContext | None = None, client_ssl: ssl.SSLContext | None = None
) -> AsyncIterator[Ends]:
    loop = asyncio.get_running_loop()
    a_ready: asyncio.Future[asyncio.Transport] = loop.create_future()
    front = await loop.create_server(lambda: Held(a_ready), "127.0.0.1", 0, ssl=front_ssl)
    backend_ready: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
    backend_ready = loop.create_future()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend_ready.set_result((reader, writer))

    back = await asyncio.start_server(accept, "127.0.0.1", 0)
    client = await asyncio.open_connection(
        "127.0.0.1", front.sockets[0].getsockname()[1], ssl=client_ssl
    )
    b_ready: asyncio.Future[asyncio.Transport] = loop.create_future()
    await loop.create_connection(
        lambda: Held(b_ready), "127.0.0.1", back.sockets[0].getsockname()[1]
    )
    ends = Ends(client, await held(a_ready), await held(b_ready), await backend_ready)
    try:
        yield ends
    finally:
        for writer in (ends.client[1], ends.backend[1]):
            writer.transport.abort()
        for transport in (ends.a, ends.b):
            transport.abort()
        front.close()
        back.close()
        await asyncio.sleep(0)


def start_tunnel(ends: Ends, **options) -> asyncio.Task[tuple[int, int]]:  # type: ignore[no-untyped-def]
    options.setdefault("idle_timeout", 30.0)
    return asyncio.create_task(
        tunnel(
            ends.a,
            options.pop("a_buffered", b""),
            ends.b,
            options.pop("b_buffered", b""),
            **options,
        )
    )


async def read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    async with asyncio.timeout(5):
        return await reader.readexactly(size)


def test_tunnel_copies_bytes_both_ways_buffered_bytes_first(run):
    """Bytes flow both ways, each side's already-read bytes ahead of the rest; the tunnel
    returns the counts once both sides have closed."""

    async def scenario():
        async with tunnel_ends() as ends:
            pump = start_tunnel(ends, a_buffered=b"early-a ", b_buffered=b"early-b ")
            (client_reader, client_writer), (backend_reader, backend_writer) = (
                ends.client,
                ends.backend,
            )
            client_writer.write(b"hello")
            assert await read_exactly(backend_reader, 13) == b"early-a hello"
            backend_writer.write(b"world")
            assert await read_exactly(client_reader, 13) == b"early-b world"
            client_writer.write_eof()
            backend_writer.write_eof()
            async with asyncio.timeout(5):
                assert await pump == (13, 13)

    run(scenario)


def test_half_close_is_passed_on_while_the_other_direction_goes_on(run):
    """A client's EOF reaches the backend, which can still answer before closing its side."""

    async def scenario():
        async with tunnel_ends() as ends:
            pump = start_tunnel(ends)
            (client_reader, client_writer), (backend_reader, backend_writer) = (
                ends.client,
                ends.backend,
            )
            client_writer.write(b"request")
            client_writer.write_eof()
            async with asyncio.timeout(5):
                assert await backend_reader.read() == b"request"  # then EOF
            backend_writer.write(b"late answer")
            assert await read_exactly(client_reader, 11) == b"late answer"
            assert not pump.done()
            backend_writer.write_eof()
            async with asyncio.timeout(5):
                assert await client_reader.read() == b""
                assert await pump == (7, 11)

    run(scenario)


def test_a_reset_on_one_side_tears_down_the_other(run):
    """A backend that resets ends the tunnel; the client then sees its connection end."""

    async def scenario():
        async with tunnel_ends() as ends:
            pump = start_tunnel(ends)
            sock = ends.backend[1].get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            ends.backend[1].transport.abort()  # with SO_LINGER 0: a RST, not a FIN
            async with asyncio.timeout(5):
                await pump
            assert await at_eof(ends.client[0])

    run(scenario)


def test_idle_timeout_tears_down_both_sides(run):
    """No byte either way for idle_timeout ends the tunnel and both connections."""

    async def scenario():
        async with tunnel_ends() as ends:
            loop = asyncio.get_running_loop()
            started = loop.time()
            pump = start_tunnel(ends, idle_timeout=0.2)
            async with asyncio.timeout(5):
                assert await pump == (0, 0)
            assert loop.time() - started < 2.0
            assert await at_eof(ends.client[0])
            assert await at_eof(ends.backend[0])

    run(scenario)


def test_traffic_keeps_an_idle_timeout_from_firing(run):
    """Bytes moving more often than idle_timeout keep the tunnel up."""

    async def scenario():
        async with tunnel_ends() as ends:
            pump = start_tunnel(ends, idle_timeout=0.2)
            for _ in range(6):
                ends.client[1].write(b"tick")
                await asyncio.sleep(0.1)
            assert not pump.done()
            assert await read_exactly(ends.backend[0], 24) == b"tick" * 6
            ends.client[1].write_eof()
            ends.backend[1].write_eof()
            async with asyncio.timeout(5):
                await pump

    run(scenario)


def test_closing_event_tears_down_both_sides(run):
    """Setting ``closing`` (server shutdown) ends the tunnel and both connections."""

    async def scenario():
        async with tunnel_ends() as ends:
            closing = asyncio.Event()
            pump = start_tunnel(ends, closing=closing)
            ends.client[1].write(b"x")
            assert await read_exactly(ends.backend[0], 1) == b"x"
            closing.set()
            async with asyncio.timeout(5):
                assert await pump == (1, 0)
            assert await at_eof(ends.client[0])
            assert await at_eof(ends.backend[0])

    run(scenario)


@pytest.mark.parametrize("direction", ["client-to-backend", "backend-to-client"])
def test_large_transfer_is_paced_by_the_slow_reader(run, direction):
    """64 MiB cross the tunnel intact; while the reader pauses, the tunnel holds at most
    about one read beyond the write buffer's high-water mark."""

    async def scenario():
        size = 64 * MiB
        block = os.urandom(MiB)
        async with tunnel_ends() as ends:
            pump = start_tunnel(ends)
            if direction == "client-to-backend":
                (_, writer), (reader, _), toward = ends.client, ends.backend, ends.b
            else:
                (reader, _), (_, writer), toward = ends.client, ends.backend, ends.a
            written = 0

            async def write_all() -> None:
                nonlocal written
                for _ in range(64):
                    writer.write(block)
                    written += len(block)
                    await writer.drain()
                writer.write_eof()

            writing = asyncio.create_task(write_all())
            await asyncio.sleep(0.5)  # the reader has not started: everything backs up
            assert toward.get_write_buffer_size() <= 512 * 1024
            assert written < 24 * MiB
            digest = hashlib.sha256()
            total = 0
            async with asyncio.timeout(30):
                while data := await reader.read(MiB):
                    digest.update(data)
                    total += len(data)
                await writing
            assert total == size
            assert digest.digest() == hashlib.sha256(block * 64).digest()
            (ends.backend if direction == "client-to-backend" else ends.client)[1].write_eof()
            async with asyncio.timeout(5):
                copied = await pump
            assert size in copied

    run(scenario)


def test_eof_toward_a_tls_side_closes_the_tunnel(run, certs, caplog):
    """A TLS transport cannot half-close: an EOF from the backend ends the tunnel (and the
    client's TLS connection) instead."""

    async def scenario():
        async with tunnel_ends(certs.server_context(), INSECURE_CONTEXT) as ends:
            pump = start_tunnel(ends)
            ends.client[1].write(b"over tls")
            assert await read_exactly(ends.backend[0], 8) == b"over tls"
            ends.backend[1].write(b"bye")
            ends.backend[1].write_eof()
            assert await read_exactly(ends.client[0], 3) == b"bye"
            async with asyncio.timeout(5):
                assert await pump == (8, 3)
            assert await at_eof(ends.client[0])

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(scenario)
    assert not caplog.records


# -- end to end: server detach + upgrade + tunnel -------------------------------------------------


def test_websocket_through_server_upgrade_and_tunnel(run):
    """A WebSocket client talks to a WebSocket backend through HTTPServer's detach, the
    pool's upgrade and the tunnel."""

    async def scenario():
        async with aiohttp_backend(websocket_echo_app()) as backend_port, upstream_pool() as pool:
            tunnels: list[tuple[int, int]] = []

            async def proxy(request: Request, response: ResponseWriter) -> None:
                headers = [(name, value) for name, value in request.headers if name != "host"]
                result = await pool.upgrade(
                    local(backend_port), "GET", request.target, [("Host", "b"), *headers]
                )
                assert result.transport is not None
                await response.start(101, result.headers)
                client, client_buffered = await response.detach()
                tunnels.append(
                    await tunnel(
                        client, client_buffered, result.transport, result.buffered, idle_timeout=5
                    )
                )

            server = HTTPServer(proxy)
            ((_, port),) = await server.start("127.0.0.1", 0)
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
                    for text in ("one", "two"):
                        await ws.send(text)
                        assert await ws.recv() == f"echo: {text}"
                await wait_until(lambda: len(tunnels) == 1)
                assert all(count > 0 for count in tunnels[0])
            finally:
                await server.shutdown(grace=1.0)

    run(scenario)
