"""The HTTP/1.1 server layer over real sockets on 127.0.0.1:0, on both event loops.

Every test body is a scenario run once on asyncio's default loop and once on uvloop (the
production loop); the runner fails a test that leaves a task behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubegate.http import BodyTooLarge, HTTPServer, Limits, Request, ResponseWriter

Scenario = Callable[[], Awaitable[None]]
OK_HEADERS = [("content-type", "text/plain")]
DEFAULT_LIMITS = Limits()


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    runner = uvloop.run if request.param == "uvloop" else asyncio.run

    def run_scenario(scenario: Scenario) -> None:
        async def checked() -> None:
            await scenario()
            leaked = asyncio.all_tasks() - {asyncio.current_task()}
            assert not leaked, f"tasks left behind: {leaked}"

        runner(checked())

    return run_scenario


@contextlib.asynccontextmanager
async def serving(
    handler: Callable[[Request, ResponseWriter], Awaitable[None]],
    limits: Limits = DEFAULT_LIMITS,
    **options: object,
) -> AsyncIterator[tuple[HTTPServer, int]]:
    server = HTTPServer(handler, limits, **options)  # type: ignore[arg-type]
    ((_, port),) = await server.start("127.0.0.1", 0)
    try:
        yield server, port
    finally:
        await server.shutdown(grace=1.0)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, **options: object) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, **options)  # type: ignore[arg-type]
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def response(self, *, head_request: bool = False) -> Response:
        async with asyncio.timeout(5):
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers: dict[str, str] = {}
            for line in lines[1:-2]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if head_request or status in (101, 204, 304) or 100 <= status < 200:
                body = b""
            elif "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding") == "chunked":
                body = await self._chunked()
            else:
                body = await self.reader.read()
            return Response(status, headers, body)

    async def _chunked(self) -> bytes:
        pieces = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n"))[:-2], 16)
            if size == 0:
                assert await self.reader.readuntil(b"\r\n") == b"\r\n"
                return b"".join(pieces)
            pieces.append(await self.reader.readexactly(size))
            assert await self.reader.readexactly(2) == b"\r\n"

    async def at_eof(self) -> bool:
        """Whether the server closed the connection (reads and drops anything left)."""
        try:
            async with asyncio.timeout(5):
                while await self.reader.read(65536):
                    pass
        except ConnectionResetError:
            return True
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def get(path: str = "/", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


async def hello(request: Request, response: ResponseWriter) -> None:
    await response.send(200, OK_HEADERS, b"hello " + request.path.encode())


async def echo(request: Request, response: ResponseWriter) -> None:
    body = await request.body.read(1 << 20)
    await response.send(200, OK_HEADERS, body)


# -- keep-alive and pipelining -----------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection(run):
    """Three requests in turn on one connection each get their own answer."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            for path in ("/a", "/b", "/c"):
                client.send(get(path))
                response = await client.response()
                assert (response.status, response.body) == (200, b"hello " + path.encode())
                assert "connection" not in response.headers
            await client.close()

    run(scenario)


def test_pipelined_requests_are_answered_in_order_one_at_a_time(run):
    """Requests sent in one packet are handled one after the other and answered in order."""

    async def scenario():
        active = []
        order = []

        async def handler(request, response):
            active.append(request.path)
            assert len(active) == 1
            if request.path == "/slow":
                await asyncio.sleep(0.05)  # the fast one behind it must still wait
            order.append(request.path)
            active.remove(request.path)
            await response.send(200, OK_HEADERS, request.path.encode())

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get("/slow") + get("/fast") + get("/last"))
            bodies = [(await client.response()).body for _ in range(3)]
            assert bodies == [b"/slow", b"/fast", b"/last"]
            assert order == ["/slow", "/fast", "/last"]
            await client.close()

    run(scenario)


