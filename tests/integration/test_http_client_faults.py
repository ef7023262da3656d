"""The upstream client when things go wrong: dial failures, timeouts, resets, malformed
answers, stale keep-alive connections (security.md §2.1, A38).

Every scenario runs on asyncio's loop and on uvloop and fails if it leaves a task behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Iterator

import pytest
from test_http_client_support import (
    LOOPS,
    Scenario,
    answer_each,
    at_eof,
    loop_runner,
    ok_response,
    raw_backend,
    read_body,
    read_request_head,
    upstream_pool,
    wait_until,
)

from kubegate.http import PoolStats, UpstreamError, UpstreamTarget

HOST = [("Host", "backend.test")]


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    return loop_runner(request)


def local(port: int) -> UpstreamTarget:
    return UpstreamTarget("127.0.0.1", port)


async def body_of(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join([piece async for piece in response])


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- dialling -------------------------------------------------------------------------------


def test_connection_refused_is_a_connect_error(run):
    """A closed port gives UpstreamError("connect") with Go's wording."""

    async def scenario():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # free, and nobody listens once closed
        async with upstream_pool() as pool:
            with pytest.raises(UpstreamError) as caught:
                await pool.request(local(port), "GET", "/", HOST)
        assert caught.value.kind == "connect"
        assert caught.value.message == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
        assert pool.stats() == PoolStats(idle=0, active=0, opened=0)

    run(scenario)


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A loopback port whose accept queue is full: further SYNs are dropped (a blackhole)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # Linux queues backlog + 1 = 1 connection
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the queue until a connect no longer completes
            filler = socket.socket()
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            pytest.fail("could not fill the accept queue")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_connect_timeout_is_a_connect_error_saying_io_timeout(run):
    """A dial that never completes ends after connect_timeout with "i/o timeout"."""

    async def scenario():
        with full_backlog() as port:
            async with upstream_pool(connect_timeout=0.2) as pool:
                loop = asyncio.get_running_loop()
                started = loop.time()
                with pytest.raises(UpstreamError) as caught:
                    await pool.request(local(port), "GET", "/", HOST)
                assert loop.time() - started < 2.0
        assert caught.value.kind == "connect"
        assert caught.value.message == f"dial tcp 127.0.0.1:{port}: i/o timeout"

    run(scenario)


def test_target_must_be_a_literal_ip(run):
    """A host name is never resolved: it is the caller's error."""

    async def scenario():
        async with upstream_pool() as pool:
            with pytest.raises(ValueError):
                await pool.request(UpstreamTarget("localhost", 80), "GET", "/", HOST)

    run(scenario)


def test_requests_wait_for_a_free_connection_at_the_per_target_limit(run):
    """With max_connections_per_target=1, concurrent requests queue for the one connection."""

    async def scenario():
        async with raw_backend(answer_each) as backend:
            async with upstream_pool(max_connections_per_target=1) as pool:
                target = local(backend.port)

                async def one() -> bytes:
                    return await body_of(await pool.request(target, "GET", "/", HOST))

                assert await asyncio.gather(*(one() for _ in range(5))) == [b"ok"] * 5
                assert pool.stats(target).opened == 1

    run(scenario)


def test_waiting_for_a_free_connection_ends_after_connect_timeout(run):
    """At the per-target limit, a request finding no free connection in time gets
    UpstreamError("timeout")."""

    async def scenario():
        async def silent(reader, writer):
            await reader.read()

        async with raw_backend(silent) as backend:
            async with upstream_pool(max_connections_per_target=1, connect_timeout=0.2) as pool:
                target = local(backend.port)
                first = asyncio.create_task(pool.request(target, "GET", "/", HOST))
                await wait_until(lambda: backend.accepted == 1)
                with pytest.raises(UpstreamError) as caught:
                    await pool.request(target, "GET", "/", HOST)
                assert caught.value.kind == "timeout"
                assert "no free connection" in caught.value.message
                first.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await first

    run(scenario)


# -- timeouts -------------------------------------------------------------------------------


def test_response_header_timeout_on_a_backend_that_never_answers(run):
    """A backend that reads the request and stays silent gives UpstreamError("timeout")."""

    async def scenario():
        async def silent(reader, writer):
            await reader.read()

        async with raw_backend(silent) as backend:
            async with upstream_pool(response_header_timeout=0.2) as pool:
                loop = asyncio.get_running_loop()
                started = loop.time()
                with pytest.raises(UpstreamError) as caught:
                    await pool.request(local(backend.port), "GET", "/", HOST)
                assert loop.time() - started < 2.0
                assert caught.value.kind == "timeout"
                assert caught.value.message == "timeout awaiting response headers"

    run(scenario)


