"""The audit filter: when the record is written relative to the response, and what the
server's request context becomes in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubegate.auth.audit_file import AuditFile
from kubegate.auth.audit_policy import DEFAULT_POLICY, Level, Policy, PolicyRule
from kubegate.auth.types import UserInfo
from kubegate.core.requestinfo import RequestInfo, parse_request_info
from kubegate.errors import Forbidden
from kubegate.http.types import Headers, Request
from kubegate.server.audit_log import FileAuditor
from kubegate.server.audited_response import AuditedResponse
from kubegate.server.context import RequestContext

ADMIN = UserInfo("admin", groups=("system:masters", "system:authenticated"))


class Wire:
    """A fake ResponseWriter that logs what reaches the connection, interleaved with the
    audit record."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.started = False
        self.status = 0

    def record(self) -> None:
        self.log.append("record")

    async def send(self, status: int, headers: Headers, body: bytes = b"") -> None:
        self.started, self.status = True, status
        self.log.append(f"send {status}")

    async def start(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        self.started, self.status = True, status
        self.log.append(f"start {status}")

    async def write(self, data: bytes) -> None:
        self.log.append(f"write {data.decode()}")

    async def end(self) -> None:
        self.log.append("end")

    def client_gone(self) -> Any:
        raise NotImplementedError

    async def detach(self) -> Any:
        self.log.append("detach")
        return None, b""


def audited(head: bool = False) -> tuple[Wire, AuditedResponse]:
    wire = Wire()
    return wire, AuditedResponse(wire, wire.record, head_request=head)


async def test_one_shot_response_is_recorded_before_it_is_sent():
    """send(): the record precedes the bytes, and carries the status being sent."""
    wire, response = audited()
    statuses: list[int] = []
    response._on_complete = lambda: (statuses.append(response.status), wire.record())
    await response.send(201, [])
    assert wire.log == ["record", "send 201"]
    assert statuses == [201]


async def test_chunked_stream_is_recorded_before_its_end():
    """A stream without a length is recorded just before its terminating chunk."""
    wire, response = audited()
    await response.start(200, [])
    await response.write(b"a")
    await response.end()
    assert wire.log == ["start 200", "write a", "record", "end"]


async def test_length_framed_stream_is_recorded_before_its_last_bytes():
    """With Content-Length, the write that completes the body comes after the record."""
    wire, response = audited()
    await response.start(200, [], length=2)
    await response.write(b"a")
    await response.write(b"b")
    await response.end()
    assert wire.log == ["start 200", "write a", "record", "write b", "end"]


@pytest.mark.parametrize(
    ("head", "status", "length"), [(True, 200, 5), (False, 204, None), (False, 200, 0)]
)
async def test_bodiless_response_is_recorded_before_its_head(
    head: bool, status: int, length: int | None
):
    """HEAD answers, 204 and empty bodies: the head is the last of it, so it is recorded first."""
    wire, response = audited(head)
    await response.start(status, [], length=length)
    assert wire.log == ["record", f"start {status}"]


async def test_upgrade_is_recorded_when_the_request_ends():
    """A 101 is not the end of the exchange: the record waits for complete()."""
    wire, response = audited()
    await response.start(101, [])
    await response.detach()
    assert "record" not in wire.log
    response.complete()
    assert wire.log == ["start 101", "detach", "record"]
    assert response.status == 101


async def test_record_is_written_once():
    """However the response ends, and complete() called again, there is one record."""
    wire, response = audited()
    await response.send(200, [])
    response.complete()
    response.complete()
    assert wire.log.count("record") == 1


# ------------------------------------------------------------------------- FileAuditor


def context(
    method: str = "GET",
    target: str = "/api/v1/namespaces/default/configmaps/cm",
    *,
    status: int = 200,
    user: UserInfo | None = ADMIN,
    headers: Headers | None = None,
) -> RequestContext:
    path, _, query = target.partition("?")
    request = Request(
        method,
        target,
        path,
        query,
        headers or [("user-agent", "test/1.0")],
        None,  # type: ignore[arg-type]
        ("192.0.2.1", 40000),
        True,
    )
    wire = Wire()
    wire.status = status
    try:
        info = parse_request_info(method, path, query)
    except ValueError:
        info = RequestInfo(False, "", "")
    ctx = RequestContext(request, wire, info, "audit-1")  # type: ignore[arg-type]
    ctx.user = ctx.authenticated_user = user
    return ctx


def line(ctx: RequestContext, policy: Policy = DEFAULT_POLICY) -> dict[str, Any] | None:
    raw = FileAuditor(policy, AuditFile(None)).line(ctx, 1.0, 2.0)
    return None if raw is None else json.loads(raw)


def test_policy_level_none_writes_nothing():
    """A request the policy puts at level None has no record."""
    assert line(context(), Policy((PolicyRule(Level.NONE),))) is None


def test_omitted_response_complete_stage_writes_nothing():
    """omitStages: [ResponseComplete] suppresses the ResponseComplete record."""
    policy = Policy((PolicyRule(Level.METADATA, omit_stages=frozenset({"ResponseComplete"})),))
    assert line(context(), policy) is None


def test_impersonated_request_logs_the_authenticated_user_too():
    """user is the authenticated identity, impersonatedUser the one it acted as."""
    ctx = context()
    ctx.user = UserInfo("jane", groups=("dev",))
    data = line(ctx)
    assert data is not None
    assert data["user"]["username"] == "admin"
    assert data["impersonatedUser"]["username"] == "jane"


def test_policy_sees_the_authenticated_user_not_the_impersonated_one():
    """Rules naming users match who authenticated (kube evaluates before impersonation)."""
    ctx = context()
    ctx.user = UserInfo("jane")
    policy = Policy((PolicyRule(Level.NONE, users=("admin",)), PolicyRule(Level.METADATA)))
    assert line(ctx, policy) is None


def test_unparsable_path_is_recorded_with_the_method_as_verb():
    """A request refused before parsing still has a record; its verb is the method."""
    ctx = context("DELETE", "/api/v1/namespaces/%2e%2e/services", status=400, user=None)
    data = line(ctx)
    assert data is not None
    assert data["verb"] == "delete"
    assert data["user"] == {}
    assert "objectRef" not in data


def test_error_status_is_taken_from_the_error():
    """An APIError's reason and message are the record's responseStatus."""
    ctx = context(status=403)
    ctx.error = Forbidden('configmaps "cm" is forbidden', name="cm", kind="configmaps")
    data = line(ctx)
    assert data is not None
    assert data["responseStatus"]["reason"] == "Forbidden"
    assert data["responseStatus"]["message"] == 'configmaps "cm" is forbidden'


def test_unexpected_error_text_is_not_logged():
    """An internal error is recorded as kube's detail-free 500, not with its exception text."""
    ctx = context(status=500)
    ctx.error = RuntimeError("token=abc leaked in a traceback")
    data = line(ctx)
    assert data is not None
    assert "abc" not in json.dumps(data)
    assert data["responseStatus"]["reason"] == "InternalError"


def create_context(body: bytes, content_type: str = "application/json") -> RequestContext:
    ctx = context("POST", "/api/v1/namespaces/default/configmaps", status=201)
    ctx.request.state["audit_request_body"] = (body, content_type)
    ctx.request.state["audit_response_object"] = {"kind": "ConfigMap", "metadata": {"name": "cm"}}
    return ctx


CM = b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm"},"data":{"k":"v"}}'


@pytest.mark.parametrize(
    ("level", "request_logged", "response_logged"),
    [
        (Level.METADATA, False, False),
        (Level.REQUEST, True, False),
        (Level.REQUEST_RESPONSE, True, True),
    ],
)
def test_bodies_follow_the_level(level: Level, request_logged: bool, response_logged: bool):
    """The decoded request object and the response object appear at their levels only."""
    data = line(create_context(CM), Policy((PolicyRule(level),)))
    assert data is not None
    assert (data.get("requestObject") == json.loads(CM)) is request_logged
    assert ("responseObject" in data) is response_logged


def test_yaml_request_body_is_logged_as_json():
    """A YAML body is logged as the object it decodes to."""
    ctx = create_context(b"kind: ConfigMap\nmetadata: {name: cm}\n", "application/yaml")
    data = line(ctx, Policy((PolicyRule(Level.REQUEST),)))
    assert data is not None
    assert data["requestObject"]["metadata"] == {"name": "cm"}


def test_proxied_response_bodies_are_never_logged():
    """Even at RequestResponse, a proxy subresource request has no responseObject."""
    ctx = context("GET", "/api/v1/namespaces/kube-system/services/echo/proxy/x")
    ctx.request.state["audit_response_object"] = {"secret": "body"}
    data = line(ctx, Policy((PolicyRule(Level.REQUEST_RESPONSE),)))
    assert data is not None
    assert "responseObject" not in data


def test_request_headers_other_than_user_agent_are_not_logged():
    """Authorization and Cookie header values never reach the record."""
    ctx = context(
        headers=[
            ("authorization", "Bearer tok-123"),
            ("cookie", "session=cookie-456"),
            ("user-agent", "kubectl"),
        ]
    )
    text = json.dumps(line(ctx, Policy((PolicyRule(Level.REQUEST_RESPONSE),))))
    assert "tok-123" not in text and "cookie-456" not in text


def test_rendering_failure_is_counted_not_raised(tmp_path: Path):
    """record() never raises: a record that cannot be rendered is counted as lost."""
    sink = AuditFile(tmp_path / "audit.log")
    sink.open()
    try:
        auditor = FileAuditor(Policy((PolicyRule(Level.REQUEST_RESPONSE),)), sink)
        ctx = create_context(CM)
        ctx.request.state["audit_response_object"] = {"not": object()}  # not JSON-encodable
        auditor.record(ctx, 1.0)
        assert sink.failures == 1
        assert (tmp_path / "audit.log").read_bytes() == b""
    finally:
        sink.close()
