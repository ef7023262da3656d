"""The audit filter: one ``audit.k8s.io/v1`` Event line per request, rejected ones included.

``FileAuditor`` is the ``Auditor`` the server uses with ``--audit-log-path``: it reads the
finished request's context, asks the policy for a level, renders the Event
(``auth/audit_event.py``) and appends it to the log (``auth/audit_file.py``).

``AuditedResponse`` wraps the response writer so that the record is written just before
the response's last bytes go out — the moment kube's ResponseComplete stage describes —
rather than after: a client that has its answer can rely on the record being in the log,
even if the server is killed right after. Long-running requests (watches, proxied streams,
upgraded connections) get that single ResponseComplete record when they end; kube's extra
ResponseStarted record is not written (one record per request).

When a record cannot be written (the disk is full, an I/O error): with
``--audit-log-mode=blocking-strict`` (the default) nothing is served unaudited — new requests
are refused with 503 until a record can be written again (each refusal's own record is the
probe that notices), and a request whose record fails at completion does not get its answer:
a one-shot response is replaced by the 503 Status, a streamed one is cut before its last
bytes. With ``blocking`` (kube's default) the request is answered and the record is lost.
Either way the loss is counted (``apiserver_audit_error_total``) and logged with the
request's audit id, verb, path (no query) and user, so the server log keeps what the audit
log could not.

Requests refused by the HTTP layer itself (malformed or oversized heads, header timeouts:
400, 408, 414, 431) never reach the filter chain; ``record_rejected`` gives them a minimal
record — no user, no URI (it was not parsed), the status, the source IP — and their answer
an ``Audit-Id`` header.

Bodies: at level Request the decoded request object of resource writes is logged
(``request.state["audit_request_body"]``: raw bytes and content type, decoded only when the
level asks for it); at RequestResponse also the response object of resource requests
(``audit_response_object`` / ``audit_response_body``) or the error Status. Proxied bodies
are never buffered and never logged, whatever the level.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubegate.auth.audit_event import (
    AuditEvent,
    ObjectRef,
    encode_line,
    render,
    without_managed_fields,
)
from kubegate.auth.audit_file import AuditFile
from kubegate.auth.audit_policy import DEFAULT_POLICY, AuditConfig, Level, Policy, load_policy
from kubegate.auth.types import Attributes, UserInfo
from kubegate.errors import APIError, InternalError, ServiceUnavailable
from kubegate.http.types import Headers, ResponseWriter
from kubegate.server.codec import decode_object
from kubegate.server.context import RequestContext, new_audit_id
from kubegate.server.operations_settings import AUDIT_BLOCKING_STRICT
from kubegate.server.respond import encode_json
from kubegate.server.settings import ServeSettings

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger("kubegate.audit")

_NOBODY = UserInfo("")
_NO_BODY_STATUS = frozenset({204, 304})


class FileAuditor:
    """Writes one Event line per request to an ``AuditFile``; never raises.

    ``strict`` (``--audit-log-mode=blocking-strict``): ``record`` says False when the record
    could not be written, so that the response is withheld, and ``accepting`` is False while
    the log is failing, so that new requests are refused before they do anything."""

    def __init__(self, policy: Policy, sink: AuditFile, *, strict: bool = False) -> None:
        self.policy = policy
        self.sink = sink
        self.strict = strict

    def accepting(self) -> bool:
        """Whether requests may be served (False: strict, and the log cannot be written)."""
        return not (self.strict and self.sink.failing)

    def record(self, ctx: RequestContext, received: float) -> bool:
        """Write the request's record; False when it was lost and the mode is strict."""
        try:
            line = self.line(ctx, received, time.time())
        except Exception:
            # A record we cannot render is a lost record: count it, never fail the request.
            self.sink.failures += 1
            log.exception("audit record for %s could not be rendered", ctx.audit_id)
            return True
        if line is None or self.sink.write(line):
            return True
        user = ctx.authenticated_user or ctx.user
        log.error(
            "audit record lost: %s %s user=%r code=%d",
            ctx.info.verb or ctx.request.method,
            ctx.request.path,
            user.name if user is not None else "",
            ctx.response.status,
        )
        # Health probes are answered anyway: /readyz reports the failure itself, and a
        # liveness probe restarting the server would not free the disk.
        return not self.strict or _is_probe(ctx.request.path)

    def record_rejected(self, peer: tuple[str, int], status: int, message: str) -> bytes:
        """Record a request the HTTP layer refused before parsing it; the header lines that
        give its answer the record's ``Audit-Id``."""
        audit_id = new_audit_id()
        try:
            line = self._rejected_line(audit_id, peer[0], status, message)
        except Exception:
            self.sink.failures += 1
            log.exception("audit record for a refused request could not be rendered")
            return b""
        if line is not None and not self.sink.write(line):
            log.error("audit record lost: refused request from %s code=%d", peer[0], status)
        return b"Audit-Id: %s\r\n" % audit_id.encode()

    def _rejected_line(
        self, audit_id: str, source_ip: str, status: int, message: str
    ) -> bytes | None:
        attrs = Attributes(user=_NOBODY, verb="", resource_request=False, path="")
        config = self.policy.evaluate(attrs, authenticated=False)
        if config.level == Level.NONE or "ResponseComplete" in config.omit_stages:
            return None
        now = time.time()
        event = AuditEvent(
            level=min(config.level, Level.METADATA),  # nothing was parsed to log beyond that
            audit_id=audit_id,
            request_uri="",
            verb="",
            source_ip=source_ip,
            received=now,
            completed=now,
            code=status,
            annotations={"kubegate.io/refused-by": "http", "kubegate.io/reason": message},
        )
        return encode_line(render(event))

    def close(self) -> None:
        self.sink.close()

    def line(self, ctx: RequestContext, received: float, completed: float) -> bytes | None:
        """The record's line, or None when the policy says not to record this request."""
        request, info = ctx.request, ctx.info
        user = ctx.authenticated_user or ctx.user
        verb = info.verb or request.method.lower()
        attrs = Attributes(
            user=user or _NOBODY,
            verb=verb,
            resource_request=info.is_resource_request,
            path=info.path or request.path,
            namespace=info.namespace,
            api_group=info.api_group,
            api_version=info.api_version,
            resource=info.resource,
            subresource=info.subresource,
            name=info.name,
        )
        config = self.policy.evaluate(attrs, authenticated=user is not None)
        if config.level == Level.NONE or "ResponseComplete" in config.omit_stages:
            return None
        impersonated = (
            ctx.user
            if ctx.authenticated_user is not None and ctx.user is not ctx.authenticated_user
            else None
        )
        code = ctx.response.status
        failure = _failure(ctx.error) if ctx.error is not None and code >= 400 else None
        event = AuditEvent(
            level=config.level,
            audit_id=ctx.audit_id,
            request_uri=request.target,
            verb=verb,
            source_ip=request.peer[0] if request.peer else "",
            received=received,
            completed=completed,
            user=user,
            impersonated_user=impersonated,
            user_agent=request.header("user-agent"),
            object_ref=(
                ObjectRef(
                    info.resource,
                    info.namespace,
                    info.name,
                    info.api_group,
                    info.api_version,
                    info.subresource,
                )
                if info.is_resource_request
                else None
            ),
            code=code,
            failure=failure,
            annotations=ctx.audit_annotations,
            request_object=_request_object(ctx, config),
            response_object=_response_object(ctx, config, failure),
        )
        return encode_line(render(event))


