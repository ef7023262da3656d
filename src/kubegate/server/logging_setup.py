"""Structured logs: ``--log-format text|json``, request ids, and the optional access log.

JSON lines carry ``time`` (RFC 3339, UTC), ``level``, ``logger``, ``message`` and, for a line
logged while a request is being served, ``auditID`` — the request's ``Audit-Id`` header and
audit record id (``REQUEST_ID``, a context variable set by the app for each request; tasks a
request starts inherit it). Text lines are ``time level logger: message [audit-id=...]``.

Log injection (security.md §2.9): JSON escapes every control character (and, ASCII-only,
the Unicode line separators); in text, CR, LF, the other C0 controls and the Unicode line
separators of the message are written as ``\\r``, ``\\n``, ``\\xNN``, ``\\u2028``.

The access log (``--access-log``, one ``kubegate.access`` line per request) records the
method, the path without its query string (where credentials such as ``access_token`` would
be), the status, duration, user, audit id and response body bytes — never headers or bodies.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from kubegate.server.context import RequestContext

REQUEST_ID: ContextVar[str] = ContextVar("kubegate_request_id", default="")
ACCESS_LOGGER = "kubegate.access"
LOG_FORMATS = ("text", "json")
# C0 controls, DEL and the Unicode line breaks (NEL, LS, PS: str.splitlines splits on them),
# written visibly in text logs.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, 0x85)}
_ESCAPES |= {0x0D: "\\r", 0x0A: "\\n", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def escape(text: str) -> str:
    """``text`` with control characters made visible (one log line stays one line)."""
    return text.translate(_ESCAPES)


def _timestamp(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served (if any) when logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "audit_id"):
            record.audit_id = REQUEST_ID.get()
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        audit_id = getattr(record, "audit_id", "")
        if audit_id:
            doc["auditID"] = audit_id
        access = getattr(record, "access", None)
        if access is not None:
            doc.update(access)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: U+2028 and friends too stay escaped, for readers splitting on them.
        return json.dumps(doc, ensure_ascii=True, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record)} {record.levelname} {record.name}: {escape(record.getMessage())}"
        )
        audit_id = getattr(record, "audit_id", "")
        if audit_id:
            line += f" audit-id={audit_id}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(
    log_format: str = "text", *, verbose: bool = False, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (standard error) in ``log_format``; returns the
    handler installed on the root logger (replacing any there)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return handler


class AccessLog:
    """One INFO line per finished request on the ``kubegate.access`` logger."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)

    def write(self, ctx: RequestContext, status: int, size: int, seconds: float) -> None:
        request = ctx.request
        user = ctx.authenticated_user.name if ctx.authenticated_user is not None else ""
        fields = {
            "method": request.method,
            "path": request.path,  # never the query: it may carry credentials
            "status": status,
            "durationMs": round(seconds * 1000, 3),
            "user": user,
            "bytes": size,
        }
        if ctx.user is not None and ctx.user is not ctx.authenticated_user:
            fields["impersonatedUser"] = ctx.user.name
        self.logger.info(
            "%s %s %d %.3fms user=%s bytes=%d",
            request.method,
            request.path,
            status,
            seconds * 1000,
            json.dumps(user),
            size,
            extra={"access": fields, "audit_id": ctx.audit_id},
        )
