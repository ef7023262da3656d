"""The sqlite store unavailable for writing (another process holds its write lock): writes
answer 503 Status once SQLite's busy wait (5 s) is over — not a hang, not a 500 — reads keep
being served from the WAL snapshot, and writes work again as soon as the lock is released.
(An etcd outage: tests/integration/test_store_etcd_server.py.)"""

from __future__ import annotations

import http.client
import json
import sqlite3
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from integration.proxy.cluster import ServerProcess, start_server_process

BUSY_WAIT = 5.0  # the sqlite store's busy timeout
MARGIN = 3.0


def call(server: ServerProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    url = urlsplit(server.url)
    context = ssl.create_default_context(cafile=str(server.data_dir / "ca.crt"))
    token = (server.data_dir / "admin.token").read_text().strip()
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=30)
    try:
        conn.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    db = tmp_path / "state.db"
    server = start_server_process(tmp_path / "data", store=f"sqlite:{db}")
    yield server, db
    server.stop()


def test_locked_store_gives_503_for_writes_and_keeps_serving_reads(sqlite_server) -> None:
    """With the database write-locked by another process, a create gets 503
    ServiceUnavailable after the busy wait while a list is still answered; once the lock is
    released the same create succeeds."""
    server, db = sqlite_server
    path = "/api/v1/namespaces/default/configmaps"
    assert call(server, "POST", path, configmap("before"))[0] == 201
    locker = sqlite3.connect(db, isolation_level=None, timeout=1)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        status, body = call(server, "POST", path, configmap("during"))
        elapsed = time.monotonic() - started
        assert status == 503
        assert body["kind"] == "Status" and body["reason"] == "ServiceUnavailable"
        assert body["message"].startswith("storage is unavailable")
        assert BUSY_WAIT * 0.8 <= elapsed < BUSY_WAIT + MARGIN
        status, listed = call(server, "GET", path)
        assert status == 200
        assert [item["metadata"]["name"] for item in listed["items"]] == ["before"]
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert call(server, "POST", path, configmap("during"))[0] == 201