def _is_probe(path: str) -> bool:
    return path.rstrip("/") in _PROBES or path.startswith(("/healthz/", "/livez/", "/readyz/"))


_PROBES = frozenset({"/healthz", "/livez", "/readyz", "/version"})


def _failure(error: Exception) -> dict[str, Any]:
    # Unexpected exceptions are answered as a detail-free 500; log the same, never the text.
    api_error = (
        error if isinstance(error, APIError) else InternalError("an internal error occurred")
    )
    return api_error.to_status()


def _request_object(ctx: RequestContext, config: AuditConfig) -> Any:
    if config.level < Level.REQUEST or not ctx.info.is_resource_request:
        return None
    stashed = ctx.request.state.get("audit_request_body")
    if stashed is None:
        return None
    raw, content_type = stashed
    try:
        obj = decode_object(raw, content_type).obj
    except APIError:
        # A patch is logged as sent (kube's LogRequestPatch), when it is JSON.
        try:
            obj = json.loads(raw)
        except ValueError:
            return None
    return without_managed_fields(obj) if config.omit_managed_fields else obj


def _response_object(
    ctx: RequestContext, config: AuditConfig, failure: dict[str, Any] | None
) -> Any:
    if config.level < Level.REQUEST_RESPONSE or not ctx.info.is_resource_request:
        return None
    if ctx.info.subresource == "proxy":
        return None  # proxied bodies are streamed, never buffered for the log
    state = ctx.request.state
    obj = state.get("audit_response_object")
    if obj is None and "audit_response_body" in state:
        try:
            obj = json.loads(state["audit_response_body"])
        except ValueError:
            obj = None
    if obj is None:
        obj = failure
    return without_managed_fields(obj) if config.omit_managed_fields else obj


