"""The upstream client over TLS: the default (kube-compatible) context verifies nothing; a
given context verifies the backend against its CA and the SNI name.

Every scenario runs on asyncio's loop and on uvloop and fails if it leaves a task behind.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from test_http_client_support import (
    LOOPS,
    Certificates,
    Scenario,
    answer_each,
    loop_runner,
    make_certificates,
    raw_backend,
    upstream_pool,
)

from kubegate.http import UpstreamError, UpstreamTarget, tls_client_context

HOST = [("Host", "backend.test")]
SERVER_NAME = "backend.test"


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    return loop_runner(request)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(SERVER_NAME, Path(tmp_path_factory.mktemp("client-tls")))


def sni_recording(context: ssl.SSLContext, names: list[str | None]) -> ssl.SSLContext:
    def record(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = record  # type: ignore[assignment]
    return context


async def body_of(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join([piece async for piece in response])


def test_tls_without_a_context_does_not_verify(run, certs):
    """tls=True and no context reaches a backend whose CA nobody configured."""

    async def scenario():
        async with raw_backend(answer_each, ssl=certs.server_context()) as backend:
            async with upstream_pool() as pool:
                target = UpstreamTarget("127.0.0.1", backend.port, tls=True)
                for _ in range(2):
                    assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
                assert pool.stats(target).opened == 1  # kept alive over TLS too

    run(scenario)


def test_tls_with_the_right_ca_and_name_verifies(run, certs):
    """A context trusting the backend's CA, with the certificate's name as SNI, passes; the
    backend sees the SNI name."""

    async def scenario():
        names: list[str | None] = []
        server_context = sni_recording(certs.server_context(), names)
        async with raw_backend(answer_each, ssl=server_context) as backend:
            async with upstream_pool() as pool:
                target = UpstreamTarget(
                    "127.0.0.1",
                    backend.port,
                    tls=True,
                    server_hostname=SERVER_NAME,
                    ssl_context=tls_client_context(certs.ca_pem),
                )
                assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
        assert names == [SERVER_NAME]

    run(scenario)


def test_tls_with_the_wrong_ca_is_a_tls_error(run, certs):
    """A backend certificate that does not chain to the given CA fails with kind "tls"."""

    async def scenario():
        async with raw_backend(answer_each, ssl=certs.server_context()) as backend:
            async with upstream_pool() as pool:
                target = UpstreamTarget(
                    "127.0.0.1",
                    backend.port,
                    tls=True,
                    server_hostname=SERVER_NAME,
                    ssl_context=tls_client_context(certs.other_ca_pem),
                )
                with pytest.raises(UpstreamError) as caught:
                    await pool.request(target, "GET", "/", HOST)
        assert caught.value.kind == "tls"
        assert "failed to verify certificate" in caught.value.message

    run(scenario)


def test_tls_with_the_wrong_name_is_a_tls_error(run, certs):
    """The right CA but a name the certificate does not carry fails with kind "tls"."""

    async def scenario():
        async with raw_backend(answer_each, ssl=certs.server_context()) as backend:
            async with upstream_pool() as pool:
                target = UpstreamTarget(
                    "127.0.0.1",
                    backend.port,
                    tls=True,
                    server_hostname="other.test",
                    ssl_context=tls_client_context(certs.ca_pem),
                )
                with pytest.raises(UpstreamError) as caught:
                    await pool.request(target, "GET", "/", HOST)
        assert caught.value.kind == "tls"

    run(scenario)


def test_tls_to_a_plain_backend_is_a_tls_error(run):
    """Speaking TLS to a backend that answers in plain HTTP fails the handshake."""

    async def scenario():
        async def plain(reader, writer):
            await reader.read(1)  # the ClientHello
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await reader.read()

        async with raw_backend(plain) as backend, upstream_pool() as pool:
            target = UpstreamTarget("127.0.0.1", backend.port, tls=True)
            with pytest.raises(UpstreamError) as caught:
                await pool.request(target, "GET", "/", HOST)
        assert caught.value.kind == "tls"

    run(scenario)


def test_default_context_offers_only_http11_over_alpn(run, certs):
    """The backend sees ALPN http/1.1 offered by the shared context."""

    async def scenario():
        protocols: list[str | None] = []
        context = certs.server_context()
        context.set_alpn_protocols(["h2", "http/1.1"])

        async def record(reader, writer):
            protocols.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
            await answer_each(reader, writer)

        async with raw_backend(record, ssl=context) as backend, upstream_pool() as pool:
            target = UpstreamTarget("127.0.0.1", backend.port, tls=True)
            assert await body_of(await pool.request(target, "GET", "/", HOST)) == b"ok"
        assert protocols == ["http/1.1"]

    run(scenario)
