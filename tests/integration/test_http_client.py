"""The upstream client and pool over real sockets: requests, keep-alive, bodies both ways.

Every scenario runs on asyncio's loop and on uvloop and fails if it leaves a task behind.
Faults (timeouts, resets, malformed answers, stale connections) are in
``test_http_client_faults.py``, TLS in ``test_http_client_tls.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from test_http_client_support import (
    LOOPS,
    RawRequest,
    Scenario,
    aiohttp_backend,
    answer_each,
    loop_runner,
    ok_response,
    raw_backend,
    read_body,
    read_request_head,
    upstream_pool,
    wait_until,
)

from kubegate.http import UpstreamTarget
from kubegate.http.client_response import HIGH_WATER

HOST = [("Host", "backend.test")]
MiB = 1 << 20
READ_SIZE = 256 * 1024  # uvloop's read size: what may arrive beyond the high-water mark


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    return loop_runner(request)


def local(port: int) -> UpstreamTarget:
    return UpstreamTarget("127.0.0.1", port)


async def body_of(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join([piece async for piece in response])


# -- plain requests and keep-alive ----------------------------------------------------------


def test_get_returns_status_headers_and_body(run):
    """A GET to an aiohttp backend returns its status, lower-case headers and body."""

    async def scenario():
        async def hello(request: web.Request) -> web.Response:
            return web.Response(text=f"hello {request.path}", headers={"X-Answer": "42"})

        app = web.Application()
        app.router.add_get("/{tail:.*}", hello)
        async with aiohttp_backend(app) as port, upstream_pool() as pool:
            response = await pool.request(local(port), "GET", "/small", HOST)
            assert (response.status, response.reason) == (200, "OK")
            assert response.header("x-answer") == "42"
            assert all(name == name.lower() for name, _ in response.headers)
            assert response.length == len(b"hello /small")
            assert await body_of(response) == b"hello /small"

    run(scenario)


def test_request_is_reserialised_with_exactly_one_framing_field(run):
    """The backend sees the request-line, the caller's fields and one computed Content-Length."""

    async def scenario():
        seen: list[RawRequest] = []
        bodies: list[bytes] = []

        async def record(reader, writer):
            request = await read_request_head(reader)
            seen.append(request)
            bodies.append(await read_body(reader, request))
            writer.write(ok_response())

        async with raw_backend(record) as backend, upstream_pool() as pool:
            headers = [*HOST, ("X-Custom", "a b"), ("Content-Length", "999")]
            response = await pool.request(local(backend.port), "POST", "/p?q=1", headers, b"hi")
            await response.aclose()
        assert seen[0].raw_head == (
            b"POST /p?q=1 HTTP/1.1\r\nHost: backend.test\r\nX-Custom: a b\r\n"
            b"Content-Length: 2\r\n\r\n"
        )
        assert bodies == [b"hi"]

    run(scenario)


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Evil", "a\r\nContent-Length: 5"), ("X-Evil", "nul\x00"), ("Bad Name", "v")],
)
def test_header_injection_is_refused_before_sending(run, name, value):
    """A CR, LF or NUL in a value, or a name that is not a token, is a ValueError."""

    async def scenario():
        async with raw_backend(answer_each) as backend, upstream_pool() as pool:
            with pytest.raises(ValueError):
                await pool.request(local(backend.port), "GET", "/", [*HOST, (name, value)])
            assert backend.accepted == 0

    run(scenario)


def test_keep_alive_reuses_one_connection_for_sequential_requests(run):
    """A hundred requests in turn go over one connection."""

    async def scenario():
        async with raw_backend(answer_each) as backend, upstream_pool() as pool:
            target = local(backend.port)
            for _ in range(100):
                response = await pool.request(target, "GET", "/", HOST)
                assert await body_of(response) == b"ok"
            stats = pool.stats(target)
            assert (stats.opened, stats.idle, stats.active) == (1, 1, 0)
            assert backend.accepted == 1

    run(scenario)