class AuditedResponse:
    """A ResponseWriter that calls ``on_complete`` once, just before the response's last
    bytes are handed to the connection (or, for a response that never completes — a dropped
    client, an upgraded connection — when ``complete()`` is called at the end).

    ``on_complete`` returning False means the record could not be written and the answer
    must not go out (strict audit mode): a response not yet started is replaced by a 503
    Status, one already started is cut (``ConnectionAbortedError``) before its last bytes."""

    __slots__ = (
        "_bodiless",
        "_done",
        "_inner",
        "_ok",
        "_on_complete",
        "_remaining",
        "_replaced",
        "_status",
    )

    def __init__(
        self,
        inner: ResponseWriter,
        on_complete: Callable[[], bool | None],
        *,
        head_request: bool = False,
    ) -> None:
        self._inner = inner
        self._on_complete = on_complete
        self._bodiless = head_request
        self._done = False
        self._ok = True
        self._replaced = False  # the 503 went out instead; the handler's writes are dropped
        self._remaining: int | None = None
        self._status = 0

    @property
    def started(self) -> bool:
        return self._inner.started

    @property
    def status(self) -> int:
        return self._status or self._inner.status

    def complete(self) -> bool:
        """Record now unless already recorded (idempotent); whether the answer may go out."""
        if not self._done:
            self._done = True
            self._ok = self._on_complete() is not False
        return self._ok

    async def send(self, status: int, headers: Headers, body: bytes = b"") -> None:
        if not self._inner.started:
            self._status = status
        if not self.complete() and not self._inner.started:
            status, headers, body = _unaudited(headers)
            self._status = status
        await self._inner.send(status, headers, body)

    async def start(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        self._status = status
        if status != 101 and (length == 0 or self._bodiless or status in _NO_BODY_STATUS):
            if not self.complete():  # the head is all there is
                self._replaced = True
                status, headers, body = _unaudited(headers)
                self._status = status
                await self._inner.send(status, headers, body)
                return
        self._remaining = length
        await self._inner.start(status, headers, length=length)

    async def write(self, data: bytes) -> None:
        if self._replaced:
            return
        if self._remaining is not None and data:
            self._remaining -= len(data)
            if self._remaining <= 0 and not self.complete():
                raise ConnectionAbortedError(_UNAUDITED_MESSAGE)
        await self._inner.write(data)

    async def end(self) -> None:
        if self._replaced:
            return
        if not self.complete():
            raise ConnectionAbortedError(_UNAUDITED_MESSAGE)
        await self._inner.end()

    def client_gone(self) -> Awaitable[None]:
        return self._inner.client_gone()

    def cancel_on_disconnect(self) -> None:
        self._inner.cancel_on_disconnect()

    async def detach(self) -> tuple[asyncio.Transport, bytes]:
        return await self._inner.detach()


_UNAUDITED_MESSAGE = "the request could not be audited: the audit log cannot be written"


def audit_unavailable() -> ServiceUnavailable:
    """The error of a request refused because its record could not be written."""
    return ServiceUnavailable(_UNAUDITED_MESSAGE, retry_after=1)


def _unaudited(headers: Headers) -> tuple[int, Headers, bytes]:
    """The 503 Status that replaces an answer whose audit record was lost (strict mode)."""
    error = audit_unavailable()
    replacement: list[tuple[str, str]] = [h for h in headers if h[0].lower() == "audit-id"]
    replacement += [
        ("cache-control", "no-cache, private"),
        ("content-type", "application/json"),
        ("x-content-type-options", "nosniff"),
        ("retry-after", "1"),
    ]
    return error.code, replacement, encode_json(error.to_status())


def open_auditor(settings: ServeSettings) -> FileAuditor | None:
    """The auditor ``--audit-log-path`` asks for, its policy loaded and its file open (a bad
    policy or an unwritable path stops the server from starting), or None when auditing is off."""
    if not settings.audit_log_path:
        return None
    policy = (
        load_policy(settings.audit_policy_file)
        if settings.audit_policy_file is not None
        else DEFAULT_POLICY
    )
    sink = AuditFile(
        None if settings.audit_log_path == "-" else Path(settings.audit_log_path),
        max_bytes=settings.audit_log_max_bytes,
        max_backups=settings.audit_log_max_backups,
        max_age_days=settings.audit_log_max_age_days,
    )
    sink.open()
    strict = settings.operations.audit_log_mode == AUDIT_BLOCKING_STRICT
    return FileAuditor(policy, sink, strict=strict)