def test_pipelined_bytes_pause_reading_behind_a_slow_request(run):
    """A flood pipelined behind an unfinished request is not read without bound."""

    async def scenario():
        release = asyncio.Event()
        seen = []

        async def handler(request, response):
            seen.append(request.path)
            if request.path == "/first":
                await release.wait()
            await response.send(200, OK_HEADERS, b"")

        limits = Limits(pipeline_buffer=16 * 1024)
        async with serving(handler, limits) as (server, port):
            client = await Client.connect(port)
            client.send(get("/first") + get("/next") * 200_000)  # ~5 MiB of requests
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await client.writer.drain()  # the server stopped reading
            (conn,) = server._connections
            assert len(conn._buffer) <= 16 * 1024 + 256 * 1024
            assert seen == ["/first"]
            release.set()
            assert (await client.response()).status == 200
            await client.close()

    run(scenario)


def test_connection_close_request_ends_the_connection(run):
    """A request with `Connection: close` gets `Connection: close` and then EOF."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            client.send(get("/", "Connection: close\r\n") + get("/ignored"))
            response = await client.response()
            assert response.headers["connection"] == "close"
            assert await client.reader.read() == b""
            await client.close()

    run(scenario)


# -- request bodies ----------------------------------------------------------------------


def test_content_length_body_is_read_whole(run):
    """A Content-Length body reaches the handler intact."""

    async def scenario():
        async with serving(echo) as (_, port):
            client = await Client.connect(port)
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world")
            assert (await client.response()).body == b"hello world"
            await client.close()

    run(scenario)


def test_chunked_request_body_streams_piece_by_piece(run):
    """The handler gets the first chunk before the client has sent the rest."""

    async def scenario():
        first_seen = asyncio.Event()

        async def handler(request, response):
            pieces = []
            async for piece in request.body:
                pieces.append(piece)
                first_seen.set()
            assert request.body.length is None
            await response.send(200, OK_HEADERS, b"|".join(pieces))

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(
                b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
            )
            async with asyncio.timeout(5):
                await first_seen.wait()
            client.send(b"6;ext=1\r\nsecond\r\n0\r\nX-Trailer: 1\r\n\r\n")
            assert (await client.response()).body == b"first|second"
            await client.close()

    run(scenario)


def test_unread_body_pauses_reading_and_stays_bounded(run):
    """A handler that does not read holds at most about the body buffer in memory."""

    async def scenario():
        go = asyncio.Event()
        bodies = []

        async def handler(request, response):
            bodies.append(request.body)
            await go.wait()
            data = await request.body.read(64 << 20)
            await response.send(200, OK_HEADERS, str(len(data)).encode())

        size = 32 << 20
        limits = Limits(body_buffer=64 * 1024)
        async with serving(handler, limits) as (_, port):
            client = await Client.connect(port)
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size)
            client.send(b"x" * size)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await client.writer.drain()  # kernel buffers full: the server paused
            assert bodies[0].buffered <= 64 * 1024 + 256 * 1024  # the limit plus one read
            go.set()
            assert (await client.response()).body == str(size).encode()
            await client.close()

    run(scenario)


def test_body_too_large_by_content_length_is_refused_before_the_body(run):
    """A declared length over the limit is answered 413 from the head alone, then closed."""

    async def scenario():
        async with serving(echo) as (_, port):
            client = await Client.connect(port)
            client.send(b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\n")
            response = await client.response()
            assert response.status == 413
            assert response.headers["connection"] == "close"
            assert await client.at_eof()
            await client.close()

    run(scenario)


def test_body_too_large_in_chunked_body_is_refused_once_exceeded(run):
    """A chunked body is refused with 413 as soon as the bytes received pass the limit."""

    async def scenario():
        async def handler(request, response):
            await request.body.read(1000)

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            client.send(b"258\r\n" + b"x" * 600 + b"\r\n" + b"258\r\n" + b"x" * 600 + b"\r\n")
            response = await client.response()  # no final chunk was sent
            assert response.status == 413
            assert response.headers["content-type"] == "text/plain; charset=utf-8"
            assert await client.at_eof()
            await client.close()

    run(scenario)


def test_body_too_large_can_be_caught_by_the_handler(run):
    """BodyTooLarge raised by read() is the handler's to turn into its own answer."""

    async def scenario():
        async def handler(request, response):
            try:
                await request.body.read(4)
            except BodyTooLarge as exc:
                await response.send(exc.status, OK_HEADERS, b"too big")

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n12345")
            assert (await client.response()).body == b"too big"
            await client.close()

    run(scenario)


