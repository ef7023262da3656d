"""Backends that refuse, reset, hang or break HTTP: the answers kubegate gives, how fast, and
that it retries another endpoint when one cannot be dialled (k8s-proxy-semantics.md §2.3,
§2.6; security.md A35, A38)."""

from __future__ import annotations

import asyncio

import pytest

from integration.proxy.harness import (
    Cluster,
    Exchange,
    Port,
    closed_port,
    eventually,
    request_bytes,
)


async def refused_pod(cluster: Cluster) -> tuple[str, int]:
    """A Pod whose only port has nothing listening; returns its proxy id and the port."""
    port = closed_port()
    await cluster.pod("dead", [("web", port)])
    await cluster.wait_found("pods", "dead")
    return "dead", port


async def test_refused_connection_is_503_error_trying_to_reach_service(cluster):
    """A refused dial answers 503 ``error trying to reach service: dial tcp …: connection refused``."""
    proxy_id, port = await refused_pod(cluster)
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await cluster.get("pods", proxy_id, "/x")
    assert loop.time() - started < 1.0
    assert response.status == 503
    assert response.json()["reason"] == "ServiceUnavailable"
    assert (
        response.message
        == f"error trying to reach service: dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


@pytest.mark.parametrize(
    "query", ["x=%3Cscript%3Ealert(1)%3C/script%3E", "x=<script>alert(1)</script>"]
)
async def test_error_for_a_dead_backend_does_not_echo_the_url(cluster, query):
    """The error body never reflects markup from the query and is marked nosniff (A35)."""
    proxy_id, _ = await refused_pod(cluster)
    response = await cluster.get("pods", proxy_id, f"/x?{query}")
    assert response.status in (400, 503)
    assert response.header("x-content-type-options") == "nosniff"
    assert b"script" not in response.body.lower()


async def test_one_refusing_endpoint_is_skipped_for_another(cluster, backends):
    """With one endpoint refusing and one serving, every GET succeeds (the dial is retried)."""
    backend = await backends.http()
    await cluster.pod("dead", [("web", closed_port())], labels={"app": "svc"})
    await cluster.service(
        "svc", [{"name": "http", "port": 80, "targetPort": "web"}], selector={"app": "svc"}
    )
    first = await eventually(
        lambda: cluster.get("services", "svc"),
        lambda r: r.message.startswith("error trying to reach service"),
    )
    assert first.status == 503  # the refusing endpoint is in the proxy's view
    await cluster.pod("alive", [("web", backend.port)], labels={"app": "svc"})
    await cluster.wait_ready("services", "svc")
    statuses = [(await cluster.get("services", "svc", f"/{i}")).status for i in range(20)]
    assert statuses == [200] * 20
    assert len(backend.requests) == 20


def resetting(exchange: Exchange) -> asyncio.Future[None]:
    """Reads the request, then resets the connection without answering."""
    exchange.reset()
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


async def closing_silently(exchange: Exchange) -> None:
    exchange.keep_alive = False


async def malformed(exchange: Exchange) -> None:
    await exchange.write(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello"
    )


@pytest.mark.parametrize(
    "handler", [resetting, closing_silently, malformed], ids=["reset", "eof", "framing"]
)
async def test_broken_backend_answer_is_502(cluster, backends, handler):
    """A reset, an EOF instead of an answer, or ambiguous framing answer 502 (kubegate's kinds)."""
    backend = await backends.http(handler)
    await cluster.serve("svc", Port(backend))
    response = await cluster.get("services", "svc", "/x")
    assert response.status == 502
    assert response.message.startswith("error trying to reach service: ")
    again = await cluster.get("services", "svc", "/__ready")
    assert again.status == 204  # the server keeps working


async def waiting_for_eof(exchange: Exchange) -> None:
    """Never answers; returns when the proxy closes (or resets) the connection."""
    while await exchange.reader.read(65536):
        pass


async def test_client_leaving_before_the_answer_closes_the_backend_connection(cluster, backends):
    """A client that disconnects while the backend thinks has its backend connection closed (A38)."""
    backend = await backends.http(waiting_for_eof)
    await cluster.serve("svc", Port(backend))
    conn = await cluster.kg.connect()
    target = cluster.path("services", "svc", "/slow")
    await conn.send(request_bytes("GET", target, cluster.kg.netloc, [cluster.kg.bearer]))
    await backend.wait_for(lambda: len(backend.requests) == 1)
    conn.writer.transport.abort()
    request = backend.requests[0]
    await backend.wait_for(lambda: backend.connection_ended(request), within=3)


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_backend_that_never_answers_is_504_at_the_header_timeout(cluster, backends):
    """A backend that accepts a request but never answers gets a 504 after kubegate's
    response-header timeout (60 s; kube has none), and its connection is closed (A38)."""
    backend = await backends.http(waiting_for_eof)
    await cluster.serve("svc", Port(backend))
    response = await cluster.get("services", "svc", "/hang", within=120)
    assert response.status == 504
    assert response.message.startswith("error trying to reach service: ")
    await backend.wait_for(lambda: backend.connection_ended(backend.requests[0]), within=3)