def test_concurrent_requests_open_several_connections_and_return_them(run):
    """Ten requests in flight at once use ten connections, all idle in the pool afterwards."""

    async def scenario():
        arrived = 0
        all_arrived = asyncio.Event()

        async def barrier(reader, writer):
            nonlocal arrived
            await read_request_head(reader)
            arrived += 1
            if arrived == 10:
                all_arrived.set()
            await all_arrived.wait()  # nobody is answered before all ten are in
            writer.write(ok_response())
            await answer_each(reader, writer)

        async with raw_backend(barrier) as backend, upstream_pool() as pool:
            target = local(backend.port)

            async def one() -> bytes:
                response = await pool.request(target, "GET", "/", HOST)
                return await body_of(response)

            assert await asyncio.gather(*(one() for _ in range(10))) == [b"ok"] * 10
            stats = pool.stats(target)
            assert (stats.opened, stats.idle, stats.active) == (10, 10, 0)

    run(scenario)


def test_idle_connections_are_reused_most_recent_first(run):
    """The pool is a LIFO stack: the connection used last serves the next request."""

    async def scenario():
        async def tag(reader, writer):
            number = backend.accepted
            await answer_each(reader, writer, ok_response(b"%d" % number))

        async with raw_backend(tag) as backend, upstream_pool() as pool:
            target = local(backend.port)
            first, second = await asyncio.gather(
                pool.request(target, "GET", "/", HOST), pool.request(target, "GET", "/", HOST)
            )
            assert sorted([await body_of(first), await body_of(second)]) == [b"1", b"2"]
            last = await pool.request(target, "GET", "/", HOST)
            last_body = await body_of(last)
            again = await pool.request(target, "GET", "/", HOST)
            assert await body_of(again) == last_body

    run(scenario)


def test_pool_idle_timeout_closes_unused_connections(run):
    """A connection idle for longer than pool_idle_timeout is closed by the pool."""

    async def scenario():
        async with (
            raw_backend(answer_each) as backend,
            upstream_pool(pool_idle_timeout=0.1) as pool,
        ):
            target = local(backend.port)
            await body_of(await pool.request(target, "GET", "/", HOST))
            assert pool.stats(target).idle == 1
            await wait_until(lambda: pool.stats().idle == 0)

    run(scenario)


# -- response framing -----------------------------------------------------------------------


def test_chunked_response_is_decoded_and_the_connection_reused(run):
    """A chunked body (with an extension and a trailer) arrives whole; keep-alive holds."""

    async def scenario():
        chunked = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        async with raw_backend(lambda r, w: answer_each(r, w, chunked)) as backend:
            async with upstream_pool() as pool:
                target = local(backend.port)
                for _ in range(2):
                    response = await pool.request(target, "GET", "/", HOST)
                    assert response.length is None
                    assert await body_of(response) == b"hello world"
                assert pool.stats(target).opened == 1

    run(scenario)


def test_close_delimited_response_ends_at_eof_and_is_not_reused(run):
    """A body without Content-Length or chunking runs to EOF; the connection is not pooled."""

    async def scenario():
        async def close_delimited(reader, writer):
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
            await writer.drain()
            writer.close()

        async with raw_backend(close_delimited) as backend, upstream_pool() as pool:
            target = local(backend.port)
            response = await pool.request(target, "GET", "/", HOST)
            assert await body_of(response) == b"until the end"
            await wait_until(lambda: pool.stats().active == 0)
            assert pool.stats().idle == 0

    run(scenario)


def test_head_response_has_no_body_despite_its_content_length(run):
    """A HEAD answer with Content-Length: 1000 ends at its head; the next GET reuses the
    connection."""

    async def scenario():
        async def head_then_get(reader, writer):
            request = await read_request_head(reader)
            assert request.method == "HEAD"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            await answer_each(reader, writer)

        async with raw_backend(head_then_get) as backend, upstream_pool() as pool:
            target = local(backend.port)
            response = await pool.request(target, "HEAD", "/", HOST)
            assert response.length == 1000
            assert await body_of(response) == b""
            response = await pool.request(target, "GET", "/", HOST)
            assert await body_of(response) == b"ok"
            assert pool.stats(target).opened == 1

    run(scenario)


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_end_at_their_head(run, status):
    """204 and 304 carry no body (even with a Content-Length); the connection is reused."""

    async def scenario():
        answer = b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status
        async with raw_backend(lambda r, w: answer_each(r, w, answer)) as backend:
            async with upstream_pool() as pool:
                target = local(backend.port)
                for _ in range(2):
                    response = await pool.request(target, "GET", "/", HOST)
                    assert response.status == status
                    assert await body_of(response) == b""
                assert pool.stats(target).opened == 1

    run(scenario)