def test_idle_timeout_mid_body_ends_the_stream(run):
    """A backend that drips part of the body and stalls makes the iterator raise "timeout"."""

    async def scenario():
        async def drip_then_stall(reader, writer):
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(3):
                writer.write(b"drip ")
                await asyncio.sleep(0.05)  # each drip within the idle timeout
            await reader.read()

        async with raw_backend(drip_then_stall) as backend:
            async with upstream_pool(idle_timeout=0.3) as pool:
                response = await pool.request(local(backend.port), "GET", "/", HOST)
                received = b""
                with pytest.raises(UpstreamError) as caught:
                    async for piece in response:
                        received += piece
                assert received == b"drip drip drip "
                assert caught.value.kind == "timeout"

    run(scenario)


# -- resets ---------------------------------------------------------------------------------


def test_reset_mid_body_makes_the_iterator_raise_reset(run):
    """A backend that resets the connection mid-body gives UpstreamError("reset")."""

    async def scenario():
        async def reset_mid_body(reader, writer):
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
            await writer.drain()
            await asyncio.sleep(0.05)
            reset(writer)

        async with raw_backend(reset_mid_body) as backend, upstream_pool() as pool:
            response = await pool.request(local(backend.port), "GET", "/", HOST)
            with pytest.raises(UpstreamError) as caught:
                await body_of(response)
            assert caught.value.kind == "reset"

    run(scenario)


def test_cancelled_request_drops_its_connection(run):
    """A request cancelled while waiting for the head leaves no connection behind."""

    async def scenario():
        async def silent(reader, writer):
            await reader.read()

        async with raw_backend(silent) as backend, upstream_pool() as pool:
            target = local(backend.port)
            request = asyncio.create_task(pool.request(target, "GET", "/", HOST))
            await wait_until(lambda: pool.stats().active == 1 and backend.accepted == 1)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            await wait_until(lambda: pool.stats() == PoolStats(idle=0, active=0, opened=1))

    run(scenario)


# -- malformed answers ------------------------------------------------------------------------

MALFORMED_HEADS = {
    "cl-and-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-not-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "te-twice": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    "cl-conflict": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    "cl-plus": b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
    "cl-list": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
    "status-letters": b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    "status-four-digits": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "status-out-of-range": b"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
    "version-2": b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
    "not-http": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
    "bare-cr-in-value": b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
    "nul-in-value": b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n",
    "space-before-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\nContent-Length: 0\r\n\r\n",
    "no-colon": b"HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n",
    "unexpected-101": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    "head-too-large": b"HTTP/1.1 200 OK\r\nX: " + b"a" * (64 * 1024) + b"\r\n\r\n",
}


@pytest.mark.parametrize("answer", MALFORMED_HEADS.values(), ids=MALFORMED_HEADS.keys())
def test_malformed_response_head_is_a_protocol_error_and_the_connection_is_dropped(run, answer):
    """Every head RFC 9112 does not allow is UpstreamError("protocol"); the next request
    opens a new connection."""

    async def scenario():
        async def malformed_first(reader, writer):
            await read_request_head(reader)
            writer.write(answer if backend.accepted == 1 else ok_response())
            await answer_each(reader, writer)

        async with raw_backend(malformed_first) as backend, upstream_pool() as pool:
            target = local(backend.port)
            with pytest.raises(UpstreamError) as caught:
                response = await pool.request(target, "GET", "/", HOST)
                await body_of(response)
            assert caught.value.kind == "protocol"
            assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
            assert backend.accepted == 2

    run(scenario)


