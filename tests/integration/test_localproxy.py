"""``kubegate proxy`` as a subprocess in front of a real kubegate (``--demo``) and its admin
kubeconfig: what curl, a WebSocket client and an SSE reader see through it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from integration.localproxy_harness import DEMO, LocalProxyProcess, start_kubegate_proxy
from integration.proxy.client import request_bytes
from serverkit import ServerProcess, start_server_process

FORBIDDEN = b"Forbidden\n"
TEXT = "text/plain; charset=utf-8"


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server_process(tmp_path_factory.mktemp("localproxy"), "--demo")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def proxy(kg: ServerProcess) -> Iterator[LocalProxyProcess]:
    """``kubegate proxy -p 0`` with every default."""
    running = start_kubegate_proxy(kg.kubeconfig)
    yield running
    assert running.stop() == 0


def test_starting_line_names_the_chosen_port(proxy: LocalProxyProcess) -> None:
    """``-p 0`` prints kubectl's line with the port the OS chose."""
    assert proxy.stdout[0] == f"Starting to serve on 127.0.0.1:{proxy.port}"
    assert proxy.port > 0


async def test_get_uses_the_kubeconfig_credentials(proxy: LocalProxyProcess) -> None:
    """The API answers with the admin's rights; a caller's Authorization is not forwarded."""
    response = await proxy.request(
        "GET", "/api/v1/namespaces/kube-system/services", [("Authorization", "Bearer bogus")]
    )
    assert response.status == 200, response
    names = {item["metadata"]["name"] for item in response.json()["items"]}
    assert {"echo", "webapp"} <= names


async def test_get_reaches_a_demo_service(proxy: LocalProxyProcess) -> None:
    """A service proxy URL reaches the backend with its path and query."""
    response = await proxy.request("GET", f"{DEMO}/echo/proxy/hello/world?x=1&y=%20")
    assert response.status == 200, response
    doc = response.json()
    assert (doc["path"], doc["raw_query"]) == ("/hello/world", "x=1&y=%20")
    assert doc["redacted_headers"] == []  # no credential reached the backend


async def test_post_with_a_body_reaches_a_demo_service(proxy: LocalProxyProcess) -> None:
    """A POST body arrives whole."""
    body = b'{"hello": "world"}'
    response = await proxy.request(
        "POST", f"{DEMO}/echo/proxy/submit", [("Content-Type", "application/json")], body
    )
    assert response.status == 200, response
    doc = response.json()
    assert doc["method"] == "POST"
    assert doc["body"]["text"] == body.decode()
    assert doc["body"]["sha256"] == hashlib.sha256(body).hexdigest()


async def test_large_chunked_upload_streams_through(proxy: LocalProxyProcess) -> None:
    """An 8 MiB chunked upload reaches the backend intact."""
    piece = os.urandom(256 * 1024)
    digest = hashlib.sha256()
    async with await proxy.open() as conn:
        head = request_bytes(
            "POST",
            f"{DEMO}/echo/proxy/upload",
            proxy.host_header,
            [("Transfer-Encoding", "chunked")],
        )
        await conn.send(head)
        for _ in range(32):
            digest.update(piece)
            await conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
        await conn.send(b"0\r\n\r\n")
        async with asyncio.timeout(60):
            response = await conn.read_response()
    assert response.status == 200, response
    assert response.json()["body"]["length"] == 32 * len(piece)
    assert response.json()["body"]["sha256"] == digest.hexdigest()


async def test_websocket_echo_passes_through(proxy: LocalProxyProcess) -> None:
    """The webapp's WebSocket greets and echoes through the upgrade tunnel."""
    uri = f"ws://localhost:{proxy.port}{DEMO}/webapp/proxy/ws"
    async with asyncio.timeout(20), websockets.connect(uri) as ws:
        greeting = json.loads(await ws.recv())
        assert greeting["type"] == "greeting"
        await ws.send("ping through kubegate proxy")
        assert await ws.recv() == "ping through kubegate proxy"


