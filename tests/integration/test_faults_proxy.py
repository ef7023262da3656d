"""Proxy faults against an in-process kubegate with short, configured backend timeouts:
a backend that drips, stalls before its head, resets mid-body, or is left by its client
mid-stream — each gives a clean, bounded outcome and leaves no task or file descriptor
behind (security.md A38). Refused dials, resets before the head and the 60 s default
header timeout are in tests/integration/proxy/test_faults.py.

The server runs in the test's own event loop, so /proc/self/fd and asyncio.all_tasks()
count the server's descriptors and tasks (and the test's, which are back to the same
number once each repetition is over)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from integration.proxy.harness import (
    Backend,
    Backends,
    Cluster,
    Exchange,
    Kubegate,
    Port,
    new_cluster,
    request_bytes,
)
from kubegate.server.operations_settings import OperationsSettings
from kubegate.server.serve import start_server
from kubegate.server.settings import ServeSettings

HEADER_TIMEOUT = 0.6  # --proxy-response-header-timeout of the server under test
IDLE_TIMEOUT = 0.6  # --proxy-idle-timeout
MARGIN = 1.5  # scheduling slack on a shared 2-core machine
REPEATS = [20, pytest.param(1000, marks=pytest.mark.slow, id="1000")]  # A38 asks for 1,000
SETTLE = 5.0  # seconds for closed connections and finished tasks to be gone


@pytest.fixture
async def kg(tmp_path: Path) -> AsyncIterator[Kubegate]:
    """kubegate serve, in this process, allowed to proxy to loopback backends."""
    settings = ServeSettings(
        secure_port=0,
        data_dir=tmp_path / "data",
        store_url="memory:",
        proxy_allow_cidrs=("127.0.0.0/8",),
        shutdown_grace=2.0,
        operations=OperationsSettings(
            tls_reload_interval=0,
            proxy_response_header_timeout=HEADER_TIMEOUT,
            proxy_idle_timeout=IDLE_TIMEOUT,
        ),
    )
    running, stop = await start_server(settings, out=io.StringIO())
    me = SimpleNamespace(
        url=running.url, data_dir=tmp_path / "data", proc=SimpleNamespace(pid=os.getpid())
    )
    try:
        yield Kubegate(me)  # type: ignore[arg-type]
    finally:
        await stop()  # type: ignore[misc]


@pytest.fixture
async def backends() -> AsyncIterator[Backends]:
    started = Backends()
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def cluster(kg: Kubegate) -> Cluster:
    return await new_cluster(kg)


def resources() -> tuple[int, int]:
    """(open file descriptors, asyncio tasks) of this process."""
    return len(os.listdir("/proc/self/fd")), len(asyncio.all_tasks())


async def settled_at_most(baseline: tuple[int, int]) -> tuple[int, int]:
    """Poll until fds and tasks are back at or below ``baseline``; the last reading."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while True:
        now = resources()
        if (now[0] <= baseline[0] and now[1] <= baseline[1]) or loop.time() > deadline:
            return now
        await asyncio.sleep(0.05)


async def leak_check(
    warm_up: Callable[[], Awaitable[None]], fault: Callable[[], Awaitable[None]], repeat: int
) -> None:
    """Run ``fault`` ``repeat`` times between two ``warm_up`` calls; nothing may be left over."""
    await warm_up()
    baseline = await settled_at_most(resources())
    for _ in range(repeat):
        await fault()
    await warm_up()
    after = await settled_at_most(baseline)
    assert after[0] <= baseline[0], f"file descriptors: {baseline[0]} before, {after[0]} after"
    assert after[1] <= baseline[1], f"asyncio tasks: {baseline[1]} before, {after[1]} after"


async def served(cluster: Cluster) -> None:
    response = await cluster.get("services", "svc", "/ok")
    assert response.status == 200


async def open_stream(cluster: Cluster, subpath: str):  # type: ignore[no-untyped-def]
    """A client connection with a proxied GET sent and its response head read."""
    conn = await cluster.kg.connect()
    target = cluster.path("services", "svc", subpath)
    await conn.send(request_bytes("GET", target, cluster.kg.netloc, [cluster.kg.bearer]))
    return conn, await conn.read_head()


def routed(paths: dict[str, Callable[[Exchange], Awaitable[None]]]):  # type: ignore[no-untyped-def]
    """A backend handler choosing by path; anything else is a small 200."""

    async def handler(exchange: Exchange) -> None:
        for prefix, handle in paths.items():
            if exchange.request.target.startswith(prefix):
                await handle(exchange)
                return
        await exchange.respond(200, [("Content-Type", "text/plain")], b"ok")

    return handler


