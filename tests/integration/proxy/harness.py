"""What the proxy suite is built from: real backends on loopback, a raw HTTP/1.1 client and
the cluster objects that point the proxy at the backends.

Backends are asyncio servers on ``127.0.0.1:0`` in the test's own event loop. A
:class:`Backend` records every request exactly as it arrived (method, raw request-target,
header fields in order and case, body digest) and counts connections; what it answers is a
handler coroutine, so one class serves as echo, redirector, event stream, hanging or
resetting server and sentinel. :class:`WebSocketBackend` is a WebSocket echo built on the
``websockets`` server. Every backend answers ``/__ready`` itself (``204``, ``X-Ready: 1``,
not recorded): that is how a test learns that the proxy's watch-fed cache sees its objects.

The client side never goes through an HTTP library that might normalise what is sent: a
:class:`Connection` writes request bytes as given and parses responses strictly enough for
the assertions (Content-Length, chunked, close-delimited), so raw targets, odd headers and
pipelined or smuggled bytes reach kubegate unchanged.

Backends are registered the way a cluster would: a Pod whose ``status.podIP`` is the
loopback address (set through the status subresource) and a Service with a selector; the
EndpointSlice controller builds the slice. User-created EndpointSlices cannot name loopback
addresses (kube's validation), and the controller's slices are not validated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import ssl
import struct
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.http11 import Request as WSRequest

from conftest import ServerProcess, start_server_process

LOOPBACK = "127.0.0.1"
READY_PATH = "/__ready"
POLL_INTERVAL = 0.02
READY_TIMEOUT = 15.0
IO_TIMEOUT = 20.0
BODY_KEEP = 1 << 20  # a backend keeps at most this much of a request body (it hashes all)
Headers = list[tuple[str, str]]


# -- responses and a raw client -------------------------------------------------------------


def header_values(headers: Headers, name: str) -> list[str]:
    name = name.lower()
    return [value for key, value in headers if key.lower() == name]


@dataclass
class Response:
    status: int
    reason: str
    headers: Headers  # lower-case names, arrival order
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = header_values(self.headers, name)
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        return header_values(self.headers, name)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        """The message of a Status body ('' if the body is not a Status)."""
        try:
            doc = self.json()
        except ValueError:
            return ""
        return doc.get("message", "") if isinstance(doc, dict) else ""

    @property
    def is_backend(self) -> bool:
        """The answer came from one of the harness backends' ``/__ready``."""
        return self.header("x-ready") == "1"

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers!r} {self.body[:300]!r}>"


