"""The API server application: the filter chain and the router, composed in one place.

Order (as kube-apiserver's DefaultBuildHandlerChain): audit id -> request info ->
authentication -> authorization -> dispatch. Every failure becomes a Status through
``respond.send_error``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from kubegate.api import discovery
from kubegate.api.openapi import openapi_response
from kubegate.api.resources import lookup
from kubegate.auth.tokens import StaticTokens, bearer_token
from kubegate.auth.types import UserInfo
from kubegate.auth.x509 import user_from_peer_cert
from kubegate.core.requestinfo import PathError, RequestInfo, parse_request_info
from kubegate.errors import (
    APIError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
)
from kubegate.http.types import Request, ResponseWriter
from kubegate.server.context import RequestContext
from kubegate.server.namespaces import NamespaceLifecycle
from kubegate.server.resources import ResourceHandlers
from kubegate.server.respond import base_headers, send_error, send_json
from kubegate.server.reviews import review
from kubegate.server.watch import WatchSettings, serve_watch
from kubegate.store.base import Store

log = logging.getLogger("kubegate.server")

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
        tokens: StaticTokens | None = None,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.namespaces = namespaces
        self.server_address = server_address
        self.closing = closing
        self.watch_settings = watch_settings
        self.ready = False
        self.tokens = tokens or StaticTokens()
        self.proxy: Callable[[Request, ResponseWriter, RequestInfo, str], Awaitable[None]] | None = None

    async def __call__(self, request: Request, response: ResponseWriter) -> None:
        audit_id = str(uuid.uuid4())
        try:
            await self._handle(request, response, audit_id)
        except APIError as exc:
            await send_error(response, exc, audit_id)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:
            await send_error(response, exc, audit_id)
        finally:
            finalize = request.state.get("finalize_namespace")
            if finalize:
                self.namespaces.finalize(finalize)

    def authenticate(self, request: Request) -> UserInfo | None:
        """x509 client certificate first, then a bearer token (kube's order). A presented
        but unknown token is a 401, never a fall-through to anonymous."""
        user = user_from_peer_cert(request.peer_cert)
        if user is not None:
            return user
        token = bearer_token(request.header("authorization"))
        if token is not None:
            user = self.tokens.authenticate(token)
            if user is None:
                raise Unauthorized("Unauthorized")
        return user

    async def _handle(self, request: Request, response: ResponseWriter, audit_id: str) -> None:
        try:
            info = parse_request_info(request.method, request.path, request.query)
        except PathError as exc:
            raise BadRequest(str(exc)) from exc
        ctx = RequestContext(request, response, info, audit_id)
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            await self._health_or_version(ctx)
            return
        ctx.user = self.authenticate(request)
        if ctx.user is None:
            raise Unauthorized("Unauthorized")
        if not self._authorized(ctx):
            raise Forbidden(f'User "{ctx.user.name}" cannot {info.verb} path "{path}"')
        if info.is_resource_request:
            await self._resource(ctx)
        else:
            await self._non_resource(ctx)

    def _authorized(self, ctx: RequestContext) -> bool:
        # Until RBAC lands, only members of system:masters (the admin credential) are allowed.
        return ctx.user is not None and "system:masters" in ctx.user.groups

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
        if self.closing.is_set() and path.startswith("/readyz"):
            ok = False
        await ctx.response.send(200 if ok else 503, headers, b"ok" if ok else b"not ready")

    async def _non_resource(self, ctx: RequestContext) -> None:
        request, info = ctx.request, ctx.info
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        path = request.path.rstrip("/") or "/"
        doc: object | None = None
        if path == "/api":
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

    async def _resource(self, ctx: RequestContext) -> None:
        info: RequestInfo = ctx.info
        rt = lookup(info.api_group, info.api_version, info.resource)
        if rt is None or (info.namespace and not rt.namespaced):
            raise NotFound("the server could not find the requested resource")
        ctx.resource = rt
        if rt.namespaced and not info.namespace and info.verb not in ("list", "watch"):
            if not (info.verb == "create" and not rt.stored):
                raise NotFound("the server could not find the requested resource")
        if info.subresource:
            await self._subresource(ctx)
            return
        if not rt.stored:
            if info.verb != "create":
                raise MethodNotAllowed(
                    "the server does not allow this method on the requested resource"
                )
            await review(ctx)
            return
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
            await serve_watch(ctx, self.store, self.closing, self.watch_settings)
            return
        if handler is None or info.verb not in rt.verbs:
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        await handler(ctx)

    async def _subresource(self, ctx: RequestContext) -> None:
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
            await handler(ctx)
            return
        if info.subresource == "proxy" and self.proxy is not None:
            await self.proxy(ctx.request, ctx.response, info, ctx.audit_id)
            return
        raise NotFound(f"the {info.subresource} subresource is not available yet")
