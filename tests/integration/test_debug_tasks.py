"""GET /debug/tasks: a text dump of the server's asyncio tasks for administrators only
(RBAC non-resource URL, like /metrics)."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from integration.proxy.cluster import ServerProcess, start_server_process

USER_TOKEN = "tok-plain-user-5e4d3c2b1a09"
READER_TOKEN = "tok-debug-reader-0a1b2c3d4e5f"


@dataclass
class Server:
    process: ServerProcess

    def get(self, path: str, token: str | None) -> tuple[int, str]:
        url = urlsplit(self.process.url)
        context = ssl.create_default_context(cafile=str(self.process.data_dir / "ca.crt"))
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def admin_post(self, path: str, obj: Any) -> int:
        url = urlsplit(self.process.url)
        context = ssl.create_default_context(cafile=str(self.process.data_dir / "ca.crt"))
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
        token = (self.process.data_dir / "admin.token").read_text().strip()
        try:
            conn.request(
                "POST",
                path,
                body=json.dumps(obj),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    @property
    def admin_token(self) -> str:
        return (self.process.data_dir / "admin.token").read_text().strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    files = tmp_path_factory.mktemp("debug-files")
    tokens = files / "tokens.csv"
    tokens.write_text(f"{USER_TOKEN},plain,u-plain\n{READER_TOKEN},debugger,u-debugger\n")
    process = start_server_process(
        tmp_path_factory.mktemp("debug-server"), f"--token-auth-file={tokens}"
    )
    yield Server(process)
    process.stop()


def test_admin_gets_the_task_dump(server: Server) -> None:
    """system:masters gets text naming the connection count and its own request's task,
    running in the connection's request handler."""
    status, text = server.get("/debug/tasks", server.admin_token)
    assert status == 200
    assert "connections: " in text and "tasks: " in text
    assert "task: kubegate-http-request\n    kubegate/http/connection.py:" in text
    assert "(running)" in text


def test_dump_groups_the_servers_background_tasks(server: Server) -> None:
    """Long-lived tasks appear with a count and where they wait (the TLS reloader sleeps)."""
    status, text = server.get("/debug/tasks", server.admin_token)
    assert status == 200
    assert "1 task: kubegate-tls-reload\n    kubegate/server/tls_reload.py:" in text
    assert "asyncio/tasks.py" in text and "awaiting a future" in text


def test_normal_user_is_forbidden(server: Server) -> None:
    """An authenticated user without a grant gets kube's 403 Status."""
    status, text = server.get("/debug/tasks", USER_TOKEN)
    assert status == 403
    body = json.loads(text)
    assert body["reason"] == "Forbidden"
    assert 'cannot get path "/debug/tasks"' in body["message"]


def test_no_credential_is_unauthorized(server: Server) -> None:
    """Without a credential the answer is 401, never the dump."""
    status, text = server.get("/debug/tasks", None)
    assert status == 401 and "tasks:" not in text


def test_role_granting_debug_paths_opens_it(server: Server) -> None:
    """A ClusterRole with nonResourceURLs /debug/* and verb get lets its subject read it."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "debug-reader"},
        "rules": [{"nonResourceURLs": ["/debug/*"], "verbs": ["get"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "debug-reader"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "debug-reader",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "debugger"}],
    }
    assert server.admin_post("/apis/rbac.authorization.k8s.io/v1/clusterroles", role) == 201
    assert (
        server.admin_post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding) == 201
    )
    deadline = time.monotonic() + 10
    while (status := server.get("/debug/tasks", READER_TOKEN)[0]) != 200:
        assert status == 403 and time.monotonic() < deadline
        time.sleep(0.05)
