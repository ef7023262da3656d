"""APIClient over kubegate's upstream pool: paging, Status errors, prefixes, retries, refusals.

Real sockets on 127.0.0.1:0 with a small aiohttp app standing in for an API server.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kubegate.client.api import APIClient, APIClientError, APIConnectionError
from kubegate.client.kubeconfig import ClientConfig, ExecConfig
from kubegate.core.forward_proxy import ForwardProxy

Handler = Callable[[web.Request], Any]


def config(server: str, **changes: object) -> ClientConfig:
    base = ClientConfig(
        server=server,
        ca_data=None,
        insecure=False,
        tls_server_name=None,
        client_cert=None,
        client_key=None,
        token="secret",
        token_file=None,
        username=None,
        password=None,
        exec=None,
        proxy_url=None,
        namespace="default",
        context="ctx",
        cluster_name="c",
        user_name="u",
        host_as_written=server,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class FakeAPI:
    """Records requests; answers with ``handler``."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.handler: Handler = lambda request: web.json_response({})
        self.url = ""

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
async def api_server() -> AsyncIterator[FakeAPI]:
    fake = FakeAPI()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


async def test_list_all_follows_continue(api_server: FakeAPI):
    """Pages are fetched until metadata.continue is empty; items are concatenated."""
    pages = {"": ("p2", [1, 2]), "p2": ("p3", [3]), "p3": ("", [4])}

    def handler(request: web.Request) -> web.Response:
        token, items = pages[request.query.get("continue", "")]
        return web.json_response(
            {"kind": "ServiceList", "metadata": {"continue": token}, "items": items}
        )

    api_server.handler = handler
    async with APIClient(config(api_server.url)) as api:
        result = await api.list_all(
            "/api/v1/namespaces/kube-system/services",
            {"labelSelector": "kubernetes.io/cluster-service=true"},
        )
    assert result["items"] == [1, 2, 3, 4]
    assert "continue" not in result["metadata"]
    first = api_server.requests[0]
    assert first.raw_path == (
        "/api/v1/namespaces/kube-system/services?labelSelector="
        "kubernetes.io%2Fcluster-service%3Dtrue"
    )
    assert [r.query.get("labelSelector") for r in api_server.requests] == [
        "kubernetes.io/cluster-service=true"
    ] * 3
    assert first.headers["Authorization"] == "Bearer secret"
    assert first.headers["Accept"] == "application/json"
    assert len({r.transport for r in api_server.requests}) == 1  # one kept-alive connection


async def test_status_error_becomes_api_client_error(api_server: FakeAPI):
    """A Status answer keeps its code, reason and message, and prints as kubectl prints it."""
    message = 'services is forbidden: User "x" cannot list resource "services"'
    api_server.handler = lambda request: web.json_response(
        {
            "kind": "Status",
            "status": "Failure",
            "code": 403,
            "reason": "Forbidden",
            "message": message,
        },
        status=403,
    )
    async with APIClient(config(api_server.url)) as api:
        with pytest.raises(APIClientError) as info:
            await api.get_json("/api/v1/services")
    assert (info.value.code, info.value.reason, info.value.message) == (403, "Forbidden", message)
    assert info.value.kubectl_text() == f"Error from server (Forbidden): {message}"


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (
            404,
            "404 page not found",
            "Error from server (NotFound): the server could not find the requested resource",
        ),
        (
            401,
            "",
            "error: You must be logged in to the server (the server has asked for the client to provide credentials)",
        ),
        (
            500,
            "boom",
            'Error from server (InternalError): an error on the server ("boom") has prevented the request from succeeding',
        ),
        (
            418,
            "",
            "Error from server: the server responded with the status code 418 but did not return more information",
        ),
    ],
)
async def test_non_status_errors_get_client_go_messages(api_server: FakeAPI, status, body, text):
    """An error without a Status body is described as client-go describes it."""
    api_server.handler = lambda request: web.Response(status=status, text=body)
    async with APIClient(config(api_server.url, token=None)) as api:
        with pytest.raises(APIClientError) as info:
            await api.get_json("/x")
    assert info.value.kubectl_text() == text