class Connection:
    """One client connection: bytes out exactly as given, responses parsed from bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> Connection:
        async with asyncio.timeout(IO_TIMEOUT):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ssl_context, limit=1 << 20
            )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_head(self) -> Response:
        """The next final (or 101) response head; 1xx interim heads are skipped."""
        while True:
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw[:-4].decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            status = int(parts[1])
            headers: Headers = []
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.append((name.strip().lower(), value.strip()))
            if status == 101 or status >= 200:
                return Response(status, parts[2] if len(parts) > 2 else "", headers)

    async def iter_body(self, head: Response, method: str = "GET") -> AsyncIterator[bytes]:
        """The body's pieces as they arrive; IncompleteReadError if it is cut short."""
        if method == "HEAD" or head.status in (101, 204, 304):
            return
        if "chunked" in (head.header("transfer-encoding") or "").lower():
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    return
                data = await self.reader.readexactly(size)
                if await self.reader.readexactly(2) != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                yield data
        length = head.header("content-length")
        if length is not None:
            remaining = int(length)
            while remaining:
                data = await self.reader.read(min(remaining, 1 << 20))
                if not data:
                    raise asyncio.IncompleteReadError(b"", remaining)
                remaining -= len(data)
                yield data
            return
        while data := await self.reader.read(1 << 20):
            yield data

    async def read_body(self, head: Response, method: str = "GET") -> bytes:
        return b"".join([piece async for piece in self.iter_body(head, method)])

    async def read_response(self, method: str = "GET") -> Response:
        head = await self.read_head()
        head.body = await self.read_body(head, method)
        return head

    async def read_until_eof(self, timeout: float = 10.0) -> bytes:
        """Everything until the peer closes (TimeoutError if it never does)."""
        chunks = []
        async with asyncio.timeout(timeout):
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while data := await self.reader.read(65536):
                    chunks.append(data)
        return b"".join(chunks)

    async def close(self) -> None:
        writer = self.writer
        if writer.transport.is_closing():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)
            return
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 2)
        except Exception:
            writer.transport.abort()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def request_bytes(
    method: str, target: str, host: str, headers: Headers = (), body: bytes | None = None  # type: ignore[assignment]
) -> bytes:
    """A request head (plus body) as given; Content-Length added for a body unless set."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    names = {name.lower() for name, _ in headers}
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


# -- backends -------------------------------------------------------------------------------


@dataclass
class Received:
    """One request as a backend received it."""

    method: str
    target: str  # the raw request-target
    headers: Headers  # names as sent (case kept), arrival order
    body: bytes  # the first BODY_KEEP bytes
    body_length: int
    body_sha256: str
    connection: int  # which connection of this backend (1-based)

    def header(self, name: str) -> str | None:
        values = header_values(self.headers, name)
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        return header_values(self.headers, name)

    @property
    def names(self) -> set[str]:
        return {name.lower() for name, _ in self.headers}


class Exchange:
    """What a handler gets: the request, the raw streams, and helpers to answer."""

    def __init__(
        self, backend: Backend, request: Received, reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.backend = backend
        self.request = request
        self.reader = reader
        self.writer = writer
        self.keep_alive = True

    async def respond(
        self, status: int = 200, headers: Headers = (), body: bytes = b"", reason: str = "X"  # type: ignore[assignment]
    ) -> None:
        head = [f"HTTP/1.1 {status} {reason}", *(f"{n}: {v}" for n, v in headers)]
        if status not in (101, 204, 304) and not header_values(list(headers), "content-length"):
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def reset(self) -> None:
        """End the connection with a TCP RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.keep_alive = False


Handler = Callable[[Exchange], Awaitable[None]]


async def echo(exchange: Exchange) -> None:
    """Answer 200 with a JSON description of the request."""
    request = exchange.request
    doc = {
        "method": request.method,
        "target": request.target,
        "headers": request.headers,
        "body_length": request.body_length,
    }
    await exchange.respond(200, [("Content-Type", "application/json")], json.dumps(doc).encode())


class Backend:
    """A recording HTTP/1.1 server on loopback whose answers come from ``handler``."""

    def __init__(
        self, handler: Handler = echo, *, host: str = LOOPBACK, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler
        self.host = host
        self.ssl_context = ssl_context
        self.requests: list[Received] = []
        self.connections = 0  # accepted, ever (reset() clears)
        self.open = 0  # open right now
        self.peer_closed = asyncio.Event()  # some connection saw the proxy close or reset it
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Condition()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> Backend:
        self._server = await asyncio.start_server(
            self._serve, self.host, 0, ssl=self.ssl_context, limit=1 << 20
        )
        return self

    def reset(self) -> None:
        self.requests.clear()
        self.connections = 0
        self.peer_closed.clear()

    def targets(self) -> list[str]:
        return [r.target for r in self.requests]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        self.open += 1
        number = self.connections
        await self._notify()
        try:
            while True:
                request = await self._read_request(reader, number)
                if request is None:
                    self.peer_closed.set()
                    break
                if request.target.startswith(READY_PATH):
                    exchange = Exchange(self, request, reader, writer)
                    await exchange.respond(204, [("X-Ready", "1")])
                    continue
                self.requests.append(request)
                await self._notify()
                exchange = Exchange(self, request, reader, writer)
                await self.handler(exchange)
                if not exchange.keep_alive or writer.transport.is_closing():
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.LimitOverrunError):
            self.peer_closed.set()
        finally:
            self.open -= 1
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.transport.abort()
            self._tasks.discard(task)
            await self._notify()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader, number: int) -> Received | None:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return None
        lines = raw[:-4].decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ")
        headers: Headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
        digest = hashlib.sha256()
        kept = bytearray()
        length = 0

        def take(data: bytes) -> None:
            nonlocal length
            digest.update(data)
            length += len(data)
            if len(kept) < BODY_KEEP:
                kept.extend(data[: BODY_KEEP - len(kept)])

        te = ",".join(header_values(headers, "transfer-encoding")).lower()
        cl = header_values(headers, "content-length")
        if "chunked" in te:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                remaining = size
                while remaining:
                    data = await reader.read(min(remaining, 1 << 20))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", remaining)
                    take(data)
                    remaining -= len(data)
                await reader.readexactly(2)
        elif cl:
            remaining = int(cl[0])
            while remaining:
                data = await reader.read(min(remaining, 1 << 20))
                if not data:
                    raise asyncio.IncompleteReadError(b"", remaining)
                take(data)
                remaining -= len(data)
        return Received(method, target, headers, bytes(kept), length, digest.hexdigest(), number)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()