async def test_sse_events_arrive_one_by_one(proxy: LocalProxyProcess) -> None:
    """Server-sent events are relayed as they are produced, not when the stream ends."""
    async with await proxy.open() as conn:
        await conn.send(
            request_bytes("GET", f"{DEMO}/echo/proxy/sse?n=3&interval_ms=700", proxy.host_header)
        )
        head = await conn.read_head()
        assert head.status == 200
        assert head.header("content-type").startswith("text/event-stream")
        arrivals: list[tuple[float, bytes]] = []
        async with asyncio.timeout(20):
            async for piece in conn.iter_body(head):
                arrivals.append((time.monotonic(), piece))
    events = [t for t, piece in arrivals if b"id: " in piece]
    assert len(events) == 3, arrivals
    assert events[-1] - events[0] > 1.0  # two 700 ms gaps: nothing held back


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/api/v1/namespaces/default/pods/p/exec?command=sh", []),
        ("POST", "/api/v1/namespaces/default/pods/p/exec?command=sh", []),
        ("POST", "/api/v1/namespaces/default/pods/p/attach", []),
        ("GET", "/api/v1/namespaces/default/pods/p/%65xec", []),
        ("GET", "/api/v1/namespaces/default/pods/p/exec/", []),
        ("GET", "/api/v1/namespaces/default/pods/p%2Fexec", []),
        (
            "GET",
            "/api/v1/namespaces/default/pods/p/exec?command=sh",
            [
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw=="),
                ("Sec-WebSocket-Version", "13"),
            ],
        ),
    ],
)
async def test_exec_and_attach_are_forbidden(
    proxy: LocalProxyProcess, method: str, target: str, headers: list[tuple[str, str]]
) -> None:
    """kubectl's default reject-paths answer 403 Forbidden, however the path is spelt."""
    response = await proxy.request(method, target, headers, b"" if method == "POST" else None)
    assert (response.status, response.body, response.header("content-type")) == (
        403,
        FORBIDDEN,
        TEXT,
    )


@pytest.mark.parametrize(
    "target",
    [
        "//api/v1/namespaces/default/pods/p/exec",
        "/api//v1/namespaces/default/pods/p/exec",
        "/api/v1/namespaces/default/pods/p/./exec",
        "/api/v1/namespaces/default/pods/q/../p/attach",
    ],
)
async def test_unclean_exec_paths_are_forbidden_not_redirected(
    proxy: LocalProxyProcess, target: str
) -> None:
    """An unclean path whose clean form is filtered is 403 at once (kubectl redirects first)."""
    response = await proxy.request("GET", target)
    assert (response.status, response.body) == (403, FORBIDDEN)


async def test_unclean_paths_are_redirected_like_gos_mux(proxy: LocalProxyProcess) -> None:
    """Other unclean paths get Go's 307 to the clean path, query kept."""
    response = await proxy.request("GET", "//api/v1/./namespaces?limit=1")
    assert response.status == 307
    assert response.header("location") == "/api/v1/namespaces?limit=1"


async def test_pod_named_like_exec_is_reachable(proxy: LocalProxyProcess) -> None:
    """A pod *named* exec-worker is created and read through the default filter."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "exec-worker"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    base = "/api/v1/namespaces/default/pods"
    created = await proxy.request(
        "POST", base, [("Content-Type", "application/json")], json.dumps(pod).encode()
    )
    assert created.status == 201, created
    got = await proxy.request("GET", f"{base}/exec-worker")
    assert got.status == 200 and got.json()["metadata"]["name"] == "exec-worker"
    assert (await proxy.request("DELETE", f"{base}/exec-worker")).status == 200


@pytest.mark.parametrize(
    "host", ["localhost.evil.com", "attacker.example:8001", "127.0.0.1.nip.io:8001", "evil.com"]
)
async def test_non_accepted_hosts_are_forbidden(proxy: LocalProxyProcess, host: str) -> None:
    """Host headers outside --accept-hosts get kubectl's 403."""
    response = await proxy.request("GET", "/version", host=host)
    assert (response.status, response.body, response.header("content-type")) == (
        403,
        FORBIDDEN,
        TEXT,
    )


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]:8001"])
async def test_accepted_hosts_pass(proxy: LocalProxyProcess, host: str) -> None:
    """The default accepted hosts, IPv6 loopback with a port included (kubectl's #77496)."""
    assert (await proxy.request("GET", "/version", host=host)).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        [("Origin", "http://evil.example")],
        [("Origin", "http://localhost:3000")],
        [("Origin", "null")],
        [("Sec-Fetch-Site", "cross-site")],
        [("Sec-Fetch-Site", "same-site")],
    ],
)
async def test_cross_site_requests_are_refused(
    proxy: LocalProxyProcess, headers: list[tuple[str, str]]
) -> None:
    """A cross-site POST with an accepted Host (classic CSRF) is refused before the API."""
    response = await proxy.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        [("Content-Type", "application/json"), *headers],
        b"{}",
    )
    assert response.status == 403
    assert response.body.startswith(b"Forbidden: ")


