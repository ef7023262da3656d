"""TCP keepalive on upstream connections (``UpstreamPool(tcp_keepalive=...)``), on asyncio's
loop and on uvloop: the kernel probes a quiet watch connection, so a vanished peer resets it."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from aiohttp import web
from test_http_client_support import LOOPS, Scenario, aiohttp_backend, loop_runner, upstream_pool

from kubegate.http import TCPKeepalive, UpstreamTarget

HOST = [("Host", "backend.test")]


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    return loop_runner(request)


def keepalive_options(sock: socket.socket) -> tuple[int, ...]:
    """SO_KEEPALIVE, then (on Linux) TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT."""
    values = [sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)]
    for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"):
        if hasattr(socket, name):
            values.append(sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name)))
    return tuple(values)


async def options_of_a_connection(**pool_options: object) -> tuple[int, ...]:
    """The keepalive options of the socket under a pool connection to an aiohttp backend."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    async with aiohttp_backend(app) as port, upstream_pool(**pool_options) as pool:  # type: ignore[arg-type]
        target = UpstreamTarget("127.0.0.1", port)
        response = await pool.request(target, "GET", "/", HOST)
        await response.read(1024)
        (conn,) = pool._slots[target].conns  # the one connection, idle in the pool now
        assert conn.transport is not None
        return keepalive_options(conn.transport.get_extra_info("socket"))


@pytest.mark.skipif(not hasattr(socket, "TCP_KEEPIDLE"), reason="Linux keepalive options")
def test_a_pool_with_tcp_keepalive_sets_the_probe_timings_on_its_connections(run):
    """SO_KEEPALIVE is on, with the idle time, probe interval and probe count asked for."""
    seen: list[tuple[int, ...]] = []

    async def scenario():
        keepalive = TCPKeepalive(idle=7, interval=3, count=2)
        seen.append(await options_of_a_connection(tcp_keepalive=keepalive))

    run(scenario)
    assert seen == [(1, 7, 3, 2)]


def test_a_pool_without_tcp_keepalive_leaves_it_off(run):
    """By default (the proxy's pools) connections do not probe."""
    seen: list[int] = []

    async def scenario():
        seen.append((await options_of_a_connection())[0])

    run(scenario)
    assert seen == [0]
