"""The API server application: the filter chain and the router, composed in one place.

Order (as kube-apiserver's DefaultBuildHandlerChain): audit id -> request info ->
authentication -> impersonation -> audit (RequestReceived, for requests that may change
something) -> limits (in flight, per user) -> authorization -> dispatch. Every failure
becomes a Status through ``respond.send_error``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from kubegate.api import discovery
from kubegate.api.openapi import openapi_response
from kubegate.api.resources import lookup
from kubegate.auth.attributes import attributes_for, needs_create_for_upgrade
from kubegate.auth.types import (
    ANONYMOUS_USER,
    BROWSER_CREDENTIAL,
    Authenticator,
    Authorizer,
    UserInfo,
    forbidden_message,
)
from kubegate.core.browser_access import browser_navigation
from kubegate.core.requestinfo import PathError, RequestInfo
from kubegate.errors import (
    APIError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
)
from kubegate.http.types import Request, ResponseWriter
from kubegate.server.audit_log import may_change_state
from kubegate.server.audited_response import AuditedResponse, audit_unavailable
from kubegate.server.auditing import Auditor
from kubegate.server.browser_guard import guard_browser_credential
from kubegate.server.context import RequestContext, new_audit_id, request_info
from kubegate.server.counting_response import CountingResponse
from kubegate.server.debug_tasks import PATH as DEBUG_TASKS
from kubegate.server.debug_tasks import DebugTasks
from kubegate.server.limits import RequestLimiter
from kubegate.server.logging_setup import REQUEST_ID, AccessLog
from kubegate.server.login import LOGIN_ROUTES, LoginPages
from kubegate.server.metrics import APIMetrics, serve_metrics
from kubegate.server.namespaces import NamespaceLifecycle
from kubegate.server.resources import ResourceHandlers
from kubegate.server.respond import base_headers, send_error, send_json
from kubegate.server.reviews import review
from kubegate.server.rootpaths import root_paths
from kubegate.server.tokenrequest import TokenAPI
from kubegate.server.ui.apps import AppsGateway
from kubegate.server.ui.pages import BrowserPages
from kubegate.server.watch import WatchSettings, serve_watch
from kubegate.store.base import Store

log = logging.getLogger("kubegate.server")

_UNPARSED = RequestInfo(False, "", "")

# Paths anyone may read, as kube's system:public-info-viewer role allows.
PUBLIC_PATHS = {"/healthz", "/livez", "/readyz", "/version", "/version/"}


class APIServer:
    def __init__(
        self,
        store: Store,
        handlers: ResourceHandlers,
        namespaces: NamespaceLifecycle,
        *,
        server_address: str,
        closing: asyncio.Event,
        watch_settings: WatchSettings,
        authenticator: Authenticator,
        authorizer: Authorizer,
        auditor: Auditor | None = None,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.namespaces = namespaces
        self.server_address = server_address
        self.closing = closing
        self.watch_settings = watch_settings
        self.ready = False
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.auditor = auditor
        # Set when impersonation is enabled: (request, authenticated user, authorizer) -> user.
        self.impersonation: Callable[[Request, UserInfo, Authorizer], UserInfo] | None = None
        self.proxy: (
            Callable[[Request, ResponseWriter, RequestInfo, str], Awaitable[None]] | None
        ) = None
        # Set by serve.py: TokenRequest/TokenReview, and headers every 401 carries (the Basic
        # challenge when basic auth is on).
        self.token_api: TokenAPI | None = None
        self.unauthorized_headers: tuple[tuple[str, str], ...] = ()
        # Set by serve.py: /metrics and request counting, the access log, admission limits.
        self.metrics: APIMetrics | None = None
        self.access_log: AccessLog | None = None
        self.limiter: RequestLimiter | None = None
        # Set by serve.py: kubegate's own browser pages (server/ui) and, with --apps-domain,
        # the app origins, whose requests never reach the API.
        self.ui: BrowserPages | None = None
        # Set by serve.py: /login, /logout, /oauth2/callback (server/login.py).
        self.login: LoginPages | None = None
        self.apps: AppsGateway | None = None
        # Set by serve.py: GET /debug/tasks, the event loop's tasks (server/debug_tasks.py).
        self.debug_tasks: DebugTasks | None = None

    async def __call__(self, request: Request, response: ResponseWriter) -> None:
        audit_id = new_audit_id()
        request_id = REQUEST_ID.set(audit_id)  # log lines inside this request carry it
        started = time.perf_counter()
        counted = None
        if self.metrics is not None or self.access_log is not None:
            # The connection's writer counts body bytes itself; anything else is wrapped.
            counted = response if hasattr(response, "body_bytes") else CountingResponse(response)
            response = counted
        ctx = RequestContext(request, response, _UNPARSED, audit_id)
        received = time.time()
        audited = None
        if self.auditor is not None:
            # The record is written just before the response's last bytes (audit_log.py).
            auditor = self.auditor
            audited = AuditedResponse(
                response,
                lambda: auditor.record(ctx, received),
                head_request=request.method == "HEAD",
            )
            response = ctx.response = audited
        try:
            await self._handle(ctx, received)
        except APIError as exc:
            ctx.error = exc
            await send_error(response, exc, audit_id)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:
            ctx.error = exc
            await send_error(response, exc, audit_id)
        finally:
            finalize = request.state.get("finalize_namespace")
            if finalize:
                self.namespaces.finalize(finalize)
            if audited is not None:
                audited.complete()  # no-op unless the response never completed
            if counted is not None:
                self._observe(ctx, counted.body_bytes, time.perf_counter() - started)
            REQUEST_ID.reset(request_id)

    def _observe(self, ctx: RequestContext, size: int, seconds: float) -> None:
        status = ctx.response.status
        if self.metrics is not None:
            self.metrics.observe(ctx, status, size, seconds)
        if self.access_log is not None:
            self.access_log.write(ctx, status, size, seconds)

    async def _handle(self, ctx: RequestContext, received: float) -> None:
        request = ctx.request
        if self.apps is not None and self.apps.is_app_host(request):
            await self.apps.serve(ctx, before_running=lambda: self._audit_received(ctx, received))
            return
        try:
            ctx.info = info = request_info(request.method, request.path, request.query)
        except PathError as exc:
            raise BadRequest(str(exc)) from exc
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            await self._health_or_version(ctx)
            return
        if self.auditor is not None and not self.auditor.accepting():
            raise audit_unavailable()  # strict audit mode: nothing is served unaudited
        login = self.login
        if login is not None and path in LOGIN_ROUTES:
            await login.serve(ctx)  # how a browser gets a credential: before authentication
            return
        metrics = self.metrics
        try:
            user = self.authenticator.authenticate(request)
        except Unauthorized as exc:
            if metrics is not None:
                metrics.authn_error.inc()  # a credential was presented and refused
            await self._unauthenticated(ctx, exc.message)
            return
        if user is None:
            if metrics is not None:
                metrics.authn_failure.inc()  # no credential recognised
            await self._unauthenticated(ctx, "Unauthorized")
            return
        if metrics is not None:
            metrics.authn_success.inc()
        if request.header("authorization") is not None:
            # kube drops the credential right after authentication: nothing later (handlers,
            # the proxy, audit) can see or forward it.
            request.headers[:] = [h for h in request.headers if h[0] != "authorization"]
        ctx.user = ctx.authenticated_user = user
        credential = request.state.get(BROWSER_CREDENTIAL)
        if credential is not None:
            guard_browser_credential(ctx, credential)  # CSRF, CSWSH, ambient credentials
        if self.impersonation is not None:
            ctx.user = self.impersonation(request, user, self.authorizer)
        self._audit_received(ctx, received)
        if self.limiter is None:
            await self._authorized(ctx, info)
            return
        # kube's order: max-in-flight after impersonation, before authorization.
        with self.limiter.admit(info, request.method, ctx.user, user):
            await self._authorized(ctx, info)

    def _audit_received(self, ctx: RequestContext, received: float) -> None:
        """kube's RequestReceived stage: a request that may change something gets its first
        audit record now, before it runs; in strict audit mode one whose record cannot be
        written is refused with 503 here, so nothing is done unaudited."""
        auditor = self.auditor
        if auditor is not None and may_change_state(ctx.request):
            if not auditor.received(ctx, received):
                raise audit_unavailable()

    async def _unauthenticated(self, ctx: RequestContext, message: str) -> None:
        """A browser loading a page goes to the sign-in page; anyone else gets the 401."""
        request = ctx.request
        if self.login is not None and browser_navigation(
            request.method,
            request.header("accept"),
            request.header("authorization"),
            request.upgrade is not None,
        ):
            await self.login.redirect_to_login(ctx)
            return
        raise Unauthorized(message, headers=self.unauthorized_headers)

    # _authorized, _resource and _subresource check synchronously and return the handler's
    # coroutine for _handle to await, instead of awaiting it themselves: every coroutine
    # layer costs an object per request and a frame that each resumption passes through.
    def _authorized(self, ctx: RequestContext, info: RequestInfo) -> Awaitable[None]:
        if self.ui is not None and self.ui.claims(ctx.request):
            return self.ui.serve(ctx)  # any authenticated user; the content is RBAC-filtered
        try:
            self._authorize(ctx, info)
        except Forbidden:
            if not self._anonymous_browser(ctx):
                raise
            # --anonymous-auth: a browser without a credential that RBAC refuses would
            # otherwise be stuck on a 403 with no way to sign in.
            assert self.login is not None
            return self.login.redirect_to_login(ctx)
        if info.is_resource_request:
            return self._resource(ctx)
        return self._non_resource(ctx)

    def _anonymous_browser(self, ctx: RequestContext) -> bool:
        """An anonymous browser navigation, where the sign-in page can give a credential."""
        request, user = ctx.request, ctx.authenticated_user
        return (
            self.login is not None
            and user is not None
            and user.name == ANONYMOUS_USER
            and browser_navigation(
                request.method,
                request.header("accept"),
                request.header("authorization"),
                request.upgrade is not None,
            )
        )

    def _authorize(self, ctx: RequestContext, info: RequestInfo) -> None:
        assert ctx.user is not None
        attrs = attributes_for(ctx.user, info)
        decision = self.authorizer.authorize(attrs)
        if decision.allowed and ctx.request.upgrade and needs_create_for_upgrade(info):
            # Stricter than kube (security.md §1.10/§1.11): an upgrade to exec-like pod
            # subresources or to any node proxy is command execution, so it needs "create".
            attrs = attributes_for(ctx.user, info, verb="create")
            decision = self.authorizer.authorize(attrs)
        if self.metrics is not None:
            (self.metrics.authz_allowed if decision.allowed else self.metrics.authz_denied).inc()
        # kube's audit annotations for the authorization decision (WithAuthorization).
        ctx.audit_annotations["authorization.k8s.io/decision"] = (
            "allow" if decision.allowed else "forbid"
        )
        if decision.reason:
            ctx.audit_annotations["authorization.k8s.io/reason"] = decision.reason
        if not decision.allowed:
            raise Forbidden(
                forbidden_message(attrs, decision.reason),
                name=info.name,
                group=info.api_group,
                kind=info.resource,
            )

    async def _health_or_version(self, ctx: RequestContext) -> None:
        path = ctx.request.path.rstrip("/")
        if path == "/version":
            await send_json(ctx.response, 200, discovery.version_info(), ctx.audit_id)
            return
        ok = self.ready or not path.startswith("/readyz")
        headers = [
            *base_headers(ctx.audit_id),
            ("content-type", "text/plain; charset=utf-8"),
            ("x-content-type-options", "nosniff"),
        ]
        if path.startswith("/readyz") and (
            self.closing.is_set() or (self.auditor is not None and not self.auditor.accepting())
        ):
            ok = False
        await ctx.response.send(200 if ok else 503, headers, b"ok" if ok else b"not ready")

    async def _non_resource(self, ctx: RequestContext) -> None:
        request, info = ctx.request, ctx.info
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        path = request.path.rstrip("/") or "/"
        if path == "/metrics" and self.metrics is not None:
            await serve_metrics(ctx, self.metrics)
            return
        if path == DEBUG_TASKS and self.debug_tasks is not None:
            await self.debug_tasks.serve(ctx)  # RBAC: get on /debug/tasks (admins)
            return
        doc: object | None = None
        if path == "/":
            doc = root_paths(metrics=self.metrics is not None)
        elif path == "/api":
            doc = discovery.api_versions(self.server_address)
        elif path == "/apis":
            doc = discovery.api_group_list()
        elif info.api_prefix == "api" and info.api_version:
            doc = discovery.api_resource_list("", info.api_version)
        elif path.startswith("/apis/"):
            parts = path.split("/")
            if len(parts) == 3:
                doc = discovery.api_group(parts[2])
            elif len(parts) == 4:
                doc = discovery.api_resource_list(parts[2], parts[3])
        elif path.startswith("/openapi/"):
            found = openapi_response(
                path, request.header("accept") or "", request.header("if-none-match") or ""
            )
            if found is not None:
                status, content_type, body = found
                headers = [
                    *base_headers(ctx.audit_id),
                    ("content-type", content_type),
                    ("etag", found.etag),
                ]
                await ctx.response.send(status, headers, body)
                return
        if doc is None:
            raise NotFound("the server could not find the requested resource")
        await send_json(ctx.response, 200, doc, ctx.audit_id)

    def _resource(self, ctx: RequestContext) -> Awaitable[None]:
        info: RequestInfo = ctx.info
        rt = lookup(info.api_group, info.api_version, info.resource)
        if rt is None or (info.namespace and not rt.namespaced):
            raise NotFound("the server could not find the requested resource")
        ctx.resource = rt
        if rt.namespaced and not info.namespace and info.verb not in ("list", "watch"):
            if not (info.verb == "create" and not rt.stored):
                raise NotFound("the server could not find the requested resource")
        if info.subresource:
            return self._subresource(ctx)
        if not rt.stored:
            if info.verb != "create":
                raise MethodNotAllowed(
                    "the server does not allow this method on the requested resource"
                )
            if rt.kind == "TokenReview" and self.token_api is not None:
                return self.token_api.token_review(ctx)
            return review(ctx, self.authorizer)
        h = self.handlers
        handler = {
            "get": h.get,
            "list": h.list,
            "create": h.create,
            "update": h.update,
            "patch": h.patch,
            "delete": h.delete,
            "deletecollection": h.deletecollection,
        }.get(info.verb)
        if info.verb == "watch":
            return serve_watch(ctx, self.store, self.closing, self.watch_settings)
        if handler is None or info.verb not in rt.verbs:
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        return handler(ctx)

    def _subresource(self, ctx: RequestContext) -> Awaitable[None]:
        info, rt = ctx.info, ctx.resource
        assert rt is not None
        if not rt.has_subresource(info.subresource):
            raise NotFound("the server could not find the requested resource")
        if info.subresource == "status":
            handler = {
                "get": self.handlers.get,
                "update": self.handlers.update,
                "patch": self.handlers.patch,
            }.get(info.verb)
            if handler is None:
                raise MethodNotAllowed(
                    "the server does not allow this method on the requested resource"
                )
            return handler(ctx)
        if info.subresource == "proxy" and self.proxy is not None:
            # Who the request acts as: a mirror's via-apiserver proxy impersonates them.
            ctx.request.state["user"] = ctx.user
            return self.proxy(ctx.request, ctx.response, info, ctx.audit_id)
        if info.subresource == "token" and self.token_api is not None:
            if info.verb != "create":
                raise MethodNotAllowed(
                    "the server does not allow this method on the requested resource"
                )
            return self.token_api.token_request(ctx)
        raise NotFound(f"the {info.subresource} subresource is not available yet")
