"""The proxy subresources: ``services|pods|nodes/{id}/proxy[/{path}]``.

One request: check method and options -> the trailing-slash redirect -> resolve the
target to checked literal addresses (from the watch-fed cache) -> compose the upstream
request from the header policy -> forward with streaming both ways, or tunnel an upgrade
after a 101 only. Errors before the response starts are Status objects; after it started,
the response is cut short (the connection closes) — never a second header block.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import TypeVar
from urllib.parse import parse_qs

from kubegate.core.proxy_headers import (
    UpgradeNotAllowed,
    downstream_response_headers,
    upstream_request_headers,
    validate_upgrade,
)
from kubegate.core.proxy_location import rewrite_location, rewrite_refresh
from kubegate.core.proxy_path import PathNotAllowed, backend_path, proxy_prefix, redirect_for_root
from kubegate.core.requestinfo import RequestInfo
from kubegate.errors import (
    BadGateway,
    BadRequest,
    InternalError,
    MethodNotAllowed,
    ServiceUnavailable,
    Timeout,
)
from kubegate.http.client import UpstreamError, UpstreamTarget
from kubegate.http.client_response import UpstreamResponse
from kubegate.http.pool import UpstreamPool
from kubegate.http.relay import BodySender, note_upstream_error, relay_response, relay_upgrade
from kubegate.http.types import Headers, Request, ResponseWriter
from kubegate.proxy.resolve import Backend, Resolver
from kubegate.proxy.rewrite import (
    AT_ROOT_VALUE,
    REWRITE_HEADER,
    ResponseRewriter,
    RewriteSettings,
    relay_head_without_length,
)
from kubegate.proxy.rewrite_policy import DEFAULT_POLICY, RewritePolicy
from kubegate.proxy.rewrite_stream import relay_rewritten
from kubegate.proxy.trust import BackendTrust

log = logging.getLogger("kubegate.proxy")
_T = TypeVar("_T")

PROXY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_WHOLE_BODY_MAX = 64 * 1024
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_MEMO_MAX = 1024  # entries of each per-process memo below; all dropped when full
_MEMO_KEY_MAX = 512
_BACKEND_PATHS: dict[str, str] = {}  # raw sub-path -> backend path
_PREFIXES: dict[str, str] = {}  # raw request path -> its ``…/proxy`` prefix
_LOCATION_REWRITERS = {
    "location": rewrite_location,
    "content-location": rewrite_location,
    "refresh": rewrite_refresh,
}
_first = itemgetter(0)


@dataclass(slots=True)
class ProxySettings:
    kubegate_cookies: frozenset[str] = frozenset()  # never sent to a backend, never set by one
    rewrite: RewriteSettings = field(default_factory=RewriteSettings)
    tunnel_idle_timeout: float = 3600.0
    _warned_insecure: set[tuple[str, int]] = field(default_factory=set)


@dataclass(slots=True)  # (not frozen: built per request, and a frozen __init__ costs more)
class _Exchange:
    request: Request
    response: ResponseWriter
    info: RequestInfo
    audit_id: str
    policy: RewritePolicy = DEFAULT_POLICY  # the Service's rewriting annotations
    send_body: BodySender | None = None  # how to relay a body that is rewritten


class ProxyHandler:
    def __init__(
        self,
        resolver: Resolver,
        pool: UpstreamPool,
        settings: ProxySettings,
        closing: asyncio.Event,
        trust: BackendTrust,
    ) -> None:
        self.trust = trust
        self.resolver = resolver
        self.pool = pool
        self.settings = settings
        self.closing = closing
        self.rewriter = ResponseRewriter(settings.rewrite, settings.kubegate_cookies)
        self._targets: dict[tuple[Backend, ssl.SSLContext | None], UpstreamTarget] = {}

    async def __call__(
        self,
        request: Request,
        response: ResponseWriter,
        info: RequestInfo,
        audit_id: str,
        *,
        prefix: str | None = None,
    ) -> None:
        """Proxy one request; ``prefix`` overrides the path prefix the client sees (``""``
        for an app served at the root of its own origin, server/ui/apps.py)."""
        ctx = _Exchange(request, response, info, audit_id)
        if request.method not in PROXY_METHODS:
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        query = request.query
        # (parse_qs only when the parameter could be there: spelt out, or percent-encoded)
        if (
            query
            and ("dryRun" in query or "%" in query)
            and "dryRun" in parse_qs(query, keep_blank_values=True)
        ):
            raise BadRequest("dryRun is not supported")
        try:
            upgrade = validate_upgrade(request.headers) if request.upgrade else None
        except UpgradeNotAllowed as exc:
            raise BadRequest(str(exc)) from exc
        location = (
            None
            if info.subpath
            else redirect_for_root(request.method, request.path, request.query, upgrade is not None)
        )
        if location is not None:
            headers = [
                ("audit-id", audit_id),
                ("cache-control", "no-cache, private"),
                ("location", location),
            ]
            await ctx.response.send(301, headers)
            return
        path = _BACKEND_PATHS.get(info.subpath) or self._backend_path(info.subpath)
        target_path = f"{path}?{request.query}" if request.query else path
        if not self.resolver.cache.synced:
            await self.resolver.cache.wait_synced(5.0)
        resolved = self.resolver.remembered(
            info.resource, info.namespace, info.name
        ) or await self.resolver.resolve(info.resource, info.namespace, info.name)
        if info.resource == "services":  # annotations can opt out of rewriting (proxy/rewrite.py)
            ctx.policy = self.resolver.rewrite_policy(info.namespace, resolved.name)
        if (
            request.header(REWRITE_HEADER) == AT_ROOT_VALUE
        ):  # the client shows the backend at its root
            ctx.policy = ctx.policy.at_root()
        if prefix is None:
            prefix = _PREFIXES.get(request.path) or self._proxy_prefix(request.path, info.subpath)
        context = None
        if resolved.candidates[0].scheme == "https":
            context = await self.trust.context_for(resolved.namespace, resolved.ca_ref)
        if upgrade is not None:
            await self._upgrade(ctx, resolved.candidates[0], context, target_path, prefix, upgrade)
            return
        # Go's ReverseProxy cancels the backend exchange with the client's request context;
        # without this a backend still thinking, or a quiet stream, would hold its connection
        # for nobody until a timeout minutes later (security.md A38).
        response.cancel_on_disconnect()
        await self._forward(ctx, resolved.candidates, context, target_path, prefix)

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def _backend_path(subpath: str) -> str:
        """``backend_path``, memoised (a pure function of the sub-path; refusals are not kept)."""
        try:
            path = backend_path(subpath)
        except PathNotAllowed as exc:
            raise BadRequest(str(exc)) from exc
        if len(subpath) <= _MEMO_KEY_MAX:
            if len(_BACKEND_PATHS) >= _MEMO_MAX:
                _BACKEND_PATHS.clear()
            _BACKEND_PATHS[subpath] = path
        return path

    @staticmethod
    def _proxy_prefix(path: str, subpath: str) -> str:
        """``proxy_prefix``, memoised by the request path (the sub-path is part of it)."""
        prefix = proxy_prefix(path, subpath)
        if len(path) <= _MEMO_KEY_MAX:
            if len(_PREFIXES) >= _MEMO_MAX:
                _PREFIXES.clear()
            _PREFIXES[path] = prefix
        return prefix

    def _upstream(self, backend: Backend, context: ssl.SSLContext | None) -> UpstreamTarget:
        """The pool's target for ``backend``; the same object for the same backend and
        context (Backends are shared by the resolver's memo, so this is a dict hit)."""
        key = (backend, context)
        target = self._targets.get(key)
        if target is None:
            if len(self._targets) >= _MEMO_MAX:
                self._targets.clear()
            target = self._targets[key] = self._new_upstream(backend, context)
        return target

    def _new_upstream(self, backend: Backend, context: ssl.SSLContext | None) -> UpstreamTarget:
        tls = backend.scheme == "https"
        context = context if tls else None
        if (
            tls
            and context is None
            and (backend.ip, backend.port) not in self.settings._warned_insecure
        ):
            self.settings._warned_insecure.add((backend.ip, backend.port))
            log.warning(
                "proxying to https://%s without verifying its certificate (as kube does); "
                "set --proxy-ca-file to verify",
                backend.host_header,
            )
        return UpstreamTarget(
            backend.ip,
            backend.port,
            tls=tls,
            server_hostname=backend.server_name,
            ssl_context=context,
        )

    def _headers(
        self, ctx: _Exchange, backend: Backend, prefix: str, upgrade: str | None
    ) -> list[tuple[str, str]]:
        request = ctx.request
        return upstream_request_headers(
            request.headers,
            host_header=backend.host_header,
            forwarded_for=request.peer[0],
            forwarded_host=request.header("host") or "",
            forwarded_proto="https" if request.tls else "http",
            forwarded_uri=request.target,
            forwarded_prefix=prefix if ctx.policy.prefixed else "",
            kubegate_cookies=self.settings.kubegate_cookies,
            is_upgrade=upgrade is not None,
        )

    def _response_headers(
        self,
        ctx: _Exchange,
        backend: Backend,
        prefix: str,
        headers: list[tuple[str, str]],
        *,
        upgrade: bool,
    ) -> list[tuple[str, str]]:
        out = downstream_response_headers(
            headers, is_upgrade=upgrade, kubegate_cookies=self.settings.kubegate_cookies
        )
        if _LOCATION_REWRITERS.keys().isdisjoint(
            map(_first, out)
        ):  # (checked in C: the usual case)
            out = self.rewriter.headers(out, policy=ctx.policy, prefix=prefix)
            out.append(("audit-id", ctx.audit_id))
            return out
        rewritten = []
        for name, value in out:
            rewrite = _LOCATION_REWRITERS.get(name)
            if rewrite is not None:
                new = rewrite(
                    value,
                    backend_host=backend.host_header,
                    backend_scheme=backend.scheme,
                    proxy_prefix=prefix,
                    public_origin=None,
                )
                if new is None:  # unsafe or unparseable: dropped, never relayed as is
                    continue
                value = new
            rewritten.append((name, value))
        rewritten = self.rewriter.headers(rewritten, policy=ctx.policy, prefix=prefix)
        rewritten.append(("audit-id", ctx.audit_id))
        return rewritten

    async def _forward(
        self,
        ctx: _Exchange,
        candidates: tuple[Backend, ...],
        context: ssl.SSLContext | None,
        target_path: str,
        prefix: str,
    ) -> None:
        request = ctx.request
        has_body = (
            request.body.length not in (None, 0) or request.header("transfer-encoding") is not None
        )
        expect = has_body and (request.header("expect") or "").lower() == "100-continue"
        last_error: UpstreamError | None = None
        for attempt, backend in enumerate(candidates):
            body: AsyncIterator[bytes] | None = request.body.__aiter__() if has_body else None
            try:
                upstream = await self.pool.request(
                    self._upstream(backend, context),
                    request.method,
                    target_path,
                    self._headers(ctx, backend, prefix, None),
                    body,
                    content_length=request.body.length if has_body else None,
                    expect_continue=expect and has_body,
                )
            except UpstreamError as exc:
                note_upstream_error(request.state, exc)  # every one, retried ones too
                last_error = exc
                retry = exc.kind in ("connect", "tls") and attempt + 1 < len(candidates)
                if retry and (request.method in RETRYABLE_METHODS or not has_body):
                    log.info(
                        "endpoint %s failed (%s); trying another", backend.host_header, exc.kind
                    )
                    continue
                raise _upstream_status(exc) from exc
            try:
                headers = self._relayed_headers(ctx, backend, prefix, upstream)
            except BaseException:
                await upstream.aclose()
                raise
            await relay_response(
                ctx.response,
                upstream,
                headers,
                head=request.method == "HEAD",
                whole_max=_WHOLE_BODY_MAX,
                log=log,
                upstream_name=backend.host_header,
                errors_state=request.state,
                send_body=ctx.send_body,
            )
            return
        assert last_error is not None
        raise _upstream_status(last_error)

    def _relayed_headers(
        self, ctx: _Exchange, backend: Backend, prefix: str, upstream: UpstreamResponse
    ) -> Headers:
        """The client's fields for ``upstream``'s answer; sets ``ctx.send_body`` when its body
        is rewritten (a plain method, not a coroutine: the hot path awaits only the relay)."""
        headers = self._response_headers(ctx, backend, prefix, upstream.headers, upgrade=False)
        plan = self.rewriter.plan(
            ctx.request,
            upstream.status,
            headers,
            policy=ctx.policy,
            prefix=prefix,
            backend_host=backend.host_header,
            backend_scheme=backend.scheme,
            declared_length=upstream.length,
        )  # None (after one look at Content-Type) unless it is HTML, CSS or a worker's script
        if plan is None:
            return headers
        if plan.transformer is not None:
            ctx.send_body = partial(
                relay_rewritten,
                transformer=plan.transformer,
                whole_max=_WHOLE_BODY_MAX,
                memo=self.rewriter.memo,
            )
        elif plan.head_only:
            ctx.send_body = relay_head_without_length
        return plan.headers

    async def _upgrade(
        self,
        ctx: _Exchange,
        backend: Backend,
        context: ssl.SSLContext | None,
        target_path: str,
        prefix: str,
        token: str,
    ) -> None:
        request, response = ctx.request, ctx.response
        try:
            response.cancel_on_disconnect()
            result = await self.pool.upgrade(
                self._upstream(backend, context),
                request.method,
                target_path,
                self._headers(ctx, backend, prefix, token),
            )
        except UpstreamError as exc:
            note_upstream_error(request.state, exc)
            raise _upstream_status(exc) from exc
        tunnelled = await relay_upgrade(
            response,
            result,
            partial(self._response_headers, ctx, backend, prefix),
            idle_timeout=self.settings.tunnel_idle_timeout,
            closing=self.closing,
            refuse=invalid_upgrade_response,
        )  # (security.md A2: no redirect or 2xx answer to an upgrade reaches the client)
        if tunnelled is not None:
            request.state["proxy_tunnel_bytes"] = tunnelled


def invalid_upgrade_response(status: int) -> InternalError:
    """What a non-101 answer below 400 to an upgrade becomes (kube's tryUpgrade)."""
    return InternalError(f"invalid upgrade response: status code {status}")


def _upstream_status(exc: UpstreamError) -> Exception:
    if exc.kind == "timeout":
        return Timeout(f"error trying to reach service: {exc}")
    if exc.kind in ("protocol", "reset"):
        return BadGateway(f"error trying to reach service: {exc}")
    return ServiceUnavailable(f"error trying to reach service: {exc}")