async def test_server_path_prefix_is_kept(api_server: FakeAPI):
    """A server URL with a path sends every request under that path."""
    async with APIClient(config(api_server.url + "/k8s/cluster-1")) as api:
        await api.get_json("/api/v1/nodes")
    assert api_server.requests[0].path == "/k8s/cluster-1/api/v1/nodes"


async def test_host_name_is_resolved(api_server: FakeAPI):
    """A server named by host name is resolved once and keeps its Host header."""
    port = api_server.url.rsplit(":", 1)[1]
    first = socket.getaddrinfo("localhost", int(port), type=socket.SOCK_STREAM)[0][4][0]
    if first != "127.0.0.1":
        pytest.skip("localhost does not resolve to 127.0.0.1 first here")
    async with APIClient(config(f"http://localhost:{port}")) as api:
        await api.get_json("/api/v1/nodes")
        await api.get_json("/api/v1/nodes")
    assert [r.host for r in api_server.requests] == [f"localhost:{port}"] * 2


async def test_connection_refused_is_kubectl_text():
    """Nobody listening: kubectl's "was refused - did you specify the right host or port?"."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with APIClient(config(f"http://127.0.0.1:{port}")) as api:
        with pytest.raises(APIConnectionError) as info:
            await api.get_json("/api")
    assert info.value.kubectl_text() == (
        f"The connection to the server 127.0.0.1:{port} was refused - did you specify the "
        "right host or port?"
    )


async def test_a_proxy_is_dialed_instead_of_the_server(api_server: FakeAPI):
    """With a forward proxy the server is never dialed directly: a closed proxy port is the
    error, named as the proxy's (not "the connection to the server was refused")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proxy = ForwardProxy("http", "127.0.0.1", port)
    async with APIClient(config(api_server.url, proxy=proxy)) as api:
        with pytest.raises(APIConnectionError) as info:
            await api.get_json("/api")
    assert info.value.kubectl_text() == (
        "Unable to connect to the server: proxyconnect tcp: dial tcp "
        f"127.0.0.1:{port}: connect: connection refused"
    )
    assert api_server.requests == []


async def test_exec_token_is_refreshed_after_401(api_server: FakeAPI, tmp_path: Path):
    """A 401 with an exec plugin's token runs the plugin again and retries once."""
    script = tmp_path / "plugin"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib\n"
        f"p = pathlib.Path({str(tmp_path / 'n')!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        "'kind': 'ExecCredential', 'status': {'token': f'tok-{n}'}}))\n"
    )
    script.chmod(0o755)

    def handler(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer tok-2":
            return web.json_response(
                {
                    "kind": "Status",
                    "code": 401,
                    "reason": "Unauthorized",
                    "message": "Unauthorized",
                },
                status=401,
            )
        return web.json_response({"kind": "NodeList", "items": []})

    api_server.handler = handler
    spec = ExecConfig(command=str(script))
    async with APIClient(config(api_server.url, token=None, exec=spec)) as api:
        assert (await api.get_json("/api/v1/nodes"))["kind"] == "NodeList"
    assert [r.headers["Authorization"] for r in api_server.requests] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


async def test_invalid_json_is_an_error(api_server: FakeAPI):
    """A 200 that is not JSON is reported, not a traceback."""
    api_server.handler = lambda request: web.Response(text="<html>")
    async with APIClient(config(api_server.url)) as api:
        with pytest.raises(APIClientError, match="invalid JSON"):
            await api.get_json("/api")


async def test_json_body_round_trip(api_server: FakeAPI):
    """get_json returns the decoded object."""
    api_server.handler = lambda request: web.Response(
        text=json.dumps({"kind": "APIVersions", "versions": ["v1"]}),
        content_type="application/json",
    )
    async with APIClient(config(api_server.url)) as api:
        assert await api.get_json("/api") == {"kind": "APIVersions", "versions": ["v1"]}
