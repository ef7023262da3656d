"""Hostile request framing, Host headers and paths sent to the proxy: each is refused (or
handled unambiguously) and nothing extra, nothing elsewhere, reaches the backend
(security.md §2.1, §2.4, §2.5; A12, A17, A21)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from integration.proxy.harness import (
    Cluster,
    Port,
    backends_fixture,
    cluster_fixture,
    kubegate_fixture,
    request_bytes,
)

kg = kubegate_fixture("--proxy-allow-cidrs", "127.0.0.0/8")
backends = backends_fixture()
cluster = cluster_fixture("kg")


@pytest.fixture
async def backend(cluster, backends):
    """An echo backend published as Service ``svc`` in the test's namespace."""
    echo = await backends.http()
    await cluster.serve("svc", Port(echo))
    echo.reset()
    return echo


async def exchange(cluster: Cluster, raw: bytes) -> tuple[int | None, bytes]:
    """Send raw bytes on one connection; return the first status (None if none came) and
    everything read until kubegate closed the connection."""
    conn = await cluster.kg.connect()
    async with conn:
        with contextlib.suppress(ConnectionError):
            await conn.send(raw)
        data = await conn.read_until_eof(within=10)
    status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else None
    return status, data


def head(cluster: Cluster, lines: list[str]) -> bytes:
    """A request head from raw lines, with kubegate's bearer token added."""
    token = f"{cluster.kg.bearer[0]}: {cluster.kg.bearer[1]}"
    return ("\r\n".join([*lines, token]) + "\r\n\r\n").encode("latin-1")


# -- framing (A12) -----------------------------------------------------------------------------


async def test_content_length_with_chunked_never_smuggles_a_request(cluster, backend):
    """CL.TE: ``Content-Length: 6`` + chunked + ``0\\r\\n\\r\\nG`` ends the connection; the
    backend never parses a ``G…`` request (A12)."""
    target = cluster.path("services", "svc", "/")
    raw = (
        head(
            cluster,
            [
                f"POST {target} HTTP/1.1",
                f"Host: {cluster.kg.netloc}",
                "Content-Length: 6",
                "Transfer-Encoding: chunked",
            ],
        )
        + b"0\r\n\r\nG"
    )
    status, _ = await exchange(cluster, raw)
    assert status in (200, 400)
    assert len(backend.requests) <= 1
    assert all(r.method == "POST" for r in backend.requests)


async def test_chunked_with_content_length_never_smuggles_a_request(cluster, backend):
    """TE.CL: a chunk hiding a second request is one body or a 400, never a second request."""
    target = cluster.path("services", "svc", "/")
    hidden = b"GPOST /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nx=1\r\n"
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(hidden), hidden)
    raw = (
        head(
            cluster,
            [
                f"POST {target} HTTP/1.1",
                f"Host: {cluster.kg.netloc}",
                "Transfer-Encoding: chunked",
                "Content-Length: 4",
            ],
        )
        + body
    )
    status, _ = await exchange(cluster, raw)
    assert status in (200, 400)
    assert "/smuggled" not in backend.targets()
    assert all(r.method == "POST" for r in backend.requests)


async def test_pipelined_requests_are_answered_in_order_and_each_routed(cluster, backend):
    """Two requests in one write are two proxied requests, answered in order (A12)."""
    first = cluster.path("services", "svc", "/one")
    second = cluster.path("services", "svc", "/two")
    netloc, bearer = cluster.kg.netloc, [cluster.kg.bearer]
    raw = request_bytes("GET", first, netloc, bearer) + request_bytes(
        "GET", second, netloc, [*bearer, ("Connection", "close")]
    )
    conn = await cluster.kg.connect()
    async with conn:
        await conn.send(raw)
        one = await asyncio.wait_for(conn.read_response(), 10)
        two = await asyncio.wait_for(conn.read_response(), 10)
    assert (one.status, two.status) == (200, 200)
    assert backend.targets() == ["/one", "/two"]


# -- Host (A17) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host_lines",
    [[], ["Host: a", "Host: b"], ["Host: a b"], ["Host: evil.com@a"]],
    ids=["missing", "twice", "space", "userinfo"],
)
async def test_bad_host_header_is_400_and_reaches_nothing(cluster, backend, host_lines):
    """A request without Host, with two, or with an invalid one is refused (A17)."""
    target = cluster.path("services", "svc", "/")
    status, _ = await exchange(cluster, head(cluster, [f"GET {target} HTTP/1.1", *host_lines]))
    assert status == 400
    assert backend.requests == []


async def test_absolute_form_target_does_not_change_the_backend_host(cluster, backend):
    """An absolute-form target naming another host is refused or ignored; the backend's
    Host is its own address (A17)."""
    target = f"http://internal.example{cluster.path('services', 'svc', '/abs')}"
    status, _ = await exchange(
        cluster,
        head(cluster, [f"GET {target} HTTP/1.1", "Host: public.example", "Connection: close"]),
    )
    assert status in (200, 400)
    for request in backend.requests:
        assert request.values("Host") == [f"127.0.0.1:{backend.port}"]


# -- paths (A21) -------------------------------------------------------------------------------


TRICKS = [
    "/api/v1/namespaces/elsewhere/../{ns}/services/svc/proxy/",
    "/api/v1/namespaces/./{ns}/services/svc/proxy/",
    "/api/v1/namespaces/%2e%2e/{ns}/services/svc/proxy/",
    "/api/v1/namespaces/elsewhere%2F..%2F{ns}/services/svc/proxy/",
    "/api/v1/namespaces/{ns}/services/x%2F..%2Fsvc/proxy/",
    "/api/v1/namespaces/{ns}/services/x%252F..%252Fsvc/proxy/",
    "//api/v1/namespaces/{ns}/services/svc/proxy/",
    "/api//v1/namespaces/{ns}/services/svc/proxy/",
    "/api/v1\\namespaces\\{ns}\\services\\svc\\proxy/",
    "/api/v1/namespaces/{ns}/services/svc;x/proxy/",
    "/api/v1/namespaces/{ns}/services/svc%00/proxy/",
    "/api/v1/namespaces/{ns}/services/svc#/proxy/",
]


@pytest.mark.parametrize("trick", TRICKS)
async def test_path_tricks_outside_the_opaque_tail_reach_nothing(cluster, backend, trick):
    """Dot segments, encoded separators, doubled slashes, backslashes, ``;``, NUL and ``#``
    before ``/proxy/`` answer 400 or 404, never the service they spell (A21)."""
    target = trick.format(ns=cluster.namespace)
    status, data = await exchange(
        cluster,
        head(
            cluster, [f"GET {target} HTTP/1.1", f"Host: {cluster.kg.netloc}", "Connection: close"]
        ),
    )
    assert status in (400, 404), data[:300]
    assert backend.requests == []