async def serve(cluster: Cluster, backends: Backends, paths) -> Backend:  # type: ignore[no-untyped-def]
    backend = await backends.http(routed(paths))
    await cluster.serve("svc", Port(backend))
    return backend


# -- the faults -----------------------------------------------------------------------------


async def drip(exchange: Exchange) -> None:
    """One body byte, then silence longer than the proxy's idle timeout, forever."""
    await exchange.respond(200, [("Content-Length", "1000")])
    exchange.keep_alive = False
    with contextlib.suppress(ConnectionError):
        while True:
            await exchange.write(b"x")
            try:  # the next byte after a long pause, unless the proxy hangs up first
                async with asyncio.timeout(IDLE_TIMEOUT * 3):
                    if not await exchange.reader.read(1):
                        return
            except TimeoutError:
                continue


async def silent(exchange: Exchange) -> None:
    """Reads the request and never answers; returns when the proxy hangs up."""
    while await exchange.reader.read(65536):
        pass


async def reset_mid_body(exchange: Exchange) -> None:
    """Promises 100,000 bytes, sends 1,000, then resets the connection."""
    await exchange.respond(200, [("Content-Length", "100000")])
    await exchange.write(b"y" * 1000)
    exchange.reset()


async def endless_stream(exchange: Exchange) -> None:
    """A chunked stream that writes a chunk every 20 ms until the proxy goes away."""
    await exchange.respond(
        200, [("Transfer-Encoding", "chunked"), ("Content-Type", "text/event-stream")]
    )
    with contextlib.suppress(ConnectionError):
        while True:
            await exchange.write(b"6\r\ndata:\n\r\n")
            await asyncio.sleep(0.02)
    exchange.keep_alive = False


async def test_backend_dripping_slower_than_the_idle_timeout_is_cut(cluster, backends):
    """A body that stalls longer than --proxy-idle-timeout is cut: the client gets the head
    and a truncated body, then the connection closes, and the backend's is closed too."""
    backend = await serve(cluster, backends, {"/drip": drip})
    loop = asyncio.get_running_loop()
    conn, head = await open_stream(cluster, "/drip")
    try:
        assert head.status == 200 and head.header("content-length") == "1000"
        started = loop.time()
        body = await conn.read_until_eof(within=IDLE_TIMEOUT + MARGIN + 2)
        elapsed = loop.time() - started
    finally:
        await conn.close()
    assert 0 < len(body) < 1000
    assert elapsed < IDLE_TIMEOUT + MARGIN
    await backend.wait_for(lambda: backend.connection_ended(backend.requests[0]), within=MARGIN)


async def test_backend_silent_before_its_head_gets_504_at_the_configured_timeout(cluster, backends):
    """No response head within --proxy-response-header-timeout is a 504 Status at that
    timeout (not at the 60 s default), and the backend connection is closed."""
    backend = await serve(cluster, backends, {"/hang": silent})
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await cluster.get("services", "svc", "/hang")
    elapsed = loop.time() - started
    assert response.status == 504
    assert response.json()["kind"] == "Status"
    assert response.message.startswith("error trying to reach service: ")
    assert HEADER_TIMEOUT * 0.9 <= elapsed < HEADER_TIMEOUT + MARGIN
    hung = next(r for r in backend.requests if r.target.endswith("/hang"))
    await backend.wait_for(lambda: backend.connection_ended(hung), within=MARGIN)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("repeat", REPEATS)
async def test_backend_reset_mid_body_truncates_the_response_and_leaks_nothing(
    cluster, backends, repeat
):
    """A reset mid-body reaches the client as a response cut short; repeated, it leaves no
    file descriptor or task behind, and the next request is served."""
    await serve(cluster, backends, {"/reset": reset_mid_body})

    async def fault() -> None:
        conn, head = await open_stream(cluster, "/reset")
        try:
            assert head.status == 200
            body = await conn.read_until_eof(within=IDLE_TIMEOUT + MARGIN)
            assert 0 < len(body) < 100000
        finally:
            await conn.close()

    await leak_check(lambda: served(cluster), fault, repeat)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("repeat", REPEATS)
async def test_client_leaving_mid_stream_closes_the_backend_connection_promptly(
    cluster, backends, repeat
):
    """A client that drops a streaming response has its backend connection closed within a
    second; repeated, nothing is left behind."""
    backend = await serve(cluster, backends, {"/stream": endless_stream})

    async def fault() -> None:
        before = len(backend.requests)
        conn, head = await open_stream(cluster, "/stream")
        assert head.status == 200
        await conn.reader.readuntil(b"data:\n")  # the stream is flowing
        conn.writer.transport.abort()
        request = backend.requests[before]
        await backend.wait_for(lambda: backend.connection_ended(request), within=1.0)

    await leak_check(lambda: served(cluster), fault, repeat)