def test_small_unread_body_is_drained_and_connection_reused(run):
    """A small body the handler ignored is skipped and the next request is served."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            client.send(
                b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
            )
            client.send(get("/b"))
            assert (await client.response()).body == b"hello /a"
            assert (await client.response()).body == b"hello /b"
            await client.close()

    run(scenario)


def test_large_unread_body_closes_connection(run):
    """A large body the handler ignored ends the connection after the response."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            client.send(b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n")
            response = await client.response()
            assert response.headers["connection"] == "close"
            assert await client.at_eof()
            await client.close()

    run(scenario)


def test_expect_continue_is_answered_when_the_handler_reads(run):
    """`Expect: 100-continue` gets `100 Continue` once the handler asks for the body."""

    async def scenario():
        async with serving(echo) as (_, port):
            client = await Client.connect(port)
            client.send(
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
            )
            assert (await client.response()).status == 100
            client.send(b"ok")
            assert (await client.response()).body == b"ok"
            await client.close()

    run(scenario)


# -- responses ---------------------------------------------------------------------------


def test_head_response_carries_length_but_no_body(run):
    """A HEAD answer has the Content-Length of the body it leaves out."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            client.send(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" + get("/y"))
            head = await client.response(head_request=True)
            assert head.headers["content-length"] == "8"
            assert (await client.response()).body == b"hello /y"  # no stray body in between
            await client.close()

    run(scenario)


def test_streamed_response_uses_chunked_encoding(run):
    """A response started without a length is sent chunked, piece by piece."""

    async def scenario():
        async def handler(request, response):
            await response.start(200, OK_HEADERS)
            for piece in (b"one", b"", b"two"):
                await response.write(piece)
            await response.end()

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            response = await client.response()
            assert response.headers["transfer-encoding"] == "chunked"
            assert response.body == b"onetwo"
            await client.close()

    run(scenario)


def test_http10_response_without_length_is_close_delimited(run):
    """An HTTP/1.0 client gets an unframed body that ends with the connection."""

    async def scenario():
        async def handler(request, response):
            await response.start(200, OK_HEADERS)
            await response.write(b"streamed")
            await response.end()

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(b"GET / HTTP/1.0\r\n\r\n")
            response = await client.response()
            assert "transfer-encoding" not in response.headers
            assert "content-length" not in response.headers
            assert response.body == b"streamed"
            await client.close()

    run(scenario)


def test_http10_keep_alive_only_when_asked(run):
    """An HTTP/1.0 client asking for keep-alive gets it, and says so in the answer."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            client.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert (await client.response()).headers["connection"] == "keep-alive"
            client.send(b"GET /b HTTP/1.0\r\n\r\n")
            assert (await client.response()).body == b"hello /b"
            assert await client.at_eof()
            await client.close()

    run(scenario)


def test_final_answer_to_expect_continue_closes_the_connection(run):
    """Answering without reading a body held back for `100 Continue` ends the connection."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            client.send(
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
            )
            response = await client.response()
            assert (response.status, response.headers["connection"]) == (200, "close")
            assert await client.at_eof()
            await client.close()

    run(scenario)


def test_half_closed_client_still_gets_its_response(run):
    """A client that shuts down its sending side after the request is still answered."""

    async def scenario():
        async def handler(request, response):
            await asyncio.sleep(0.05)  # answer after the client's FIN has arrived
            await response.send(200, OK_HEADERS, b"late")

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            client.writer.write_eof()
            response = await client.response()
            assert response.body == b"late"
            assert await client.at_eof()
            await client.close()

    run(scenario)


def test_client_not_reading_is_dropped_at_the_write_timeout(run):
    """With write_timeout set, a response stuck behind a client that never reads is aborted."""

    async def scenario():
        errors = []
        aborted = asyncio.Event()

        async def handler(request, response):
            await response.start(200, OK_HEADERS)
            try:
                while True:
                    await response.write(b"x" * 65536)
            except ConnectionError as exc:
                errors.append(exc)
                aborted.set()
                raise

        async with serving(handler, Limits(write_timeout=0.3)) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            async with asyncio.timeout(5):
                await aborted.wait()
            assert isinstance(errors[0], ConnectionAbortedError)
            await client.close()

    run(scenario)


def test_handler_returning_without_an_answer_gets_500(run):
    """A handler that forgets to respond leaves the client a 500, not a hang."""

    async def scenario():
        async def handler(request, response):
            return None

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            assert (await client.response()).status == 500
            await client.close()

    run(scenario)


def test_layer_adds_only_framing_headers(run):
    """The answer carries the handler's headers plus Content-Length, and nothing else."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            response = await client.response()
            assert set(response.headers) == {"content-type", "content-length"}
            await client.close()

    run(scenario)


