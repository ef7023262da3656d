"""kubegate as the tests see it: a ``kubegate serve`` subprocess, the objects that point
its proxy at backends, and the polls that wait for its watch-fed cache.

Backends are registered the way a cluster would: a Pod whose ``status.podIP`` is set through
the status subresource and a Service with a selector; the EndpointSlice controller builds
the slice. (User-created EndpointSlices cannot name loopback addresses, as in kube; the
controller's own slices are not validated.)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import ssl
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from integration.proxy.backends import LOOPBACK, READY_PATH, Backend, Backends, WebSocketBackend
from integration.proxy.client import IO_TIMEOUT, Connection, Headers, Response, request_bytes

POLL_INTERVAL = 0.02
READY_TIMEOUT = 15.0


def _root_conftest() -> Any:
    """tests/conftest.py, even when another directory's conftest took the name first."""
    module = sys.modules.get("conftest")
    if module is not None and hasattr(module, "start_server_process"):
        return module
    path = Path(__file__).resolve().parents[2] / "conftest.py"
    spec = importlib.util.spec_from_file_location("kubegate_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


_conftest = _root_conftest()
ServerProcess = _conftest.ServerProcess
start_server_process = _conftest.start_server_process


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
        return await Connection.open(
            self.host, self.port, self.ssl_context(client_cert=client_cert)
        )

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        auth: str | None = "token",  # "token", "cert" or None
        within: float = IO_TIMEOUT,
    ) -> Response:
        """One request on a fresh connection, the whole response read."""
        sent: Headers = [self.bearer] if auth == "token" else []
        sent += list(headers)
        async with asyncio.timeout(within):
            conn = await self.connect(client_cert=auth == "cert")
            try:
                await conn.send(request_bytes(method, target, self.netloc, sent, body))
                return await conn.read_response(method)
            finally:
                await conn.close()

    async def api(
        self, method: str, path: str, obj: Any = None, *, patch: bool = False
    ) -> Response:
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

    @pytest.fixture(scope=scope)
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
    within: float = READY_TIMEOUT,
) -> Response:
    """Poll ``probe`` until its response satisfies ``until``; the last response otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
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

    async def create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        response = await self.kg.api("POST", path, obj)
        assert response.status == 201, response
        return response.json()

    async def pod(
        self,
        name: str,
        ports: Sequence[tuple[str, int]] = (),
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
        return response.json()

    async def service(
        self,
        name: str,
        ports: list[dict[str, Any]],
        *,
        selector: dict[str, str] | None = None,
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
        self,
        name: str,
        *ports: Port,
        wait_id: str | None = None,
        annotations: dict[str, str] | None = None,
        ip: str = LOOPBACK,
    ) -> None:
        """A Service ``name`` backed by one Pod at ``ip`` publishing ``ports``; returns once
        the proxy reaches the backend of the first port through ``wait_id`` (default: its
        port name)."""
        await self.pod(
            f"{name}-pod",
            [(p.container_name, p.backend.port) for p in ports],
            labels={"app": name},
            ip=ip,
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
        """A Node whose status gives its InternalIP and kubelet port."""
        obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
        await self.create("/api/v1/nodes", obj)
        await self.set_node_address(name, address, kubelet_port)

    async def set_node_address(self, name: str, address: str, kubelet_port: int) -> None:
        status = {
            "addresses": [{"type": "InternalIP", "address": address}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        }
        path = f"/api/v1/nodes/{name}/status"
        response = await self.kg.api("PATCH", path, {"status": status}, patch=True)
        assert response.status == 200, response

    def path(self, resource: str, proxy_id: str, subpath: str = "/") -> str:
        return proxy_path(self.namespace, resource, proxy_id, subpath)

    async def get(
        self, resource: str, proxy_id: str, subpath: str = "/", **kwargs: Any
    ) -> Response:
        return await self.kg.request("GET", self.path(resource, proxy_id, subpath), **kwargs)

    async def wait_ready(self, resource: str, proxy_id: str, within: float = READY_TIMEOUT) -> None:
        """Until the proxy reaches a harness backend's ``/__ready`` through this target."""
        path = self.path(resource, proxy_id, READY_PATH)
        response = await eventually(
            lambda: self.kg.request("GET", path), lambda r: r.is_backend, within
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