def test_interim_responses_are_skipped(run):
    """A 103 Early Hints before the final answer is not returned."""

    async def scenario():
        answer = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + ok_response(b"final")
        async with raw_backend(lambda r, w: answer_each(r, w, answer)) as backend:
            async with upstream_pool() as pool:
                response = await pool.request(local(backend.port), "GET", "/", HOST)
                assert response.status == 200
                assert await body_of(response) == b"final"

    run(scenario)


# -- request bodies -------------------------------------------------------------------------


def test_streamed_body_without_length_is_sent_chunked(run):
    """An async-iterator body without content_length goes out chunked, empty pieces skipped."""

    async def scenario():
        received: list[tuple[str | None, bytes]] = []

        async def record(reader, writer):
            request = await read_request_head(reader)
            received.append(
                (request.headers.get("transfer-encoding"), await read_body(reader, request))
            )
            writer.write(ok_response())

        async def pieces() -> AsyncIterator[bytes]:
            for piece in (b"one ", b"", b"two"):
                yield piece

        async with raw_backend(record) as backend, upstream_pool() as pool:
            response = await pool.request(local(backend.port), "PUT", "/", HOST, pieces())
            await response.aclose()
        assert received == [("chunked", b"one two")]

    run(scenario)


def test_streamed_body_longer_than_its_length_is_refused(run):
    """A body source yielding more than content_length raises ValueError and drops the
    connection."""

    async def scenario():
        async def pieces() -> AsyncIterator[bytes]:
            yield b"12345"
            yield b"678"

        async def never_answer(reader, writer):
            await reader.read()

        async with raw_backend(never_answer) as backend, upstream_pool() as pool:
            target = local(backend.port)
            with pytest.raises(ValueError, match="longer"):
                await pool.request(target, "POST", "/", HOST, pieces(), content_length=6)
            await wait_until(lambda: pool.stats(target).active == 0)
            assert pool.stats(target).idle == 0

    run(scenario)


def test_streamed_upload_is_paced_by_the_backend(run):
    """A 50 MiB upload from an async generator is pulled only as fast as the backend reads."""

    async def scenario():
        size = 50 * MiB
        piece = b"u" * (64 * 1024)
        produced = 0
        received = 0
        reading = asyncio.Event()

        async def slow_reader(reader, writer):
            nonlocal received
            await read_request_head(reader)
            received += len(await reader.readexactly(MiB))
            await reading.wait()  # the backend stops reading for a while
            digest = hashlib.sha256()
            while received < size:
                data = await reader.read(1 << 20)
                digest.update(data)
                received += len(data)
            writer.write(ok_response(b"%d" % received))

        async def upload() -> AsyncIterator[bytes]:
            nonlocal produced
            while produced < size:
                produced += len(piece)
                yield piece

        async with raw_backend(slow_reader) as backend, upstream_pool() as pool:
            request = asyncio.create_task(
                pool.request(local(backend.port), "POST", "/", HOST, upload(), content_length=size)
            )
            await wait_until(lambda: received >= MiB)
            await asyncio.sleep(0.3)  # time for an unpaced sender to run far ahead
            stalled_at = produced
            await asyncio.sleep(0.2)
            assert produced == stalled_at  # the generator is not being drained
            # What is in flight: the kernel's socket buffers on loopback plus the transport's
            # high-water mark, nowhere near the 50 MiB an unpaced sender would have pulled.
            assert produced - received < 12 * MiB
            reading.set()
            response = await request
            assert await body_of(response) == str(size).encode()

    run(scenario)


def test_bytes_body_is_sent_with_its_content_length(run):
    """A bytes body of 1 MiB arrives whole with Content-Length framing."""

    async def scenario():
        data = bytes(range(256)) * 4096

        async def echo_digest(reader, writer):
            request = await read_request_head(reader)
            assert request.headers["content-length"] == str(len(data))
            body = await read_body(reader, request)
            writer.write(ok_response(hashlib.sha256(body).hexdigest().encode()))

        async with raw_backend(echo_digest) as backend, upstream_pool() as pool:
            response = await pool.request(local(backend.port), "PUT", "/", HOST, data)
            assert await body_of(response) == hashlib.sha256(data).hexdigest().encode()

    run(scenario)


# -- response bodies ------------------------------------------------------------------------


