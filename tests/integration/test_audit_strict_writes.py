"""Strict audit mode and writes, in a real server process whose audit log stops accepting
bytes at an exact size (its RLIMIT_FSIZE, lowered with prlimit(2): writes past it fail with
EFBIG): a create whose RequestReceived record cannot be written is refused with 503 and not
committed; one whose ResponseComplete record is lost after it was committed is answered with
its real result, and the loss is counted and logged without the object's data."""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration.api_kit import Api
from serverkit import ServerProcess, start_server_process

COLLECTION = "/api/v1/namespaces/default/configmaps"
SECRET_VALUE = "do-not-log-this-value"
FAST = 2.0  # seconds: a refusal must be this quick
WITHIN = 15.0


@dataclass
class Reply:
    status: int
    audit_id: str
    body: Any


@dataclass
class AuditedServer:
    process: ServerProcess
    log: Path

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        reply = Api(self.process).as_admin_token(method, path, body)
        return Reply(reply.status, reply.headers.get("Audit-Id", ""), reply.parsed())

    def records(self) -> list[dict[str, Any]]:
        """Every line of the audit log, each of which must parse (no half-written record)."""
        return [json.loads(line) for line in self.log.read_bytes().splitlines()]

    def lines_of(self, audit_id: str) -> dict[str, int]:
        """stage -> length in bytes of the request's records."""
        return {
            json.loads(line)["stage"]: len(line) + 1
            for line in self.log.read_bytes().splitlines()
            if json.loads(line)["auditID"] == audit_id
        }

    def stop_log_growing_after(self, extra: int) -> None:
        """Let the audit log grow by ``extra`` more bytes; writes past that fail (EFBIG)."""
        limit = self.log.stat().st_size + extra
        pid = self.process.proc.pid
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def let_log_grow(self) -> None:
        pid = self.process.proc.pid
        resource.prlimit(
            pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        )

    def serving_again(self) -> None:
        """Poll until requests are served (the first refusal's record notices the room)."""
        deadline = time.monotonic() + WITHIN
        while self.call("GET", COLLECTION).status != 200:
            assert time.monotonic() < deadline, "the server did not serve again"
            time.sleep(0.05)

    def log_mentions(self, text: str) -> bool:
        return any(text in line for line in list(self.process.output))


def configmap(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": SECRET_VALUE},
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AuditedServer]:
    log = tmp_path / "audit" / "audit.log"
    process = start_server_process(tmp_path / "data", "--audit-log-path", str(log))
    try:
        yield AuditedServer(process, log)
    finally:
        process.stop()


@pytest.fixture
def create_sizes(server: AuditedServer) -> tuple[int, int]:
    """The sizes of a create's RequestReceived and ResponseComplete records, from one create
    (names of equal length: the records of two such creates are the same size)."""
    primer = server.call("POST", COLLECTION, configmap("primer"))
    assert primer.status == 201
    sizes = server.lines_of(primer.audit_id)
    return sizes["RequestReceived"], sizes["ResponseComplete"]


def test_create_whose_received_record_cannot_be_written_is_refused_and_not_committed(
    server: AuditedServer, create_sizes: tuple[int, int]
) -> None:
    """With room for less than its RequestReceived record, a create is refused with 503
    before it runs: once the log has room again, the object does not exist."""
    received, _ = create_sizes
    server.stop_log_growing_after(received // 2)
    started = time.monotonic()
    refused = server.call("POST", COLLECTION, configmap("ghost1"))
    assert refused.status == 503
    assert time.monotonic() - started < FAST
    assert refused.body["reason"] == "ServiceUnavailable" and "audit" in refused.body["message"]
    server.let_log_grow()
    server.serving_again()
    assert server.call("GET", f"{COLLECTION}/ghost1").status == 404
    assert server.log_mentions("stage=RequestReceived: refused before it ran")


def test_create_whose_complete_record_is_lost_after_commit_is_answered_201(
    server: AuditedServer, create_sizes: tuple[int, int]
) -> None:
    """With room for its RequestReceived record but not its ResponseComplete one, a create
    is answered 201 with the object it committed, not 503."""
    received, complete = create_sizes
    server.stop_log_growing_after(received + complete // 2)
    created = server.call("POST", COLLECTION, configmap("kept01"))
    assert created.status == 201
    assert created.body["metadata"]["name"] == "kept01"
    server.let_log_grow()
    server.serving_again()
    assert server.call("GET", f"{COLLECTION}/kept01").status == 200
    stages = [r["stage"] for r in server.records() if r["auditID"] == created.audit_id]
    assert stages == ["RequestReceived"]


def test_lost_complete_record_is_counted_and_logged_without_the_object(
    server: AuditedServer, create_sizes: tuple[int, int]
) -> None:
    """The lost record is in apiserver_audit_error_total and the server log, whose line
    names the request and carries none of the object's data."""
    received, complete = create_sizes
    server.stop_log_growing_after(received + complete // 2)
    assert server.call("POST", COLLECTION, configmap("kept02")).status == 201
    server.let_log_grow()
    server.serving_again()
    scrape = server.call("GET", "/metrics")
    assert scrape.status == 200
    errors = [
        sample.value
        for family in text_string_to_metric_families(str(scrape.body))
        if family.name == "apiserver_audit_error"
        for sample in family.samples
        if sample.name.endswith("_total")
    ]
    assert errors and errors[0] >= 1
    lost = [line for line in list(server.process.output) if "audit record lost" in line]
    assert any(f"{COLLECTION} " in line and "stage=ResponseComplete" in line for line in lost)
    assert not any(SECRET_VALUE in line for line in server.process.output)
