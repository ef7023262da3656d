"""Strict audit mode (--audit-log-mode=blocking-strict): a request that may change something
is refused before it runs when its RequestReceived record cannot be written and, once it
ran, answered with its result whatever becomes of its ResponseComplete record; an answer of
any other request whose record could not be written does not go out; and the auditor
refuses new requests while the log is failing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubegate.auth.audit_file import AuditFile
from kubegate.auth.audit_policy import DEFAULT_POLICY, Level, Policy, PolicyRule
from kubegate.auth.types import UserInfo
from kubegate.core.requestinfo import parse_request_info
from kubegate.http.types import Headers, Request
from kubegate.server.audit_log import FileAuditor, may_change_state
from kubegate.server.audited_response import AuditedResponse
from kubegate.server.context import RequestContext


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
    """An AuditFile whose writes fail until ``room`` is set; it keeps what it wrote."""

    def __init__(self) -> None:
        super().__init__(None)
        self.room = False
        self.lines: list[dict[str, Any]] = []

    def write(self, line: bytes) -> bool:
        if self.room:
            self._failing = False
            self.written += 1
            self.lines.append(json.loads(line))
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


def request_context(method: str, target: str, *, upgrade: str | None = None) -> RequestContext:
    path, _, query = target.partition("?")
    request = Request(
        method,
        target,
        path,
        query,
        [],
        None,  # type: ignore[arg-type]
        ("192.0.2.1", 1),
        True,
        upgrade=upgrade,
    )
    ctx = RequestContext(request, Wire(), parse_request_info(method, path, query), "audit-9")
    ctx.user = ctx.authenticated_user = UserInfo("admin", groups=("system:masters",))
    return ctx


CREATE = ("POST", "/api/v1/namespaces/default/configmaps")
READ = ("GET", "/api/v1/namespaces/default/configmaps")


@pytest.mark.parametrize(
    ("method", "upgrade", "changes"),
    [
        ("GET", None, False),
        ("HEAD", None, False),
        ("OPTIONS", None, False),
        ("POST", None, True),
        ("PUT", None, True),
        ("PATCH", None, True),
        ("DELETE", None, True),
        ("GET", "websocket", True),  # exec and proxied WebSockets are GETs
    ],
)
def test_which_requests_may_change_state(method: str, upgrade: str | None, changes: bool):
    """Every method but the safe ones, and every upgrade, gets the RequestReceived stage."""
    ctx = request_context(method, "/api/v1/namespaces/default/pods/p/exec", upgrade=upgrade)
    assert may_change_state(ctx.request) is changes


def test_received_record_is_written_before_the_request_runs():
    """received() writes a RequestReceived line: no response status yet, the same received
    timestamp the ResponseComplete line will carry."""
    sink = FullDisk()
    sink.room = True
    auditor = FileAuditor(DEFAULT_POLICY, sink, strict=True)
    ctx = request_context(*CREATE)
    assert auditor.received(ctx, 1.0) is True
    [line] = sink.lines
    assert line["stage"] == "RequestReceived" and line["verb"] == "create"
    assert "responseStatus" not in line
    assert line["requestReceivedTimestamp"] == line["stageTimestamp"]


def test_write_whose_received_record_is_lost_may_not_run():
    """Strict: received() says False when the RequestReceived record cannot be written."""
    auditor = FileAuditor(DEFAULT_POLICY, FullDisk(), strict=True)
    assert auditor.received(request_context(*CREATE), 1.0) is False
    assert not auditor.accepting()


def test_write_that_ran_is_answered_even_if_its_complete_record_is_lost():
    """Strict: once a write ran after its RequestReceived record, a lost ResponseComplete
    record does not withhold its answer; the loss is counted."""
    sink = FullDisk()
    sink.room = True
    auditor = FileAuditor(DEFAULT_POLICY, sink, strict=True)
    ctx = request_context(*CREATE)
    assert auditor.received(ctx, 1.0)
    sink.room = False
    assert auditor.record(ctx, 1.0) is True
    assert sink.failures == 1


def test_read_whose_complete_record_is_lost_is_withheld():
    """Strict: a request that changed nothing does not get its answer without its record."""
    auditor = FileAuditor(DEFAULT_POLICY, FullDisk(), strict=True)
    assert auditor.record(request_context(*READ), 1.0) is False


def test_blocking_mode_runs_a_write_whose_received_record_is_lost():
    """Blocking: the lost RequestReceived record is counted and the request runs."""
    sink = FullDisk()
    auditor = FileAuditor(DEFAULT_POLICY, sink, strict=False)
    assert auditor.received(request_context(*CREATE), 1.0) is True
    assert sink.failures == 1


def test_omitted_received_stage_writes_nothing_and_the_write_runs():
    """omitStages: [RequestReceived] (kube's common choice): no line, the request runs, and
    its answer goes out even if its ResponseComplete record is lost, as in kube."""
    sink = FullDisk()
    policy = Policy((PolicyRule(Level.METADATA, omit_stages=frozenset({"RequestReceived"})),))
    auditor = FileAuditor(policy, sink, strict=True)
    ctx = request_context(*CREATE)
    assert auditor.received(ctx, 1.0) is True
    assert sink.failures == 0
    assert auditor.record(ctx, 1.0) is True