async def test_same_origin_browser_requests_pass(proxy: LocalProxyProcess) -> None:
    """A page served through the proxy may call the API through it."""
    headers = [("Origin", f"http://localhost:{proxy.port}"), ("Sec-Fetch-Site", "same-origin")]
    response = await proxy.request("GET", f"{DEMO}/webapp/proxy/api/items", headers)
    assert response.status == 200, response


async def test_www_serves_static_files(kg: ServerProcess, tmp_path: Path) -> None:
    """--www serves a directory under --www-prefix (default /static/); the API still works."""
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "data.json").write_text('{"a": 1}')
    running = start_kubegate_proxy(kg.kubeconfig, "-p", "0", "--www", str(tmp_path))
    try:
        index = await running.request("GET", "/static/")
        assert (index.status, index.body) == (200, b"<h1>hi</h1>")
        assert index.header("content-type") == "text/html; charset=utf-8"
        data = await running.request("GET", "/static/data.json")
        assert (data.status, data.body, data.header("content-type")) == (
            200,
            b'{"a": 1}',
            "application/json",
        )
        missing = await running.request("GET", "/static/nope")
        assert (missing.status, missing.body) == (404, b"404 page not found\n")
        assert (await running.request("GET", "/static")).header("location") == "/static/"
        assert (await running.request("GET", "/version")).status == 200
    finally:
        assert running.stop() == 0


async def test_www_never_leaves_its_directory(kg: ServerProcess, tmp_path: Path) -> None:
    """A symbolic link out of --www is not followed; dot segments are cleaned away first."""
    site, secret = tmp_path / "site", tmp_path / "secret.txt"
    site.mkdir()
    secret.write_text("top secret")
    (site / "link.txt").symlink_to(secret)
    running = start_kubegate_proxy(kg.kubeconfig, "--www", str(site))
    try:
        linked = await running.request("GET", "/static/link.txt")
        assert linked.status == 404 and b"secret" not in linked.body
        climbed = await running.request("GET", "/static/../secret.txt")
        assert (climbed.status, climbed.header("location")) == (307, "/secret.txt")
    finally:
        assert running.stop() == 0


async def test_unix_socket_is_private_and_serves(kg: ServerProcess, tmp_path: Path) -> None:
    """--unix-socket listens on a mode-0600 socket that proxies like the TCP port."""
    path = str(tmp_path / "proxy.sock")
    running = start_kubegate_proxy(kg.kubeconfig, "--unix-socket", path)
    try:
        assert running.stdout[0] == f"Starting to serve on {path}"
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        response = await running.request("GET", "/version", host="localhost")
        assert response.status == 200 and "gitVersion" in response.json()
    finally:
        assert running.stop() == 0
    assert not await asyncio.to_thread(os.path.exists, path)


async def test_service_mode_serves_the_webapp_at_root(kg: ServerProcess) -> None:
    """--service NS/NAME serves the service at /, its API and WebSocket included."""
    running = start_kubegate_proxy(
        kg.kubeconfig, "--service", "kube-system/webapp", "--local-port", "0"
    )
    try:
        page = await running.request("GET", "/")
        assert page.status == 200 and page.header("content-type").startswith("text/html")
        direct = await running.request("GET", f"{DEMO}/webapp/proxy/")
        assert page.body == direct.body
        items = await running.request("GET", "/api/items")
        assert items.status == 200 and isinstance(items.json(), dict | list)
        async with (
            asyncio.timeout(20),
            websockets.connect(f"ws://localhost:{running.port}/ws") as ws,
        ):
            assert json.loads(await ws.recv())["type"] == "greeting"
    finally:
        assert running.stop() == 0


async def test_generated_token_is_required_and_never_forwarded(kg: ServerProcess) -> None:
    """--generate-token: 401 without it; with it (either header) the API answers as admin."""
    running = start_kubegate_proxy(kg.kubeconfig, "--generate-token")
    try:
        token = running.token
        assert token and running.stdout[0] == f"Proxy token: {token}"
        denied = await running.request("GET", "/version")
        assert denied.status == 401 and denied.header("www-authenticate").startswith("Bearer")
        wrong = await running.request("GET", "/version", [("Authorization", "Bearer nope")])
        assert wrong.status == 401
        # If the token reached kubegate as a bearer token it would be refused (401 there).
        as_bearer = await running.request(
            "GET", "/api/v1/namespaces", [("Authorization", f"Bearer {token}")]
        )
        assert as_bearer.status == 200, as_bearer
        as_header = await running.request(
            "GET", "/api/v1/namespaces", [("X-Kubegate-Proxy-Token", token)]
        )
        assert as_header.status == 200, as_header
    finally:
        assert running.stop() == 0