def test_streamed_download_pauses_the_backend_while_the_consumer_waits(run):
    """A consumer that stops taking pieces stops the reading: what waits in the client stays
    within the high-water mark plus one read."""

    async def scenario():
        size = 64 * MiB
        block = b"d" * MiB
        sent = 0

        async def fast_writer(reader, writer):
            nonlocal sent
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            while sent < size:
                writer.write(block)
                sent += len(block)
                await writer.drain()

        async with raw_backend(fast_writer) as backend, upstream_pool() as pool:
            response = await pool.request(local(backend.port), "GET", "/big", HOST)
            first = await anext(response)
            await asyncio.sleep(0.5)  # a slow consumer
            assert response.buffered <= HIGH_WATER + READ_SIZE
            assert sent < 16 * MiB  # the backend is held back too (kernel buffers only)
            digest = hashlib.sha256(first)
            total = len(first)
            async for piece in response:
                digest.update(piece)
                total += len(piece)
            assert total == size
            assert digest.hexdigest() == hashlib.sha256(block * 64).hexdigest()

    run(scenario)


def test_aclose_before_the_end_of_the_body_drops_the_connection(run):
    """A response closed with body still unread is never pooled."""

    async def scenario():
        async def partial(reader, writer):
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nfirst bytes")
            await reader.read()

        async with raw_backend(partial) as backend:
            async with upstream_pool() as pool:
                target = local(backend.port)
                response = await pool.request(target, "GET", "/", HOST)
                await response.aclose()
                await wait_until(lambda: pool.stats(target).active == 0)
                assert pool.stats(target).idle == 0

    run(scenario)


# -- Expect: 100-continue ---------------------------------------------------------------------


def test_expect_continue_sends_the_body_after_100(run):
    """The body waits for `100 Continue`, then goes out; the final answer is returned."""

    async def scenario():
        early: list[bytes] = []

        async def continue_then_read(reader, writer):
            request = await read_request_head(reader)
            assert request.headers["expect"] == "100-continue"
            try:
                async with asyncio.timeout(0.2):
                    early.append(await reader.read(1))
            except TimeoutError:
                pass
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await read_body(reader, request)
            writer.write(ok_response(body))
            await answer_each(reader, writer)

        async with raw_backend(continue_then_read) as backend, upstream_pool() as pool:
            target = local(backend.port)
            response = await pool.request(
                target, "POST", "/", HOST, b"payload", expect_continue=True
            )
            assert await body_of(response) == b"payload"
            assert early == []  # nothing was sent before the 100
            assert pool.stats(target).idle == 1  # the exchange completed cleanly

    run(scenario)


@pytest.mark.parametrize("status", [417, 401])
def test_expect_continue_final_answer_returns_without_sending_the_body(run, status):
    """A final answer instead of 100 is returned; the body is never sent and the connection
    is not reused."""

    async def scenario():
        extra: list[bytes] = []

        async def refuse(reader, writer):
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 %d No\r\nContent-Length: 2\r\n\r\nno" % status)
            try:
                async with asyncio.timeout(0.3):
                    extra.append(await reader.read(1))
            except TimeoutError:
                pass

        async def streamed() -> AsyncIterator[bytes]:
            yield b"never sent"

        async with raw_backend(refuse) as backend, upstream_pool() as pool:
            target = local(backend.port)
            response = await pool.request(
                target, "PUT", "/", HOST, streamed(), content_length=10, expect_continue=True
            )
            assert response.status == status
            assert await body_of(response) == b"no"
            await wait_until(lambda: extra != [])  # the backend sees EOF: no body, no reuse
            assert extra == [b""]
            assert pool.stats(target).idle == 0

    run(scenario)


def test_expect_continue_sends_anyway_after_a_second(run):
    """A backend that ignores Expect still gets the body, after the one-second wait."""

    async def scenario():
        async def ignore_expect(reader, writer):
            request = await read_request_head(reader)
            body = await read_body(reader, request)
            writer.write(ok_response(body))

        async with raw_backend(ignore_expect) as backend, upstream_pool() as pool:
            loop = asyncio.get_running_loop()
            started = loop.time()
            response = await pool.request(
                local(backend.port), "POST", "/", HOST, b"late", expect_continue=True
            )
            assert await body_of(response) == b"late"
            assert 0.9 <= loop.time() - started < 3.0

    run(scenario)