class WebSocketBackend:
    """A WebSocket echo server that records each handshake's request path (with query)."""

    def __init__(self, *, host: str = LOOPBACK, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.paths: list[str] = []
        self.handshake_headers: list[Headers] = []
        self.connections = 0
        self._server: Any = None

    async def start(self) -> WebSocketBackend:
        self._server = await ws_serve(
            self._echo, self.host, 0, ssl=self.ssl_context, process_request=self._process_request
        )
        return self

    @property
    def port(self) -> int:
        return int(next(iter(self._server.sockets)).getsockname()[1])

    def _process_request(self, connection: ServerConnection, request: WSRequest) -> Any:
        self.connections += 1
        if request.path.startswith(READY_PATH):
            response = connection.respond(200, "ready\n")
            response.headers["X-Ready"] = "1"
            return response
        self.paths.append(request.path)
        self.handshake_headers.append(list(request.headers.raw_items()))
        return None

    async def _echo(self, connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()


class Backends:
    """Starts backends for one test and closes them all at its end."""

    def __init__(self) -> None:
        self._started: list[Backend | WebSocketBackend] = []

    async def http(
        self, handler: Handler = echo, *, host: str = LOOPBACK, ssl_context: ssl.SSLContext | None = None
    ) -> Backend:
        backend = await Backend(handler, host=host, ssl_context=ssl_context).start()
        self._started.append(backend)
        return backend

    async def websocket(self, *, ssl_context: ssl.SSLContext | None = None) -> WebSocketBackend:
        backend = await WebSocketBackend(ssl_context=ssl_context).start()
        self._started.append(backend)
        return backend

    async def close(self) -> None:
        for backend in reversed(self._started):
            await backend.close()


def closed_port(host: str = LOOPBACK) -> int:
    """A port on ``host`` where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_tls(cert: Any) -> ssl.SSLContext:
    """A serving context for a trustme leaf certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


# -- kubegate -------------------------------------------------------------------------------


class Kubegate:
    """A running ``kubegate serve`` subprocess, seen as an HTTPS endpoint."""

    def __init__(self, process: ServerProcess) -> None:
        self.process = process
        url = urlsplit(process.url)
        self.host = url.hostname or LOOPBACK
        self.port = url.port or 0
        self.netloc = f"{self.host}:{self.port}"
        self.data_dir = process.data_dir
        self.token = (self.data_dir / "admin.token").read_text().strip()
        self._context = ssl.create_default_context(cafile=str(self.data_dir / "ca.crt"))
        self._cert_context = ssl.create_default_context(cafile=str(self.data_dir / "ca.crt"))
        self._cert_context.load_cert_chain(self.data_dir / "admin.crt", self.data_dir / "admin.key")

    @property
    def pid(self) -> int:
        return self.process.proc.pid

    def ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        return self._cert_context if client_cert else self._context

    @property
    def bearer(self) -> tuple[str, str]:
        return ("Authorization", f"Bearer {self.token}")

    async def connect(self, *, client_cert: bool = False) -> Connection:
        return await Connection.open(self.host, self.port, self.ssl_context(client_cert=client_cert))

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Headers = (),  # type: ignore[assignment]
        body: bytes | None = None,
        auth: str | None = "token",  # "token", "cert" or None
        timeout: float = IO_TIMEOUT,
    ) -> Response:
        """One request on a fresh connection, the whole response read."""
        sent: Headers = [self.bearer] if auth == "token" else []
        sent += list(headers)
        async with asyncio.timeout(timeout):
            conn = await self.connect(client_cert=auth == "cert")
            try:
                await conn.send(request_bytes(method, target, self.netloc, sent, body))
                return await conn.read_response(method)
            finally:
                await conn.close()

    async def api(self, method: str, path: str, obj: Any = None, *, patch: bool = False) -> Response:
        content_type = "application/merge-patch+json" if patch else "application/json"
        body = None if obj is None else json.dumps(obj).encode()
        headers = [("Content-Type", content_type)] if body is not None else []
        return await self.request(method, path, headers=headers, body=body)

    def rss_kib(self) -> int:
        return _status_field(self.pid, "VmRSS")

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


@contextlib.contextmanager
def running_kubegate(*flags: str) -> Iterator[Kubegate]:
    with tempfile.TemporaryDirectory(prefix="kubegate-proxy-") as tmp:
        process = start_server_process(Path(tmp), "--shutdown-grace", "2", *flags)
        try:
            yield Kubegate(process)
        finally:
            process.stop()


def kubegate_fixture(*flags: str, scope: str = "module") -> Any:
    """A fixture running one kubegate with ``flags`` for the given scope."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _kubegate() -> Iterator[Kubegate]:
        with running_kubegate(*flags) as kg:
            yield kg

    return _kubegate


def proxy_path(namespace: str, resource: str, proxy_id: str, subpath: str = "/") -> str:
    """``/api/v1/namespaces/NS/RESOURCE/ID/proxy`` + subpath (nodes are not namespaced)."""
    if resource == "nodes":
        return f"/api/v1/nodes/{proxy_id}/proxy{subpath}"
    return f"/api/v1/namespaces/{namespace}/{resource}/{proxy_id}/proxy{subpath}"


async def eventually(
    probe: Callable[[], Awaitable[Response]],
    until: Callable[[Response], bool],
    timeout: float = READY_TIMEOUT,
) -> Response:
    """Poll ``probe`` until its response satisfies ``until``; the last response otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await probe()
        if until(response) or loop.time() > deadline:
            return response
        await asyncio.sleep(POLL_INTERVAL)


def resolution_pending(response: Response) -> bool:
    """The proxy's cache does not see the target (or its endpoints) yet."""
    message = response.message
    return (response.status == 404 and message.endswith("not found")) or (
        response.status == 503 and message.startswith("no endpoints available")
    )


@dataclass
class Port:
    """One backend published as a named container port and a Service port."""

    backend: Backend | WebSocketBackend
    name: str = "http"
    service_port: int = 80
    container_name: str = "web"


@dataclass
class Cluster:
    """Objects in one namespace of one kubegate, and the waits that go with them."""

    kg: Kubegate
    namespace: str
    created: list[str] = field(default_factory=list)

    async def create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        response = await self.kg.api("POST", path, obj)
        assert response.status == 201, response
        return response.json()  # type: ignore[no-any-return]

    async def pod(
        self,
        name: str,
        ports: list[tuple[str, int]] = (),  # type: ignore[assignment]
        *,
        ip: str = LOOPBACK,
        labels: dict[str, str] | None = None,
        containers: list[dict[str, Any]] | None = None,
        ready: bool = True,
    ) -> dict[str, Any]:
        """A Pod (container ports ``(name, number)``) whose status says it runs at ``ip``."""
        if containers is None:
            container: dict[str, Any] = {"name": "main", "image": "backend"}
            if ports:
                container["ports"] = [{"name": n, "containerPort": p} for n, p in ports]
            containers = [container]
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": {"containers": containers},
        }
        created = await self.create(f"/api/v1/namespaces/{self.namespace}/pods", obj)
        return await self.set_pod_ip(name, ip, ready=ready) if ip else created

    async def set_pod_ip(self, name: str, ip: str, *, ready: bool = True) -> dict[str, Any]:
        status = {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        }
        path = f"/api/v1/namespaces/{self.namespace}/pods/{name}/status"
        response = await self.kg.api("PATCH", path, {"status": status}, patch=True)
        assert response.status == 200, response
        return response.json()  # type: ignore[no-any-return]

    async def service(
        self, name: str, ports: list[dict[str, Any]], *, selector: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"ports": ports},
        }
        if selector is not None:
            obj["spec"]["selector"] = selector
        return await self.create(f"/api/v1/namespaces/{self.namespace}/services", obj)

    async def serve(
        self, name: str, *ports: Port, wait_id: str | None = None, annotations: dict[str, str] | None = None
    ) -> None:
        """A Service ``name`` backed by one Pod at loopback publishing ``ports``; returns once
        the proxy reaches the backend of the first port through ``wait_id`` (default: its
        port name)."""
        await self.pod(
            f"{name}-pod",
            [(p.container_name, p.backend.port) for p in ports],
            labels={"app": name},
        )
        await self.service(
            name,
            [
                {"name": p.name, "port": p.service_port, "targetPort": p.container_name}
                for p in ports
            ],
            selector={"app": name},
            annotations=annotations,
        )
        await self.wait_ready("services", wait_id or f"{name}:{ports[0].name}")

    async def node(self, name: str, address: str, kubelet_port: int) -> None:
        obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
        await self.create("/api/v1/nodes", obj)
        status = {
            "addresses": [{"type": "InternalIP", "address": address}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        }
        response = await self.kg.api("PATCH", f"/api/v1/nodes/{name}/status", {"status": status}, patch=True)
        assert response.status == 200, response

    def path(self, resource: str, proxy_id: str, subpath: str = "/") -> str:
        return proxy_path(self.namespace, resource, proxy_id, subpath)

    async def get(self, resource: str, proxy_id: str, subpath: str = "/", **kwargs: Any) -> Response:
        return await self.kg.request("GET", self.path(resource, proxy_id, subpath), **kwargs)

    async def wait_ready(self, resource: str, proxy_id: str, timeout: float = READY_TIMEOUT) -> None:
        """Until the proxy reaches a harness backend's ``/__ready`` through this target."""
        path = self.path(resource, proxy_id, READY_PATH)
        response = await eventually(
            lambda: self.kg.request("GET", path), lambda r: r.is_backend, timeout
        )
        assert response.is_backend, f"the proxy never reached {path}: {response!r}"

    async def wait_found(self, resource: str, proxy_id: str, subpath: str = "/") -> Response:
        """Until the proxy's cache sees the object: the first answer that is not a 404."""
        path = self.path(resource, proxy_id, subpath)
        response = await eventually(
            lambda: self.kg.request("GET", path),
            lambda r: not (r.status == 404 and r.message.endswith("not found")),
        )
        assert response.status != 404, response
        return response

    async def wait_resolved(self, resource: str, proxy_id: str, subpath: str = "/") -> Response:
        """Until the proxy's cache sees the target: the first response that is not 'not
        found' / 'no endpoints available'."""
        path = self.path(resource, proxy_id, subpath)
        response = await eventually(
            lambda: self.kg.request("GET", path), lambda r: not resolution_pending(r)
        )
        assert not resolution_pending(response), response
        return response


async def new_cluster(kg: Kubegate, prefix: str = "px") -> Cluster:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    response = await kg.api("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    assert response.status == 201, response
    return Cluster(kg, name)


def backends_fixture() -> Any:
    @pytest.fixture
    async def _backends() -> AsyncIterator[Backends]:
        backends = Backends()
        try:
            yield backends
        finally:
            await backends.close()

    return _backends


def cluster_fixture(kubegate_name: str = "kg") -> Any:
    """A fresh namespace on the kubegate fixture called ``kubegate_name``."""

    @pytest.fixture
    async def _cluster(request: pytest.FixtureRequest) -> Cluster:
        kg = request.getfixturevalue(kubegate_name)
        return await new_cluster(kg)

    return _cluster
