"""The audit filter: ``audit.k8s.io/v1`` Event lines for every request, rejected ones included.

``FileAuditor`` is the ``Auditor`` the server uses with ``--audit-log-path``: it reads the
finished request's context, asks the policy for a level, renders the Event
(``auth/audit_event.py``) and appends it to the log (``auth/audit_file.py``).

Two of kube's stages are written. Every request gets one ResponseComplete record, written
just before the response's last bytes go out (``AuditedResponse``,
``server/audited_response.py``) rather than after: a client that has its answer can rely on
the record being in the log, even if the server is killed right after. Long-running requests
(watches, proxied streams, upgraded connections) get it when they end. A request that may
change something (``may_change_state``: any method but GET, HEAD and OPTIONS, and every
upgrade — exec, attach, port-forward, proxied WebSockets) first gets a RequestReceived
record (``received``), written once it is authenticated (and impersonated) and before it
runs, as kube's audit filter does. kube's ResponseStarted stage is not written. A policy's
``omitStages`` drops either stage.

When a record cannot be written (the disk is full, an I/O error), with
``--audit-log-mode=blocking-strict`` (the default), as in kube: a request that may change
something is refused with 503 before it runs when its RequestReceived record cannot be
written, so a write is never committed and then reported as failed; once it has run, it is
answered with its real result even if its ResponseComplete record is then lost. (kube
answers that refusal with a 500; a 503 with ``Retry-After`` says what a full disk means.)
kubegate holds the other requests to more than kube does, so that nothing is read
unaudited: while the log is failing every new request is refused with 503 (each refusal's
own record is the probe that notices the room again), and a request that changes nothing
whose ResponseComplete record fails does not get its answer — a one-shot response is
replaced by the 503 Status, a streamed one is cut before its last bytes. A policy omitting
RequestReceived gives up the refusal before a write runs, as in kube. With ``blocking``
(kube's default) requests are served and records lost. Either way every lost record is
counted (``apiserver_audit_error_total``) and logged with the request's audit id, verb, path
(no query), user and stage, never a body or a credential, so the server log keeps what the
audit log could not.

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
from pathlib import Path
from typing import Any

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
from kubegate.errors import APIError, InternalError
from kubegate.http.types import Request
from kubegate.server.codec import decode_object
from kubegate.server.context import RequestContext, new_audit_id
from kubegate.server.operations_settings import AUDIT_BLOCKING_STRICT
from kubegate.server.settings import ServeSettings

log = logging.getLogger("kubegate.audit")

RECEIVED_STAGE = "RequestReceived"
COMPLETE_STAGE = "ResponseComplete"
# request.state key: the request passed its RequestReceived stage and ran.
_RAN_AFTER_RECEIVED = "audit_ran_after_received"

_NOBODY = UserInfo("")


class FileAuditor:
    """Writes the Event lines of each request to an ``AuditFile``; never raises.

    ``strict`` (``--audit-log-mode=blocking-strict``): ``received`` says False when a
    request's RequestReceived record could not be written, so that it is refused before it
    runs; ``record`` says False when the ResponseComplete record of a request that did not
    run that way could not be written, so that its answer is withheld; ``accepting`` is
    False while the log is failing, so that new requests are refused before they do
    anything."""

    def __init__(self, policy: Policy, sink: AuditFile, *, strict: bool = False) -> None:
        self.policy = policy
        self.sink = sink
        self.strict = strict

    def accepting(self) -> bool:
        """Whether requests may be served (False: strict, and the log cannot be written)."""
        return not (self.strict and self.sink.failing)

    def received(self, ctx: RequestContext, received: float) -> bool:
        """kube's RequestReceived stage for a request about to run that may change
        something: write its record; whether the request may run (False: the record was
        lost and the mode is strict). A request allowed to run is answered with its real
        result whatever becomes of its ResponseComplete record."""
        stage = RECEIVED_STAGE
        try:
            line = self.line(ctx, received, received, stage=stage)
        except Exception:
            # A record we cannot render is a lost record: count it, never fail the request.
            self.sink.failures += 1
            log.exception("audit record for %s could not be rendered", ctx.audit_id)
            line = None
        if line is not None and not self.sink.write(line):
            _log_lost(ctx, stage, "refused before it ran" if self.strict else "served")
            if self.strict:
                return False
        ctx.request.state[_RAN_AFTER_RECEIVED] = True
        return True

    def record(self, ctx: RequestContext, received: float) -> bool:
        """Write the request's ResponseComplete record; False when it was lost, the mode is
        strict, and the request did not run after a RequestReceived stage."""
        try:
            line = self.line(ctx, received, time.time())
        except Exception:
            self.sink.failures += 1
            log.exception("audit record for %s could not be rendered", ctx.audit_id)
            return True
        if line is None or self.sink.write(line):
            return True
        # A request that ran (it may have changed something) gets its real result: answering
        # a committed write with an error would make a client retry what already happened.
        # Health probes are answered anyway: /readyz reports the failure itself, and a
        # liveness probe restarting the server would not free the disk.
        answered = (
            not self.strict
            or ctx.request.state.get(_RAN_AFTER_RECEIVED, False)
            or _is_probe(ctx.request.path)
        )
        _log_lost(ctx, COMPLETE_STAGE, "answered" if answered else "answer withheld (503)")
        return answered

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

    def line(
        self,
        ctx: RequestContext,
        received: float,
        completed: float,
        *,
        stage: str = COMPLETE_STAGE,
    ) -> bytes | None:
        """The record's line at ``stage``, or None when the policy says not to record this
        request or this stage. A RequestReceived record has no response status and no
        objects (nothing has been decoded or answered yet)."""
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
        if config.level == Level.NONE or stage in config.omit_stages:
            return None
        impersonated = (
            ctx.user
            if ctx.authenticated_user is not None and ctx.user is not ctx.authenticated_user
            else None
        )
        complete = stage == COMPLETE_STAGE
        code = ctx.response.status if complete else 0
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
            request_object=_request_object(ctx, config) if complete else None,
            response_object=_response_object(ctx, config, failure) if complete else None,
        )
        return encode_line(render(event, stage=stage))


def may_change_state(request: Request) -> bool:
    """Whether a request may change something (a resource, a backend's state, a session in
    a pod): every method but the safe ones (RFC 9110 §9.2.1), and every upgrade — an exec
    or a WebSocket through the proxy is a GET."""
    return request.method not in _SAFE_METHODS or request.upgrade is not None


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _log_lost(ctx: RequestContext, stage: str, outcome: str) -> None:
    """The server log's line for a lost record: what the record would have said that
    identifies the request — never a body, a header or the query string."""
    user = ctx.authenticated_user or ctx.user
    log.error(
        "audit record lost: %s %s user=%r code=%d stage=%s: %s",
        ctx.info.verb or ctx.request.method,
        ctx.request.path,
        user.name if user is not None else "",
        ctx.response.status if stage == COMPLETE_STAGE else 0,
        stage,
        outcome,
    )


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
