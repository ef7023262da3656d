"""Strict audit mode (--audit-log-mode=blocking-strict): an answer whose record could not be
written does not go out, and the auditor refuses new requests while the log is failing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubegate.auth.audit_file import AuditFile
from kubegate.auth.audit_policy import DEFAULT_POLICY
from kubegate.http.types import Headers
from kubegate.server.audit_log import AuditedResponse, FileAuditor


class Wire:
    """A fake ResponseWriter remembering what reached the connection."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, Headers, bytes]] = []
        self.writes: list[bytes] = []
        self.ended = False
        self.started = False
        self.status = 0

    async def send(self, status: int, headers: Headers, body: bytes = b"") -> None:
        self.started, self.status = True, status
        self.sent.append(("send", status, list(headers), body))

    async def start(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        self.started, self.status = True, status
        self.sent.append(("start", status, list(headers), b""))

    async def write(self, data: bytes) -> None:
        self.writes.append(data)

    async def end(self) -> None:
        self.ended = True

    def client_gone(self) -> Any:
        raise NotImplementedError

    def cancel_on_disconnect(self) -> None:
        pass

    async def detach(self) -> Any:
        return None, b""


def lost() -> bool:
    return False


async def test_one_shot_answer_is_replaced_by_a_503_status():
    """send() whose record is lost sends a 503 ServiceUnavailable Status, Audit-Id kept."""
    wire = Wire()
    response = AuditedResponse(wire, lost)
    await response.send(200, [("audit-id", "a-1"), ("content-type", "application/json")], b"{}")
    [(kind, status, headers, body)] = wire.sent
    assert (kind, status) == ("send", 503)
    assert ("audit-id", "a-1") in headers and ("retry-after", "1") in headers
    status_object = json.loads(body)
    assert status_object["reason"] == "ServiceUnavailable" and "audit" in status_object["message"]
    assert response.status == 503


async def test_empty_answer_is_replaced_and_later_writes_dropped():
    """A zero-length start() whose record is lost becomes the 503; the handler's end() is
    then a no-op."""
    wire = Wire()
    response = AuditedResponse(wire, lost)
    await response.start(204, [("audit-id", "a-2")], length=0)
    await response.end()
    assert [(k, s) for k, s, _, _ in wire.sent] == [("send", 503)]
    assert not wire.ended


async def test_length_framed_body_is_cut_before_its_last_bytes():
    """A streamed body whose record is lost at its last bytes is cut: they never go out."""
    wire = Wire()
    response = AuditedResponse(wire, lost)
    await response.start(200, [], length=4)
    await response.write(b"ab")
    with pytest.raises(ConnectionAbortedError):
        await response.write(b"cd")
    assert wire.writes == [b"ab"]


async def test_chunked_stream_is_not_ended():
    """A chunked stream whose record is lost at its end gets no terminating chunk."""
    wire = Wire()
    response = AuditedResponse(wire, lost)
    await response.start(200, [])
    await response.write(b"x")
    with pytest.raises(ConnectionAbortedError):
        await response.end()
    assert not wire.ended


async def test_recorded_answer_goes_out_unchanged():
    """An on_complete that does not say False leaves the answer alone (None included)."""
    wire = Wire()
    response = AuditedResponse(wire, lambda: None)
    await response.send(201, [("audit-id", "a-3")], b"{}")
    assert [(k, s, b) for k, s, _, b in wire.sent] == [("send", 201, b"{}")]


class FullDisk(AuditFile):
    """An AuditFile whose writes fail until ``room`` is set."""

    def __init__(self) -> None:
        super().__init__(None)
        self.room = False

    def write(self, line: bytes) -> bool:
        if self.room:
            self._failing = False
            self.written += 1
            return True
        self.failures += 1
        self._failing = True
        return False


def test_strict_auditor_refuses_while_failing_and_recovers():
    """accepting() is False after a lost record in strict mode, True once one is written."""
    sink = FullDisk()
    auditor = FileAuditor(DEFAULT_POLICY, sink, strict=True)
    assert auditor.accepting()
    assert auditor.record_rejected(("192.0.2.9", 1), 400, "bad").startswith(b"Audit-Id: ")
    assert not auditor.accepting()
    sink.room = True
    auditor.record_rejected(("192.0.2.9", 1), 400, "bad")
    assert auditor.accepting()


def test_blocking_auditor_keeps_accepting():
    """In blocking mode a lost record changes nothing for the requests."""
    sink = FullDisk()
    auditor = FileAuditor(DEFAULT_POLICY, sink, strict=False)
    auditor.record_rejected(("192.0.2.9", 1), 400, "bad")
    assert auditor.accepting() and sink.failures == 1