MALFORMED_CHUNKS = {
    "hex-prefix": b"0x5\r\nhello\r\n0\r\n\r\n",
    "underscore": b"0_5\r\nhello\r\n0\r\n\r\n",
    "leading-space": b" 5\r\nhello\r\n0\r\n\r\n",
    "bare-lf-size": b"5\nhello\r\n0\r\n\r\n",
    "bare-lf-after-data": b"5\r\nhello\n0\r\n\r\n",
    "too-many-digits": b"00000000000000005\r\nhello\r\n0\r\n\r\n",
    "lf-in-extension": b"5;a\nb\r\nhello\r\n0\r\n\r\n",
    "content-length-trailer": b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n",
    "data-longer-than-size": b"3\r\nhello\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("chunks", MALFORMED_CHUNKS.values(), ids=MALFORMED_CHUNKS.keys())
def test_bad_chunk_framing_is_a_protocol_error_while_reading_the_body(run, chunks):
    """A chunked body that breaks the grammar raises UpstreamError("protocol") from the
    iterator; the connection is not reused."""

    async def scenario():
        answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
        async with raw_backend(lambda r, w: answer_each(r, w, answer)) as backend:
            async with upstream_pool() as pool:
                target = local(backend.port)
                response = await pool.request(target, "GET", "/", HOST)
                with pytest.raises(UpstreamError) as caught:
                    await body_of(response)
                assert caught.value.kind == "protocol"
                await wait_until(lambda: pool.stats().active == 0)
                assert pool.stats().idle == 0

    run(scenario)


def test_bytes_after_a_complete_response_make_the_connection_unusable(run):
    """A backend that sends more than its Content-Length does not get the connection back."""

    async def scenario():
        answer = ok_response() + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmugl"
        async with raw_backend(lambda r, w: answer_each(r, w, answer)) as backend:
            async with upstream_pool() as pool:
                target = local(backend.port)
                assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
                assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
                assert backend.accepted == 2

    run(scenario)


# -- stale keep-alive connections ---------------------------------------------------------------


def test_connection_closed_by_the_backend_while_idle_is_not_reused(run):
    """A backend closing an idle connection is noticed: the next request dials afresh."""

    async def scenario():
        async def one_then_close(reader, writer):
            request = await read_request_head(reader)
            await read_body(reader, request)
            writer.write(ok_response())
            await writer.drain()
            writer.close()

        async with raw_backend(one_then_close) as backend, upstream_pool() as pool:
            target = local(backend.port)
            assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
            await wait_until(lambda: pool.stats().idle == 0)  # the EOF was seen while idle
            assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
            assert backend.accepted == 2

    run(scenario)


def stale_after_first(requests: list[str]):  # type: ignore[no-untyped-def]
    """A backend that answers the first request of a connection and closes the connection,
    unanswered, when a second request arrives on it (the keep-alive race)."""

    async def handler(reader, writer):
        request = await read_request_head(reader)
        await read_body(reader, request)
        requests.append(request.method)
        writer.write(ok_response())
        await writer.drain()
        request = await read_request_head(reader)
        await read_body(reader, request)
        requests.append(request.method)
        writer.close()

    return handler


def test_get_on_a_stale_connection_is_retried_once_on_a_fresh_one(run):
    """A GET whose reused connection closes before any answer is sent again, transparently."""

    async def scenario():
        requests: list[str] = []
        async with raw_backend(stale_after_first(requests)) as backend:
            async with upstream_pool() as pool:
                target = local(backend.port)
                assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
                assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
                assert requests == ["GET", "GET", "GET"]
                assert backend.accepted == 2

    run(scenario)


def test_post_with_a_body_on_a_stale_connection_is_not_retried(run):
    """A POST whose body went out on a connection that then closed raises "reset"."""

    async def scenario():
        requests: list[str] = []
        async with raw_backend(stale_after_first(requests)) as backend:
            async with upstream_pool() as pool:
                target = local(backend.port)
                assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
                with pytest.raises(UpstreamError) as caught:
                    await pool.request(target, "POST", "/", HOST, b"once only")
                assert caught.value.kind == "reset"
                assert requests == ["GET", "POST"]
                assert backend.accepted == 1

    run(scenario)


def test_failure_on_a_fresh_connection_is_not_retried(run):
    """Only a reused connection can be stale: a new one closing unanswered raises."""

    async def scenario():
        async def close_unanswered(reader, writer):
            await read_request_head(reader)
            writer.close()

        async with raw_backend(close_unanswered) as backend, upstream_pool() as pool:
            with pytest.raises(UpstreamError) as caught:
                await pool.request(local(backend.port), "GET", "/", HOST)
            assert caught.value.kind == "reset"
            assert backend.accepted == 1

    run(scenario)


def test_pool_close_fails_requests_in_flight_and_closes_connections(run):
    """close() ends a request waiting for its head and every connection."""

    async def scenario():
        ends: list[bool] = []

        async def silent(reader, writer):
            ends.append(await at_eof(reader))

        async with raw_backend(silent) as backend:
            async with upstream_pool() as pool:
                request = asyncio.create_task(pool.request(local(backend.port), "GET", "/", HOST))
                await wait_until(lambda: backend.accepted == 1)
                await pool.close()
                with pytest.raises(UpstreamError):
                    await request
                with pytest.raises(UpstreamError):
                    await pool.request(local(backend.port), "GET", "/", HOST)
            await wait_until(lambda: ends == [True])

    run(scenario)