def test_response_header_with_newline_is_refused(run):
    """A CR or LF in a response header value never reaches the wire (500 instead)."""

    async def scenario():
        async def handler(request, response):
            await response.send(200, [("x-bad", "a\r\nSet-Cookie: x=1")], b"")

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            response = await client.response()
            assert response.status == 500
            assert "set-cookie" not in response.headers
            await client.close()

    run(scenario)


def test_write_waits_while_the_client_does_not_read(run):
    """write() blocks on a client that stops reading, so the response is not buffered."""

    async def scenario():
        written = []
        finished = asyncio.Event()
        piece = b"x" * 65536

        async def handler(request, response):
            await response.start(200, OK_HEADERS, length=len(piece) * 1024)
            for _ in range(1024):  # 64 MiB
                await response.write(piece)
                written.append(len(piece))
            await response.end()
            finished.set()

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            with pytest.raises(TimeoutError):  # the handler cannot finish while nobody reads
                async with asyncio.timeout(0.5):
                    await finished.wait()
            assert sum(written) < 32 << 20
            response = await client.response()
            assert len(response.body) == 64 << 20
            await client.close()

    run(scenario)


# -- handler failures --------------------------------------------------------------------


def test_handler_error_before_start_answers_500(run):
    """An exception before the response started becomes a plain 500."""

    async def scenario():
        async def handler(request, response):
            raise RuntimeError("boom")

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            response = await client.response()
            assert (response.status, response.body) == (500, b"Internal Server Error")
            assert response.headers["content-type"] == "text/plain; charset=utf-8"
            await client.close()

    run(scenario)


def test_handler_error_after_start_closes_connection(run):
    """An exception mid-stream ends the connection without a terminating chunk."""

    async def scenario():
        async def handler(request, response):
            await response.start(200, OK_HEADERS)
            await response.write(b"partial")
            raise RuntimeError("boom")

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            raw = await client.reader.read()  # until EOF
            assert raw.endswith(b"7\r\npartial\r\n")
            await client.close()

    run(scenario)


def test_client_gone_completes_when_the_peer_disconnects(run):
    """client_gone() resolves once the client has closed its socket."""

    async def scenario():
        streaming = asyncio.Event()
        gone = asyncio.Event()

        async def handler(request, response):
            await response.start(200, OK_HEADERS)
            streaming.set()
            await response.client_gone()
            gone.set()

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            async with asyncio.timeout(5):
                await streaming.wait()
                await client.close()
                await gone.wait()

    run(scenario)


# -- shutdown ----------------------------------------------------------------------------


def test_shutdown_drains_in_flight_request_and_closes_idle_connections(run):
    """Shutdown closes an idle connection at once and lets a running request finish."""

    async def scenario():
        started = asyncio.Event()
        finish = asyncio.Event()

        async def handler(request, response):
            if request.path == "/slow":
                started.set()
                await finish.wait()
            await response.send(200, OK_HEADERS, b"done")

        server = HTTPServer(handler)
        ((_, port),) = await server.start("127.0.0.1", 0)
        idle = await Client.connect(port)
        idle.send(get("/quick"))
        await idle.response()
        busy = await Client.connect(port)
        busy.send(get("/slow"))
        await started.wait()
        shutdown = asyncio.create_task(server.shutdown(grace=5.0))
        assert await idle.at_eof()
        assert not shutdown.done()
        finish.set()
        response = await busy.response()
        assert (response.status, response.headers["connection"]) == (200, "close")
        await shutdown
        with pytest.raises(OSError):
            await Client.connect(port)
        await idle.close()
        await busy.close()

    run(scenario)