async def test_token_file_is_required(kg: ServerProcess, tmp_path: Path) -> None:
    """--token-file: the token in the file (trailing newline ignored) must be presented."""
    token_file = tmp_path / "token"
    token_file.write_text("file-token-123\n")
    running = start_kubegate_proxy(kg.kubeconfig, "--token-file", str(token_file))
    try:
        assert (await running.request("GET", "/version")).status == 401
        ok = await running.request(
            "GET", "/version", [("X-Kubegate-Proxy-Token", "file-token-123")]
        )
        assert ok.status == 200
    finally:
        assert running.stop() == 0


async def test_api_prefix_moves_the_api(kg: ServerProcess) -> None:
    """--api-prefix /custom/ serves the API there (kubectl's stripLeaveSlash) and 404s elsewhere."""
    running = start_kubegate_proxy(kg.kubeconfig, "--api-prefix", "/custom")
    try:
        assert (await running.request("GET", "/custom/version")).status == 200
        outside = await running.request("GET", "/version")
        assert (outside.status, outside.body) == (404, b"404 page not found\n")
    finally:
        assert running.stop() == 0


async def test_seed_example_on_port_8080(kg: ServerProcess) -> None:
    """The seed's URL works verbatim with --port 8080."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 8080))
        except OSError:
            pytest.skip("port 8080 is in use on this machine")
    running = start_kubegate_proxy(kg.kubeconfig, "--port", "8080")
    try:
        assert running.stdout[0] == "Starting to serve on 127.0.0.1:8080"
        url_path = "/api/v1/namespaces/kube-system/services/echo/proxy/"
        response = await running.request("GET", url_path, host="localhost:8080")
        assert response.status == 200 and response.json()["service"] == "echo"
    finally:
        assert running.stop() == 0


async def test_rebinding_host_cannot_change_state_with_wide_accept_hosts(
    kg: ServerProcess,
) -> None:
    """With --accept-hosts '.*', a foreign Host may read (as kubectl) but not POST or upgrade."""
    running = start_kubegate_proxy(kg.kubeconfig, "--accept-hosts", "^.*$")
    try:
        host = f"attacker.example:{running.port}"
        assert (await running.request("GET", "/version", host=host)).status == 200
        target = "/api/v1/namespaces/default/configmaps"
        posted = await running.request(
            "POST", target, [("Content-Type", "application/json")], b"{}", host=host
        )
        assert posted.status == 403 and b"DNS rebinding" in posted.body
        upgrade = [("Connection", "Upgrade"), ("Upgrade", "websocket")]
        ws = await running.request("GET", f"{DEMO}/webapp/proxy/ws", upgrade, host=host)
        assert ws.status == 403
        browser = [("Sec-Fetch-Site", "same-origin")]
        assert (await running.request("GET", "/version", browser, host=host)).status == 403
    finally:
        assert running.stop() == 0


def test_risky_settings_are_warned_about(kg: ServerProcess) -> None:
    """A non-loopback address and a disabled filter are warned about on stderr."""
    running = start_kubegate_proxy(kg.kubeconfig, "--address", "0.0.0.0", "--disable-filter")
    try:
        assert running.stdout[0].startswith("Starting to serve on 0.0.0.0:")
    finally:
        assert running.stop() == 0
    warnings = "\n".join(running.stderr)
    assert "not a loopback address" in warnings
    assert "Request filter disabled, your proxy is vulnerable to XSRF attacks" in warnings


async def test_ipv6_loopback_listener(kg: ServerProcess) -> None:
    """--address ::1 is printed bracketed, as Go prints it, and serves."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    running = start_kubegate_proxy(kg.kubeconfig, "--address", "::1")
    try:
        assert running.address.startswith("[::1]:")
        response = await running.request("GET", "/version", host=f"[::1]:{running.port}")
        assert response.status == 200
    finally:
        assert running.stop() == 0


async def test_unreachable_api_server_is_kubectls_500(tmp_path: Path) -> None:
    """A dial failure is 500 text/plain with the error, as kubectl's responder writes it."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    running = start_kubegate_proxy(str(kubeconfig))
    try:
        response = await running.request("GET", "/version")
        assert response.status == 500 and response.header("content-type") == TEXT
        assert f"dial tcp 127.0.0.1:{port}: connect: connection refused" in response.body.decode()
    finally:
        assert running.stop() == 0
