"""The demo backends over real loopback sockets: echo, secure-echo, webapp and shutdown."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import re
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from kubegate.auth import pki
from kubegate.demo import DemoService
from kubegate.demo.backends import DemoBackends, start_demo_backends

TIMEOUT = aiohttp.ClientTimeout(total=10)


class PKI:
    """A CA, a serving certificate for loopback and a client certificate, as files."""

    def __init__(self, directory: Path) -> None:
        self.ca_cert, self.ca_key = pki.generate_ca()
        self.directory = directory
        serving = pki.issue_serving_cert(
            self.ca_cert, self.ca_key, hosts=["127.0.0.1", "localhost"]
        )
        client = pki.issue_client_cert(self.ca_cert, self.ca_key, user="jane", groups=["dev"])
        for name, (cert, key) in {"serving": serving, "client": client}.items():
            (directory / f"{name}.crt").write_bytes(cert)
            (directory / f"{name}.key").write_bytes(key)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.directory / "serving.crt", self.directory / "serving.key")
        context.load_verify_locations(cadata=self.ca_cert.decode())
        context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def client_context(self, *, with_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_cert.decode())
        if with_cert:
            context.load_cert_chain(self.directory / "client.crt", self.directory / "client.key")
        return context


@pytest.fixture
def tls(tmp_path: Path) -> PKI:
    return PKI(tmp_path)


@pytest.fixture
async def backends(tls: PKI) -> AsyncIterator[DemoBackends]:
    """Running backends; stopped afterwards, failing the test if any task outlives them."""
    running = await start_demo_backends(tls.server_context())
    yield running
    await running.close()
    current = asyncio.current_task()
    leaked = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    assert not leaked, f"tasks left running: {leaked}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield session


def _url(service: DemoService, path: str = "/") -> str:
    return f"{service.scheme}://127.0.0.1:{service.target_port}{path}"


async def _raw_request(port: int, request: bytes) -> tuple[bytes, bytes]:
    """Send one raw HTTP/1.1 request with Connection: close; return (head, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return head, body


# -- the catalogue ----------------------------------------------------------------------------


async def test_three_services_listen_on_distinct_loopback_ports(backends: DemoBackends) -> None:
    """echo, secure-echo and webapp are published with their port names and real ports."""
    published = {s.name: (s.port, s.port_name, s.scheme, s.namespace) for s in backends.services}
    assert published == {
        "echo": (80, "http", "http", "kube-system"),
        "secure-echo": (443, "https", "https", "kube-system"),
        "webapp": (80, "http-web", "http", "kube-system"),
    }
    ports = {s.target_port for s in backends.services}
    assert len(ports) == 3 and all(port > 0 for port in ports)
    assert all(s.address == "127.0.0.1" for s in backends.services)


# -- echo -------------------------------------------------------------------------------------


async def test_echo_describes_the_request(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """GET / answers with method, path, query, headers, client, time and hostname."""
    echo = backends.service("echo")
    async with http.get(_url(echo, "/hello/world?a=1&b=two"), headers={"X-Demo": "yes"}) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        body = await resp.json()
    assert body["service"] == "echo"
    assert body["method"] == "GET"
    assert body["path"] == "/hello/world"
    assert body["raw_query"] == "a=1&b=two"
    assert body["headers"]["X-Demo"] == "yes"
    assert body["client"]["address"] == "127.0.0.1"
    assert body["tls"] is None
    assert body["hostname"]
    served_at = dt.datetime.fromisoformat(body["server_time"])
    assert abs(dt.datetime.now(dt.UTC) - served_at) < dt.timedelta(minutes=1)


async def test_echo_withholds_credential_values_but_names_them(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """Authorization, Proxy-Authorization and Cookie values never appear in the response."""
    headers = {
        "Authorization": "Bearer s3cret-token",
        "Proxy-Authorization": "Basic c2VjcmV0",
        "Cookie": "session=s3cret-cookie",
    }
    async with http.get(_url(backends.service("echo")), headers=headers) as resp:
        text = await resp.text()
    assert "s3cret" not in text and "c2VjcmV0" not in text
    body = json.loads(text)
    assert sorted(body["redacted_headers"]) == ["Authorization", "Cookie", "Proxy-Authorization"]
    assert not {"Authorization", "Cookie", "Proxy-Authorization"} & set(body["headers"])


async def test_echo_reports_the_path_exactly_as_received(backends: DemoBackends) -> None:
    """Percent-encoding and repeated header fields arrive in the echo untouched."""
    head, body = await _raw_request(
        backends.service("echo").target_port,
        b"GET /a%2Fb/%7Euser?q=%20x&q=y HTTP/1.1\r\nHost: demo\r\n"
        b"X-Multi: one\r\nX-Multi: two\r\nConnection: close\r\n\r\n",
    )
    assert head.startswith(b"HTTP/1.1 200")
    echoed = json.loads(body)
    assert echoed["path"] == "/a%2Fb/%7Euser"
    assert echoed["raw_query"] == "q=%20x&q=y"
    assert echoed["headers"]["X-Multi"] == "one, two"


async def test_echo_digests_the_request_body(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """Any method is echoed, with the body's length, SHA-256 and a text preview."""
    payload = b"x" * 10_000
    async with http.put(_url(backends.service("echo"), "/upload"), data=payload) as resp:
        body = await resp.json()
    assert body["method"] == "PUT"
    assert body["body"]["length"] == 10_000
    assert body["body"]["sha256"] == hashlib.sha256(payload).hexdigest()
    assert body["body"]["truncated"] is True
    assert body["body"]["text"] == "x" * 4096


async def test_echo_healthz(backends: DemoBackends, http: aiohttp.ClientSession) -> None:
    """/healthz answers 200 ok."""
    async with http.get(_url(backends.service("echo"), "/healthz")) as resp:
        assert (resp.status, await resp.text()) == (200, "ok")


async def test_stream_delivers_lines_incrementally(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """/stream sends n NDJSON lines over chunked encoding, each as soon as it is produced."""
    arrivals: list[float] = []
    lines: list[dict[str, Any]] = []
    async with http.get(_url(backends.service("echo"), "/stream?n=4&interval_ms=200")) as resp:
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert resp.content_type == "application/x-ndjson"
        async for line in resp.content:
            arrivals.append(time.monotonic())
            lines.append(json.loads(line))
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    # Lines are produced 200 ms apart; a buffered response would deliver all four together.
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.1


async def test_stream_defaults_to_five_lines(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """Without parameters /stream sends five lines."""
    async with http.get(_url(backends.service("echo"), "/stream?interval_ms=0")) as resp:
        lines = (await resp.text()).splitlines()
    assert len(lines) == 5


@pytest.mark.parametrize("query", ["n=0", "n=abc", "n=1001", "interval_ms=-1"])
async def test_stream_rejects_bad_parameters(
    backends: DemoBackends, http: aiohttp.ClientSession, query: str
) -> None:
    """Out-of-range or non-numeric parameters answer 400."""
    async with http.get(_url(backends.service("echo"), f"/stream?{query}")) as resp:
        assert resp.status == 400


async def test_sse_sends_numbered_events(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """/sse is a text/event-stream of `tick` events with increasing ids."""
    async with http.get(_url(backends.service("echo"), "/sse?n=3&interval_ms=10")) as resp:
        assert resp.content_type == "text/event-stream"
        text = await resp.text()
    assert re.findall(r"^id: (\d+)$", text, re.MULTILINE) == ["1", "2", "3"]
    assert text.count("event: tick\n") == 3


async def test_sse_resumes_after_last_event_id(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """A reconnecting client's Last-Event-ID continues the sequence."""
    url = _url(backends.service("echo"), "/sse?n=2&interval_ms=0")
    async with http.get(url, headers={"Last-Event-ID": "7"}) as resp:
        text = await resp.text()
    assert re.findall(r"^id: (\d+)$", text, re.MULTILINE) == ["8", "9"]


# -- secure-echo ------------------------------------------------------------------------------


async def test_secure_echo_serves_https_verified_by_the_ca(
    backends: DemoBackends, http: aiohttp.ClientSession, tls: PKI
) -> None:
    """A client trusting only the CA reaches secure-echo and sees TLS details."""
    secure = backends.service("secure-echo")
    async with http.get(_url(secure), ssl=tls.client_context()) as resp:
        body = await resp.json()
    assert body["service"] == "secure-echo"
    assert body["tls"]["version"] in {"TLSv1.2", "TLSv1.3"}
    assert body["tls"]["client_certificate"] is None


async def test_secure_echo_reports_a_presented_client_certificate(
    backends: DemoBackends, http: aiohttp.ClientSession, tls: PKI
) -> None:
    """A verified client certificate's subject appears in the echo."""
    secure = backends.service("secure-echo")
    async with http.get(_url(secure), ssl=tls.client_context(with_cert=True)) as resp:
        body = await resp.json()
    assert body["tls"]["client_certificate"] == {"subject": "O=dev,CN=jane"}


async def test_secure_echo_is_refused_by_a_client_that_does_not_trust_the_ca(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """Certificate verification really happens: an unrelated trust store fails."""
    stranger = ssl.create_default_context(cadata=pki.generate_ca()[0].decode())
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        async with http.get(_url(backends.service("secure-echo")), ssl=stranger):
            pass


# -- webapp -----------------------------------------------------------------------------------


async def test_webapp_page_uses_only_relative_urls(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """The HTML refers to its assets relatively, so it works under a proxy prefix."""
    async with http.get(_url(backends.service("webapp"))) as resp:
        assert resp.content_type == "text/html"
        html = await resp.text()
    assert 'href="style.css"' in html and 'src="app.js"' in html and 'href="api/items"' in html
    assert not re.search(r'(href|src|action)="/', html)


async def test_webapp_script_resolves_api_and_websocket_against_the_page(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """app.js builds the API and WebSocket URLs from the document's own address."""
    webapp = backends.service("webapp")
    async with http.get(_url(webapp, "/app.js")) as resp:
        assert resp.content_type == "text/javascript"
        script = await resp.text()
    async with http.get(_url(webapp, "/style.css")) as resp:
        assert resp.content_type == "text/css"
    assert 'new URL("api/items", document.baseURI)' in script
    assert 'new URL("ws", document.baseURI)' in script


async def test_webapp_lists_and_adds_items(
    backends: DemoBackends, http: aiohttp.ClientSession
) -> None:
    """POST /api/items stores an item that GET /api/items then lists."""
    webapp = backends.service("webapp")
    async with http.get(_url(webapp, "/api/items")) as resp:
        before = await resp.json()
    async with http.post(_url(webapp, "/api/items"), json={"name": "  tea  "}) as resp:
        assert resp.status == 201
        created = await resp.json()
    async with http.get(_url(webapp, "/api/items")) as resp:
        after = await resp.json()
    assert created["name"] == "tea"
    assert after == [*before, created]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"name": ""}}, 400),
        ({"json": {"nom": "x"}}, 400),
        ({"json": ["x"]}, 400),
        ({"json": {"name": "x" * 201}}, 400),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": b"name=x", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"json": {"name": "x" * 70_000}}, 413),
    ],
)
async def test_webapp_rejects_bad_items(
    backends: DemoBackends, http: aiohttp.ClientSession, kwargs: dict[str, Any], status: int
) -> None:
    """Invalid, non-JSON or oversized items are refused with a fitting status."""
    async with http.post(_url(backends.service("webapp"), "/api/items"), **kwargs) as resp:
        assert resp.status == status


async def test_webapp_websocket_greets_then_echoes(backends: DemoBackends) -> None:
    """/ws sends a greeting, then echoes text and binary messages."""
    port = backends.service("webapp").target_port
    async with ws_connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as ws:
        greeting = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert greeting["type"] == "greeting"
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 10) == "hello"
        await ws.send(b"\x00\x01")
        assert await asyncio.wait_for(ws.recv(), 10) == b"\x00\x01"


# -- lifecycle --------------------------------------------------------------------------------


async def test_close_ends_open_websockets_promptly(tls: PKI) -> None:
    """Shutdown closes open WebSockets with 1001 instead of waiting for them."""
    running = await start_demo_backends(tls.server_context())
    port = running.service("webapp").target_port
    async with ws_connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as ws:
        await asyncio.wait_for(ws.recv(), 10)
        started = time.monotonic()
        await running.close()
        assert time.monotonic() - started < 1.5
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


async def test_close_stops_every_listener(tls: PKI) -> None:
    """After close() no backend port accepts connections."""
    async with await start_demo_backends(tls.server_context()) as running:
        ports = [s.target_port for s in running.services]
    for port in ports:
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