def test_shutdown_cancels_handlers_still_running_after_grace(run):
    """A handler that outlives the grace period is cancelled and its connection dropped."""

    async def scenario():
        started = asyncio.Event()
        cancelled = []

        async def handler(request, response):
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        server = HTTPServer(handler)
        ((_, port),) = await server.start("127.0.0.1", 0)
        client = await Client.connect(port)
        client.send(get())
        await started.wait()
        await server.shutdown(grace=0.2)
        assert cancelled == [True]
        assert await client.at_eof()
        await client.close()

    run(scenario)


def test_closing_event_lets_a_stream_end_cleanly(run):
    """A long-running stream that awaits `closing` ends with a proper last chunk."""

    async def scenario():
        streaming = asyncio.Event()
        server: HTTPServer

        async def handler(request, response):
            await response.start(200, OK_HEADERS)
            await response.write(b"event\n")
            streaming.set()
            await server.closing.wait()
            await response.end()

        server = HTTPServer(handler)
        ((_, port),) = await server.start("127.0.0.1", 0)
        client = await Client.connect(port)
        client.send(get("/watch"))
        await streaming.wait()
        shutdown = asyncio.create_task(server.shutdown(grace=5.0))
        response = await client.response()
        assert response.body == b"event\n"
        await shutdown
        await client.close()

    run(scenario)


# -- timeouts ----------------------------------------------------------------------------


def test_slow_head_is_answered_408_at_the_header_timeout(run):
    """A client trickling its head is cut off at header_timeout with 408."""

    async def scenario():
        async with serving(hello, Limits(header_timeout=0.3)) as (_, port):
            client = await Client.connect(port)
            client.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
            for _ in range(3):  # bytes keep coming, but the deadline does not move
                await asyncio.sleep(0.1)
                client.send(b"X: 1\r\n")
            response = await client.response()
            assert response.status == 408
            assert await client.at_eof()
            await client.close()

    run(scenario)


def test_silent_new_connection_is_closed_at_the_header_timeout(run):
    """A connection that never sends a byte is closed without an answer."""

    async def scenario():
        async with serving(hello, Limits(header_timeout=0.2)) as (_, port):
            client = await Client.connect(port)
            assert await client.reader.read() == b""
            await client.close()

    run(scenario)


def test_idle_keep_alive_connection_is_closed_at_the_keepalive_timeout(run):
    """A keep-alive connection idle past keepalive_timeout is closed."""

    async def scenario():
        async with serving(hello, Limits(keepalive_timeout=0.2)) as (_, port):
            client = await Client.connect(port)
            client.send(get())
            await client.response()
            assert await client.reader.read() == b""
            await client.close()

    run(scenario)


def test_stalled_body_is_closed_at_the_body_idle_timeout(run):
    """A body that stops arriving fails the read with 408 and ends the connection."""

    async def scenario():
        async with serving(echo, Limits(body_idle_timeout=0.2)) as (_, port):
            client = await Client.connect(port)
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            response = await client.response()
            assert response.status == 408
            assert await client.at_eof()
            await client.close()

    run(scenario)


# -- TLS, upgrades, addresses, connection limit ------------------------------------------


