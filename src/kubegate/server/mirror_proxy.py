"""Mirror mode's ``--mirror-proxy via-apiserver``: proxy requests go to the upstream API
server's own proxy subresource, as the locally authenticated user.

The kube-oidc-proxy model (reference/peers.md §1.4): kubegate authenticates the caller
(basic, OIDC, tokens, sessions) and applies its local authorization; the upstream then
sees the request made with the upstream kubeconfig's credentials **plus impersonation
headers** for that caller (``core/impersonation_headers.py``), so the upstream's RBAC
decides too and its audit log names the real user. A caller on the deny list
(``core/impersonation_policy.py``: ``system:masters`` by default) gets a 403 here, and
nothing is sent upstream. The caller's own ``Authorization``, ``Impersonate-*``,
``X-Remote-*`` and forwarding claims never cross
(``core/proxy_headers.upstream_request_headers``); the app already removed the first two.

The upstream path is rebuilt from the authorized request's parts
(``core/upstream_proxy_path.py``); the query is passed through raw. Bodies stream both
ways over the server's shared upstream pool, and WebSocket/SPDY upgrades are tunnelled
after the upstream's 101 only — any other answer to an upgrade is relayed and the
connection closed (below 400 it is an error, as kube's tryUpgrade: CVE-2020-8559). Errors
before the response starts are Status objects; after, the response is cut short.

The upstream's own ``Location`` answers carry its URL path prefix when the kubeconfig's
server has one; it is removed so that redirects stay on this server.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from urllib.parse import parse_qs

from kubegate.auth.types import UserInfo
from kubegate.client.api_forwarder import ApiServer, resolve_api_server
from kubegate.client.credentials import Credentials
from kubegate.client.kubeconfig import KubeconfigError
from kubegate.core.impersonation_headers import ImpersonationValueError, impersonation_headers
from kubegate.core.impersonation_policy import ImpersonationRefusal
from kubegate.core.proxy_headers import (
    downstream_response_headers,
    upstream_request_headers,
    validate_upgrade,
)
from kubegate.core.proxy_path import redirect_for_root
from kubegate.core.proxy_target import ProxyError
from kubegate.core.requestinfo import RequestInfo
from kubegate.core.upstream_proxy_path import upstream_proxy_path
from kubegate.errors import (
    APIError,
    BadGateway,
    BadRequest,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    ServiceUnavailable,
    Timeout,
)
from kubegate.http import (
    Request,
    ResponseWriter,
    UpstreamError,
    UpstreamPool,
    UpstreamTarget,
)
from kubegate.http.relay import note_upstream_error, relay_response, relay_upgrade
from kubegate.proxy.handler import PROXY_METHODS, invalid_upgrade_response
from kubegate.server.mirror_settings import MirrorSettings

__all__ = ["USER_STATE_KEY", "UpstreamAPIProxy"]

log = logging.getLogger("kubegate.mirror")

USER_STATE_KEY = "user"  # request.state: the identity the request acts as (set by the app)
RESOLVE_TIMEOUT = 10.0
_WHOLE_BODY_MAX = 64 * 1024
_LOCATION_HEADERS = frozenset({"location", "content-location"})


class UpstreamAPIProxy:
    """The app's proxy handler in via-apiserver mode."""

    def __init__(
        self,
        settings: MirrorSettings,
        credentials: Credentials,
        pool: UpstreamPool,
        closing: asyncio.Event,
        *,
        kubegate_cookies: frozenset[str] = frozenset(),
        tunnel_idle_timeout: float = 3600.0,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.pool = pool
        self.closing = closing
        self.kubegate_cookies = kubegate_cookies  # never forwarded, never set by a backend
        self.tunnel_idle_timeout = tunnel_idle_timeout
        self._api: ApiServer | None = None

    async def __call__(
        self, request: Request, response: ResponseWriter, info: RequestInfo, audit_id: str
    ) -> None:
        if request.method not in PROXY_METHODS:
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        if "dryRun" in parse_qs(request.query, keep_blank_values=True):
            raise BadRequest("dryRun is not supported")
        try:
            upgrade = validate_upgrade(request.headers) if request.upgrade else None
        except ProxyError as exc:
            raise BadRequest(str(exc)) from exc
        location = (
            None
            if info.subpath
            else redirect_for_root(request.method, request.path, request.query, upgrade is not None)
        )
        if location is not None:
            headers = [("audit-id", audit_id), ("cache-control", "no-cache, private")]
            await response.send(301, [*headers, ("location", location)])
            return
        user = request.state.get(USER_STATE_KEY)
        if not isinstance(user, UserInfo):
            raise InternalError("the proxy request has no authenticated user")
        refusal = self.settings.impersonation_deny.refusal(user.name, user.groups)
        if refusal is not None:  # before anything reaches the upstream
            raise self._refused(user, refusal)
        api = await self._api_server()
        try:
            path = upstream_proxy_path(
                api.base_path,
                info.namespace,
                info.resource,
                info.name,
                info.subpath,
                trailing_slash=request.path.endswith("/"),
            )
            headers = upstream_request_headers(
                request.headers,
                host_header=api.host_header,
                forwarded_for=request.peer[0],
                forwarded_host="",
                forwarded_proto="",
                forwarded_uri="",
                forwarded_prefix="",
                kubegate_cookies=self.kubegate_cookies,
                is_upgrade=upgrade is not None,
            )
        except ValueError as exc:  # ProxyError and PathNotAllowed are ValueErrors
            raise BadRequest(str(exc)) from exc
        headers += await self._identity_headers(user)
        basic = any(n.lower() == "authorization" and v[:6].lower() == "basic " for n, v in headers)
        if basic or self.credentials.presents_certificate():
            # This server judged the browser already (CSRF, ambient credentials); an upstream
            # kubegate must not take kubegate's own basic credentials or client certificate
            # for ones a browser attached by itself (it keys that on Origin and Sec-Fetch-*).
            headers = [
                (n, v) for n, v in headers if n != "origin" and not n.startswith("sec-fetch-")
            ]
        target_path = f"{path}?{request.query}" if request.query else path
        target = self._target(api)
        if upgrade is not None:
            await self._upgrade(request, response, audit_id, target, target_path, headers)
            return
        response.cancel_on_disconnect()  # as the local proxy: nobody waits for a lost client
        await self._forward(request, response, audit_id, target, target_path, headers)

    # -- pieces -------------------------------------------------------------------------

    async def _api_server(self) -> ApiServer:
        """The upstream's address, resolved once (retried per request until it resolves)."""
        if self._api is None:
            upstream = self.settings.upstream
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT):
                    self._api = await resolve_api_server(
                        upstream.server, upstream.tls_server_name, upstream.proxy
                    )
            except (OSError, TimeoutError, ValueError) as exc:
                raise ServiceUnavailable(
                    f"cannot resolve the upstream API server {upstream.server}: {exc}"
                ) from exc
        return self._api

    async def _identity_headers(self, user: UserInfo) -> list[tuple[str, str]]:
        """kubegate's upstream credentials, then the caller's identity to impersonate."""
        try:
            identity = impersonation_headers(
                user.name, uid=user.uid, groups=user.groups, extra=user.extra
            )
        except ImpersonationValueError as exc:
            raise BadRequest(f"cannot act as this user upstream: {exc}") from exc
        try:
            credentials = await self.credentials.auth_headers()
        except KubeconfigError as exc:  # a token file gone, an exec plugin failing
            log.error("no credentials for the upstream API server: %s", exc)
            raise ServiceUnavailable(
                f"kubegate cannot authenticate to the upstream API server "
                f"{self.settings.upstream_name}"
            ) from exc
        return credentials + identity

    def _refused(self, user: UserInfo, refusal: ImpersonationRefusal) -> Forbidden:
        """The 403 for an identity the deny list keeps from the upstream (and its log line:
        names only, never a credential)."""
        what = "user" if refusal.kind == "users" else "group"
        flag = f"--mirror-impersonation-deny-{refusal.kind}"
        log.warning(
            "refused to impersonate %r upstream: %s %r matches %s entry %r",
            user.name,
            what,
            refusal.name,
            flag,
            refusal.entry,
        )
        return Forbidden(
            f'{refusal.kind} "{refusal.name}" is forbidden: kubegate does not act as '
            f"{what} {refusal.name!r} in {self.settings.upstream_name} ({flag}); "
            "use an identity that the upstream's RBAC grants what you need",
            name=refusal.name,
            kind=refusal.kind,
        )

    def _target(self, api: ApiServer) -> UpstreamTarget:
        try:
            context = self.credentials.ssl_context()  # the same object while nothing changed
        except KubeconfigError as exc:
            log.error("no TLS context for the upstream API server: %s", exc)
            raise ServiceUnavailable(
                f"kubegate cannot connect to the upstream API server {self.settings.upstream_name}"
            ) from exc
        return UpstreamTarget(api.ip, api.port, api.tls, api.server_name, context, api.via)

    def _response_headers(
        self, headers: list[tuple[str, str]], audit_id: str, *, upgrade: bool
    ) -> list[tuple[str, str]]:
        out = []
        base = self._api.base_path if self._api is not None else ""
        for name, value in downstream_response_headers(
            headers, is_upgrade=upgrade, kubegate_cookies=self.kubegate_cookies
        ):
            if name == "audit-id":
                continue  # the upstream's; this server's own is sent instead
            if base and name in _LOCATION_HEADERS and value.startswith(base + "/"):
                value = value[len(base) :]
            out.append((name, value))
        out.append(("audit-id", audit_id))
        return out

    async def _forward(
        self,
        request: Request,
        response: ResponseWriter,
        audit_id: str,
        target: UpstreamTarget,
        target_path: str,
        headers: list[tuple[str, str]],
    ) -> None:
        has_body = (
            request.body.length not in (None, 0) or request.header("transfer-encoding") is not None
        )
        expect = (request.header("expect") or "").lower() == "100-continue"
        try:
            upstream = await self.pool.request(
                target,
                request.method,
                target_path,
                headers,
                request.body.__aiter__() if has_body else None,
                content_length=request.body.length if has_body else None,
                expect_continue=expect and has_body,
            )
        except UpstreamError as exc:
            raise self._unreachable(request, exc) from exc
        if upstream.status == 401:
            self.credentials.invalidate()  # an exec plugin's token may have expired early
        try:
            out = self._response_headers(upstream.headers, audit_id, upgrade=False)
        except BaseException:
            await upstream.aclose()
            raise
        await relay_response(
            response,
            upstream,
            out,
            head=request.method == "HEAD",
            whole_max=_WHOLE_BODY_MAX,
            log=log,
            upstream_name="the upstream API server",
        )

    async def _upgrade(
        self,
        request: Request,
        response: ResponseWriter,
        audit_id: str,
        target: UpstreamTarget,
        target_path: str,
        headers: list[tuple[str, str]],
    ) -> None:
        response.cancel_on_disconnect()
        try:
            result = await self.pool.upgrade(target, request.method, target_path, headers)
        except UpstreamError as exc:
            raise self._unreachable(request, exc) from exc
        tunnelled = await relay_upgrade(
            response,
            result,
            partial(self._response_headers, audit_id=audit_id),
            idle_timeout=self.tunnel_idle_timeout,
            closing=self.closing,
            refuse=invalid_upgrade_response,
        )
        if tunnelled is not None:
            request.state["proxy_tunnel_bytes"] = tunnelled

    def _unreachable(self, request: Request, exc: UpstreamError) -> APIError:
        # Counted by the server's metrics as the local proxy's backend errors are.
        note_upstream_error(request.state, exc)
        message = (
            f"error trying to reach the upstream API server {self.settings.upstream_name}: {exc}"
        )
        log.warning("%s", message)
        if exc.kind == "timeout":
            return Timeout(message)
        if exc.kind in ("protocol", "reset"):
            return BadGateway(message)
        return ServiceUnavailable(message)
