"""Plain HTTPS requests to a ``kubegate serve`` process (see ``serverkit``), with the admin
client certificate or none, for tests that check the API's answers byte for byte."""

from __future__ import annotations

import http.client
import json
import ssl
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from serverkit import ServerProcess, start_server_process


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def parsed(self) -> Any:
        """The body as JSON, or as text when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode()


class Api:
    """Plain HTTPS requests with a client certificate (the admin's unless another is given),
    or none."""

    def __init__(self, srv: ServerProcess, *, cert: tuple[Path, Path] | None = None) -> None:
        url = urlsplit(srv.url)
        self.host, self.port = url.hostname or "", url.port or 0
        self.data_dir = srv.data_dir
        self.cert = cert or (srv.data_dir / "admin.crt", srv.data_dir / "admin.key")

    def tls(self, *, cert: bool = True) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.data_dir / "ca.crt"))
        if cert:
            context.load_cert_chain(*self.cert)
        return context

    def connect(self, timeout: float = 30, *, cert: bool = True) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.host, self.port, context=self.tls(cert=cert), timeout=timeout
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        cert: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request; a ``body`` that is not already bytes or text is sent as JSON."""
        conn = self.connect(cert=cert)
        try:
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            conn.request(
                method, path, body=body, headers={"Content-Type": content_type, **(headers or {})}
            )
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def as_admin_token(self, method: str, path: str, body: Any = None) -> Reply:
        """One request authenticated by the admin's bearer token, without a client certificate
        (so the audit log and the authenticators see a token user)."""
        token = (self.data_dir / "admin.token").read_text().strip()
        return self.request(
            method, path, body, cert=False, headers={"Authorization": f"Bearer {token}"}
        )

    def ok(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> dict[str, Any]:
        """A request that must answer ``expect``; returns the decoded body."""
        reply = self.request(method, path, body)
        assert reply.status == expect, reply.body
        return reply.json()

    def fresh_namespace(self, prefix: str) -> str:
        """Create a namespace named ``{prefix}-<random>`` and return its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self.ok("POST", "/api/v1/namespaces", namespace, expect=201)
        return name

    def names(self, path: str) -> list[str]:
        """Names of the objects a list path returns."""
        return [item["metadata"]["name"] for item in self.ok("GET", path)["items"]]

    def watch(
        self, path: str, *, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 10
    ) -> list[dict[str, Any]]:
        """Watch events of ``path`` (a watch URL) until ``until(events)`` or the stream ends."""
        conn = self.connect(timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 200, response.read()
            events: list[dict[str, Any]] = []
            while not until(events):
                line = response.readline()
                if not line:
                    break
                events.append(json.loads(line))
            return events
        finally:
            conn.close()


@contextmanager
def running_api(data_dir: Path, *extra: str) -> Iterator[Api]:
    """A ``kubegate serve`` process on ``data_dir`` (memory store) and an Api to it."""
    srv = start_server_process(data_dir, *extra)
    try:
        yield Api(srv)
    finally:
        srv.stop()