def _certificates(directory: Path) -> tuple[Path, Path, Path, Path, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate for alice."""
    now = datetime.datetime.now(datetime.UTC)

    def issue(subject, issuer, key, issuer_key, *, ca=False, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def name(cn, org=None):
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attributes)

    def write(filename, data):
        path = directory / filename
        path.write_bytes(data)
        return path

    def pem_key(key):
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = issue(name("test-ca"), name("test-ca"), ca_key, ca_key, ca=True)
    server = issue(
        name("server"),
        ca.subject,
        server_key,
        ca_key,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client = issue(name("alice", "admins"), ca.subject, client_key, ca_key)
    pem = serialization.Encoding.PEM
    return (
        write("ca.pem", ca.public_bytes(pem)),
        write("server.pem", server.public_bytes(pem)),
        write("server-key.pem", pem_key(server_key)),
        write("client.pem", client.public_bytes(pem)),
        write("client-key.pem", pem_key(client_key)),
    )


def test_tls_request_carries_the_verified_client_certificate(run, tmp_path):
    """Over TLS the request is marked tls and carries the client's certificate."""
    ca, server_cert, server_key, client_cert, client_key = _certificates(tmp_path)

    async def scenario():
        seen = []

        async def handler(request, response):
            seen.append(request)
            await response.send(200, OK_HEADERS, b"secure")

        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
        server_context.load_cert_chain(server_cert, server_key)
        server_context.verify_mode = ssl.CERT_OPTIONAL
        client_context = ssl.create_default_context(cafile=str(ca))
        client_context.load_cert_chain(client_cert, client_key)
        async with serving(handler, ssl_context=server_context) as (_, port):
            client = await Client.connect(port, ssl=client_context)
            client.send(get())
            assert (await client.response()).body == b"secure"
            await client.close()
        (request,) = seen
        assert request.tls
        assert ((("commonName", "alice"),),) == request.peer_cert["subject"][:1]
        der = x509.load_pem_x509_certificate(client_cert.read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
        assert request.peer_cert_der == der

    run(scenario)


def test_upgrade_detach_hands_over_the_bytes_after_the_head(run):
    """detach() returns the raw transport with the bytes the client sent early."""

    class Echo(asyncio.Protocol):
        def __init__(self, transport: asyncio.Transport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data.upper())

    async def scenario():
        early = []

        async def handler(request, response):
            assert request.upgrade == "echo"
            await response.start(101, [("Upgrade", "echo"), ("Connection", "Upgrade")])
            transport, buffered = await response.detach()
            early.append(buffered)
            transport.set_protocol(Echo(transport))
            transport.write(buffered.upper())
            transport.resume_reading()

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get("/", "Connection: Upgrade\r\nUpgrade: echo\r\n") + b"early")
            response = await client.response()
            assert response.status == 101
            assert "connection: close" not in str(response.headers).lower()
            assert await client.reader.readexactly(5) == b"EARLY"
            client.send(b"later")
            assert await client.reader.readexactly(5) == b"LATER"
            await client.close()
        assert early == [b"early"]

    run(scenario)


def test_detach_before_answering_lets_the_handler_write_raw_bytes(run):
    """A handler may detach first and write a raw 101 itself (as a proxy relays a backend's)."""

    async def scenario():
        async def handler(request, response):
            transport, _ = await response.detach()
            transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw")
            transport.close()

        async with serving(handler) as (_, port):
            client = await Client.connect(port)
            client.send(get("/", "Connection: upgrade\r\nUpgrade: x\r\n"))
            raw = await client.reader.read()
            assert raw == b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw"
            await client.close()

    run(scenario)


def test_upgrade_request_not_taken_over_is_closed_after_the_answer(run):
    """An upgrade request answered normally gets `Connection: close` and EOF."""

    async def scenario():
        async with serving(hello) as (_, port):
            client = await Client.connect(port)
            client.send(get("/", "Connection: upgrade\r\nUpgrade: websocket\r\n") + get("/x"))
            response = await client.response()
            assert (response.status, response.headers["connection"]) == (200, "close")
            assert await client.at_eof()
            await client.close()

    run(scenario)


def test_server_listens_on_ipv6_loopback(run):
    """start() binds an IPv6 host and serves on it."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")

    async def scenario():
        server = HTTPServer(hello)
        ((host, port),) = await server.start("::1", 0)
        assert host == "::1" and port > 0
        reader, writer = await asyncio.open_connection("::1", port)
        client = Client(reader, writer)
        client.send(get("/v6"))
        assert (await client.response()).body == b"hello /v6"
        await client.close()
        await server.shutdown(grace=1.0)

    run(scenario)


def test_connections_beyond_the_maximum_are_closed(run):
    """With max_connections reached, a further connection is closed at once."""

    async def scenario():
        async with serving(hello, Limits(max_connections=1)) as (_, port):
            first = await Client.connect(port)
            first.send(get())
            await first.response()
            second = await Client.connect(port)
            second.send(get())
            assert await second.at_eof()
            first.send(get("/still"))
            assert (await first.response()).body == b"hello /still"
            await first.close()
            await second.close()

    run(scenario)
