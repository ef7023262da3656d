"""Helpers for the tests of the HTTP layer's client side and tunnel (this module has no tests).

Scenarios run once on asyncio's default loop and once on uvloop (the production loop), and
fail if they leave a task behind. Backends are real servers on 127.0.0.1:0: raw asyncio
servers that script the bytes of an exchange, and aiohttp applications.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvloop
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubegate.http import UpstreamPool

Scenario = Callable[[], Awaitable[None]]
LOOPS = ["asyncio", "uvloop"]


def run_checked(loop_name: str, scenario: Scenario) -> None:
    """Run ``scenario`` on a fresh loop; fail if a task outlives it.

    Tasks of the layer (named ``kubegate-*``) must be gone at once; the test backends' own
    tasks (asyncio's server-side TLS handshakes, say) get a moment to notice a closed peer.
    """

    async def checked() -> None:
        await scenario()
        await asyncio.sleep(0)  # let connection_lost callbacks and task endings run
        ours = [task for task in others() if task.get_name().startswith("kubegate-")]
        assert not ours, f"tasks left behind: {ours}"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while others():  # noqa: ASYNC110 (foreign tasks offer nothing to await)
                    await asyncio.sleep(0.01)
        assert not others(), f"tasks left behind: {others()}"

    def others() -> set[asyncio.Task[object]]:
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    runner = uvloop.run if loop_name == "uvloop" else asyncio.run
    runner(checked())


def loop_runner(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    return functools.partial(run_checked, request.param)


# -- raw backends -------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawBackend:
    """An asyncio server whose handler scripts each connection's bytes."""

    port: int
    accepted: int = 0  # connections accepted so far
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


@contextlib.asynccontextmanager
async def raw_backend(handler: Handler, **options: object) -> AsyncIterator[RawBackend]:
    backend = RawBackend(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        backend.tasks.add(task)
        backend.accepted += 1
        backend.writers.append(writer)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the backend is closing; ending normally keeps asyncio's callback quiet
        finally:
            writer.close()
            backend.tasks.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, **options)  # type: ignore[arg-type]
    backend.port = server.sockets[0].getsockname()[1]
    try:
        yield backend
    finally:
        server.close()
        for writer in backend.writers:
            writer.transport.abort()
        for task in list(backend.tasks):
            task.cancel()
        if backend.tasks:
            await asyncio.wait(list(backend.tasks))
        await server.wait_closed()


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    raw_head: bytes


async def read_request_head(reader: asyncio.StreamReader) -> RawRequest:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ")
    headers = {}
    for line in lines[1:-2]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawRequest(method, target, headers, raw)


async def read_body(reader: asyncio.StreamReader, request: RawRequest) -> bytes:
    if "content-length" in request.headers:
        return await reader.readexactly(int(request.headers["content-length"]))
    if request.headers.get("transfer-encoding") == "chunked":
        pieces = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            if size == 0:
                assert await reader.readuntil(b"\r\n") == b"\r\n"
                return b"".join(pieces)
            pieces.append(await reader.readexactly(size))
            assert await reader.readexactly(2) == b"\r\n"
    return b""


def ok_response(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def answer_each(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes = ok_response()
) -> None:
    """Answer every request of a keep-alive connection with ``response``."""
    while True:
        try:
            request = await read_request_head(reader)
        except asyncio.IncompleteReadError:
            return
        await read_body(reader, request)
        writer.write(response)
        await writer.drain()


async def at_eof(reader: asyncio.StreamReader, within: float = 5.0) -> bool:
    """Whether the peer closes the connection within ``within`` seconds (input dropped)."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except ConnectionError:
        pass
    except TimeoutError:
        return False
    return True


# -- aiohttp backends -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def aiohttp_backend(
    app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def upstream_pool(**options: float) -> AsyncIterator[UpstreamPool]:
    pool = UpstreamPool(**options)  # type: ignore[arg-type]
    try:
        yield pool
    finally:
        await pool.close()


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``predicate`` (every few ms) until it holds; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (polling is the point: any predicate)
            await asyncio.sleep(0.005)


# -- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_pem: str
    other_ca_pem: str  # a CA that signed nothing here
    cert_path: Path  # the server's certificate, signed by the CA
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_certificates(server_name: str, directory: Path) -> Certificates:
    """A CA, and a server certificate it signs for ``server_name`` and 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(
        subject: str,
        issuer: str,
        key: ec.EllipticCurvePrivateKey,
        issuer_key: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True)
        else:
            san = x509.SubjectAlternativeName(
                [x509.DNSName(server_name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            )
            builder = builder.add_extension(san, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = issue("test CA", "test CA", ca_key, ca_key, ca=True)
    other_ca = issue("other CA", "other CA", other_key, other_key, ca=True)
    server = issue(server_name, "test CA", server_key, ca_key, ca=False)
    chain = server.public_bytes(serialization.Encoding.PEM)
    key = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (directory / "server.crt").write_bytes(chain)
    (directory / "server.key").write_bytes(key)
    return Certificates(
        ca.public_bytes(serialization.Encoding.PEM).decode(),
        other_ca.public_bytes(serialization.Encoding.PEM).decode(),
        directory / "server.crt",
        directory / "server.key",
    )
