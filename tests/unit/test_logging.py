"""Structured logs: JSON and text lines, the request id, escaping, and the access log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from kubegate.auth.types import UserInfo
from kubegate.core.requestinfo import parse_request_info
from kubegate.http.body import EmptyBody
from kubegate.http.types import Request
from kubegate.server.context import RequestContext
from kubegate.server.logging_setup import (
    REQUEST_ID,
    AccessLog,
    configure_logging,
    escape,
)


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def capture(log_format: str) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(log_format, stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_have_the_standard_fields(restore_root):
    """A JSON line carries time, level, logger and the formatted message."""
    stream = capture("json")
    logging.getLogger("kubegate.test").warning("disk %s is %d%% full", "sda", 97)
    (line,) = lines(stream)
    doc = json.loads(line)
    assert doc["level"] == "WARNING" and doc["logger"] == "kubegate.test"
    assert doc["message"] == "disk sda is 97% full"
    assert doc["time"].endswith("Z") and "T" in doc["time"]
    assert "auditID" not in doc


def test_json_lines_inside_a_request_carry_its_audit_id(restore_root):
    """A line logged while a request is served names that request's Audit-Id."""
    stream = capture("json")
    token = REQUEST_ID.set("5b1c7c8e-audit")
    try:
        logging.getLogger("kubegate.test").info("inside")
    finally:
        REQUEST_ID.reset(token)
    logging.getLogger("kubegate.test").info("outside")
    inside, outside = (json.loads(x) for x in lines(stream))
    assert inside["auditID"] == "5b1c7c8e-audit"
    assert "auditID" not in outside


def test_text_lines_carry_the_audit_id_too(restore_root):
    """The text format appends audit-id=... inside a request."""
    stream = capture("text")
    token = REQUEST_ID.set("abc-123")
    try:
        logging.getLogger("kubegate.test").info("hello")
    finally:
        REQUEST_ID.reset(token)
    (line,) = lines(stream)
    assert line.endswith("INFO kubegate.test: hello audit-id=abc-123")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_cr_lf_in_a_message_cannot_forge_a_line(restore_root, log_format: str):
    """A message with CR/LF (say a path a client chose) stays one line in either format."""
    stream = capture(log_format)
    evil = "/x\r\n2026-01-01 INFO kubegate.auth: admin logged in\u2028"
    logging.getLogger("kubegate.test").info("path %s", evil)
    (line,) = lines(stream)
    if log_format == "json":
        assert json.loads(line)["message"] == f"path {evil}"
    else:
        assert "\\r\\n2026-01-01" in line


def test_escape_makes_controls_visible():
    """C0 controls and DEL are written as escapes; other text is unchanged."""
    assert escape("a\rb\nc\x00d\x1be\x7ff é") == "a\\rb\\nc\\x00d\\x1be\\x7ff é"


def test_exceptions_are_inside_the_json_line(restore_root):
    """A traceback is a field of the JSON object, not extra lines."""
    stream = capture("json")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("kubegate.test").exception("failed")
    (line,) = lines(stream)
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_configure_logging_replaces_earlier_handlers(restore_root):
    """Calling it again leaves one handler: no line is written twice."""
    capture("text")
    stream = capture("json")
    logging.getLogger("kubegate.test").info("once")
    assert len(lines(stream)) == 1
    assert len(logging.getLogger().handlers) == 1


def test_unknown_format_is_refused():
    """Only text and json exist."""
    with pytest.raises(ValueError):
        configure_logging("xml")


def request_context(target: str, user: UserInfo | None) -> RequestContext:
    path, _, query = target.partition("?")
    request = Request(
        "GET",
        target,
        path,
        query,
        [("host", "x"), ("authorization", "Bearer s3cr3t-token")],
        EmptyBody(None),
        ("127.0.0.1", 5000),
        True,
    )
    ctx = RequestContext(request, None, parse_request_info("GET", path, query), "audit-42")  # type: ignore[arg-type]
    ctx.user = ctx.authenticated_user = user
    return ctx


def test_access_log_line_fields(restore_root):
    """One line per request: method, path, status, duration, user, audit id, bytes."""
    stream = capture("json")
    ctx = request_context("/api/v1/namespaces/default/pods", UserInfo("jane"))
    AccessLog().write(ctx, 200, 1234, 0.0125)
    (doc,) = (json.loads(x) for x in lines(stream))
    assert doc["logger"] == "kubegate.access"
    assert {k: doc[k] for k in ("method", "path", "status", "user", "bytes", "auditID")} == {
        "method": "GET",
        "path": "/api/v1/namespaces/default/pods",
        "status": 200,
        "user": "jane",
        "bytes": 1234,
        "auditID": "audit-42",
    }
    assert doc["durationMs"] == pytest.approx(12.5)


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_access_log_leaves_out_the_query_and_headers(restore_root, log_format: str):
    """Credentials in a query string or a header never reach the access log."""
    stream = capture(log_format)
    ctx = request_context(
        "/api/v1/namespaces/d/services/s/proxy/?access_token=qs-secret&x=1", UserInfo("jane")
    )
    AccessLog().write(ctx, 200, 0, 0.001)
    text = stream.getvalue()
    assert "qs-secret" not in text and "s3cr3t-token" not in text and "access_token" not in text
    assert "/api/v1/namespaces/d/services/s/proxy/" in text


def test_access_log_names_an_impersonated_user(restore_root):
    """The credential holder is the user; whom they act as is a separate field."""
    stream = capture("json")
    ctx = request_context("/api", UserInfo("admin"))
    ctx.user = UserInfo("jane")
    AccessLog().write(ctx, 200, 0, 0.001)
    doc = json.loads(lines(stream)[0])
    assert (doc["user"], doc["impersonatedUser"]) == ("admin", "jane")


def test_access_log_of_an_unauthenticated_request(restore_root):
    """A 401 has an empty user."""
    stream = capture("json")
    AccessLog().write(request_context("/api", None), 401, 128, 0.001)
    assert json.loads(lines(stream)[0])["user"] == ""
