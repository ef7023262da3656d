"""The per-service origin mode (``kubegate serve --apps-domain``): each service port served at
``https://<port>--<service>--<namespace>.<apps-domain>:<port>/`` with no path prefix.

A request whose Host is an app host never reaches the API: it is authenticated by the app
origin's own cookie and proxied to that one service, authorized as ``get`` (or the verb
kube maps from the method) on ``services/proxy`` for the target — exactly what the same
request through ``…/services/<id>/proxy/`` would need. Without the cookie, a browser is
sent through a redirect handshake with the main origin, where the user's kubegate session
lives (the way Teleport's App Access logs in to an app's subdomain):

1. app origin: ``302 https://<main>/-/apps-auth?host=<app host>&then=<path>&state=<s>``,
   setting ``__Host-kubegate_app_state=<s>`` on the app origin;
2. main origin (needs the main session; unauthenticated browsers go to /login first):
   checks the user may reach the app, stores a single-use 60-second code (app_codes.py)
   bound to the app host, the path and the state, then sends the browser on to
   ``https://<app host>/-/apps-callback?code=…`` (a page with an immediate refresh and a
   link, see ``authorize_app`` for why not a 302);
3. app origin: redeems the code (once), checks it was issued for this host and that the
   state matches this browser's state cookie (so nobody can log a victim's browser in to
   an app as somebody else), creates an app-scoped session
   (``SessionStore.create(user, method="apps", scope=<app host>, parent=<main session>)``),
   sets ``__Host-kubegate_app_session`` and redirects to the path.

An app session lives within the main session that signed it in (auth/sessions.py
``parent``): signing out on the main origin, or the main session expiring, ends it on
every replica. A user who reached step 2 with another credential (basic auth or a client
certificate the browser sent by itself, a bearer token) has no main session to end: that
app session ends by the session limits alone.

The cookies carry the ``__Host-`` prefix: a browser accepts them only from the host itself
(Secure, Path=/, no Domain), so a sibling app cannot plant its own session cookie for
another app ("cookie tossing" through ``Domain=<apps-domain>``). They are stripped from
requests to the backend and a backend cannot set them (the proxy's kubegate-cookie rule,
server/proxywiring.py).
Cookie-authenticated state-changing requests and upgrades (and those with basic credentials
or a client certificate a browser attached) must come from the app's own origin
(core.csrf): other apps share the apps domain's *site*, so SameSite=Lax alone would let them
ride the cookie.
"""

from __future__ import annotations

import copy
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode

from kubegate.auth.attributes import attributes_for
from kubegate.auth.session_authn import SESSION_NAME
from kubegate.auth.types import (
    BROWSER_CREDENTIAL,
    Authenticator,
    Authorizer,
    UserInfo,
    forbidden_message,
)
from kubegate.client.urls import ProxyURL
from kubegate.core import csrf
from kubegate.core.app_hosts import AppTarget, app_host, host_without_port, parse_app_host
from kubegate.core.browser_access import local_redirect_target
from kubegate.core.requestinfo import PathError, RequestInfo, parse_request_info
from kubegate.errors import BadRequest, Forbidden, NotFound, Unauthorized
from kubegate.http.types import Request
from kubegate.proxy.handler import ProxyHandler
from kubegate.server.context import RequestContext
from kubegate.server.ui.app_codes import AppCodes, digest
from kubegate.server.ui.layout import escape, send_page, wants_html

APP_COOKIE = "__Host-kubegate_app_session"
STATE_COOKIE = "__Host-kubegate_app_state"
AUTH_PATH = "/-/apps-auth"
CALLBACK_PATH = "/-/apps-callback"
SESSION_METHOD = "apps"
_STATE_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_STATE_MAX_AGE = 300  # seconds a browser has to come back from the main origin
_NO_STORE = [("cache-control", "no-store"), ("referrer-policy", "no-referrer")]


class _HasUser(Protocol):
    @property
    def user(self) -> UserInfo: ...


class AppSessions(Protocol):
    """The part of auth.sessions.SessionStore this module uses."""

    async def create(
        self, user: UserInfo, *, method: str, scope: str = "", parent: str = ""
    ) -> str: ...

    def lookup(self, secret: str, *, scope: str = "") -> _HasUser | None: ...


@dataclass(frozen=True, slots=True)
class AppsConfig:
    domain: str  # e.g. "apps.localhost"
    main_host: str  # the main origin's host name (its port is the one the request used)


class AppsGateway:
    def __init__(
        self,
        config: AppsConfig,
        *,
        authenticator: Authenticator,
        authorizer: Authorizer,
        sessions: AppSessions,
        codes: AppCodes,
        proxy: ProxyHandler,
    ) -> None:
        self.config = config
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.sessions = sessions
        self.codes = codes
        self.proxy = proxy

    # -- recognising app hosts and building their URLs ---------------------------------------

    def is_app_host(self, request: Request) -> bool:
        """Whether ``request`` is addressed to any host under the apps domain."""
        host = host_without_port(request.header("host") or "").lower().rstrip(".")
        return host.endswith("." + self.config.domain)

    def app_url_for(self, request: Request) -> Callable[[str, str, str], str | None]:
        """For the index: (namespace, service, port) -> the app's URL on the port this
        request came in on."""
        port = _port_of(request.header("host") or "")

        def url(namespace: str, service: str, port_id: str) -> str | None:
            host = app_host(AppTarget(namespace, service, port_id), self.config.domain)
            return f"https://{host}{port}/" if host else None

        return url

    # -- the app origin ----------------------------------------------------------------------

    async def serve(
        self, ctx: RequestContext, *, before_running: Callable[[], None] = lambda: None
    ) -> None:
        """Everything addressed to an app host. ``before_running`` is called once the request
        is authenticated and authorized, just before it is forwarded (the audit's
        RequestReceived stage; it raises to refuse the request)."""
        request = ctx.request
        host = request.header("host") or ""
        target = parse_app_host(host, self.config.domain)
        if target is None:
            raise NotFound(f"no app is served at {host_without_port(host)[:100]!r}")
        if not request.path.startswith("/"):
            raise BadRequest("the request target must be a path")
        if request.path == CALLBACK_PATH:
            await self._callback(ctx, host)
            return
        user, by_cookie = self._authenticate(request, host)
        if user is None:
            if request.method == "GET" and not request.upgrade and wants_html(request):
                await self._redirect_to_main(ctx, host)
                return
            raise Unauthorized("Unauthorized")
        # The app cookie, and basic auth or a client certificate the browser attached by itself.
        if by_cookie or request.state.get(BROWSER_CREDENTIAL) is not None:
            refusal = csrf.refusal(
                request.method,
                upgrade=request.upgrade is not None,
                origin=request.header("origin"),
                fetch_site=request.header("sec-fetch-site"),
                fetch_metadata=any(k.startswith("sec-fetch-") for k, _ in request.headers),
                own=csrf.request_origin(host, request.tls),
                browser_only=by_cookie,
            )
            if refusal is not None:
                raise Forbidden(refusal)
        info = self._request_info(request, target)
        ctx.info = info
        ctx.user = ctx.authenticated_user = user
        ctx.audit_annotations["kubegate.io/app-host"] = host_without_port(host).lower()
        self._authorize(user, info)
        before_running()
        await self.proxy(request, ctx.response, info, ctx.audit_id, prefix="")

    def _authenticate(self, request: Request, host: str) -> tuple[UserInfo | None, bool]:
        """The user by the app cookie (True), or by a credential a tool sent (False)."""
        scope = host_without_port(host).lower()
        for secret in _cookie_values(request, APP_COOKIE):
            session = self.sessions.lookup(secret, scope=scope)
            if session is not None:
                return session.user, True
        if request.header("authorization") is not None or request.peer_cert is not None:
            user = self.authenticator.authenticate(request)
            # As the API chain does: the credential is gone before anything is forwarded.
            request.headers[:] = [h for h in request.headers if h[0] != "authorization"]
            if user is None:
                raise Unauthorized("Unauthorized")
            return user, False
        return None, False

    def _request_info(self, request: Request, target: AppTarget) -> RequestInfo:
        """The RequestInfo of the equivalent ``…/services/<id>/proxy/<path>`` request."""
        proxy_id = self._proxy_id(target)
        path = f"/api/v1/namespaces/{target.namespace}/services/{proxy_id}/proxy{request.path}"
        try:
            return parse_request_info(request.method, path, request.query)
        except PathError as exc:
            raise BadRequest(str(exc)) from exc

    def _proxy_id(self, target: AppTarget) -> str:
        """``[https:]<service>:<port>``: https when the port is named https or is 443, as
        the index and cluster-info build links."""
        https = target.port == "https" or target.port == "443"
        service = self.proxy.resolver.cache.service(target.namespace, target.service)
        for port in ((service or {}).get("spec") or {}).get("ports") or []:
            if port.get("name") == target.port or str(port.get("port")) == target.port:
                https = port.get("name") == "https" or port.get("port") == 443
                break
        return ProxyURL(
            "service", target.service, target.namespace, port=target.port, https=https
        ).proxy_id

    def _authorize(self, user: UserInfo, info: RequestInfo) -> None:
        attrs = attributes_for(user, info)
        decision = self.authorizer.authorize(attrs)
        if not decision.allowed:
            raise Forbidden(
                forbidden_message(attrs, decision.reason), name=info.name, kind=info.resource
            )

    async def _redirect_to_main(self, ctx: RequestContext, host: str) -> None:
        request = ctx.request
        state = secrets.token_urlsafe(24)
        then = request.path + (f"?{request.query}" if request.query else "")
        query = urlencode({"host": host.lower(), "then": then, "state": state})
        location = f"https://{self.config.main_host}{_port_of(host)}{AUTH_PATH}?{query}"
        cookie = (
            f"{STATE_COOKIE}={state}; Path=/; Max-Age={_STATE_MAX_AGE}; Secure; HttpOnly; "
            "SameSite=Lax"
        )
        headers = [
            ("location", location),
            ("set-cookie", cookie),
            ("audit-id", ctx.audit_id),
            *_NO_STORE,
        ]
        await ctx.response.send(302, headers)

    async def _callback(self, ctx: RequestContext, host: str) -> None:
        request = ctx.request
        if request.method not in ("GET", "HEAD"):
            raise BadRequest("the sign-in callback is a GET")
        grant = await self.codes.redeem(ctx.param("code"))
        states = _cookie_values(request, STATE_COOKIE)
        problem = None
        if grant is None:
            problem = "This sign-in link has expired or was already used."
        elif grant.host.lower() != host.lower():
            problem = "This sign-in link was issued for another app."
        elif not any(hmac.compare_digest(digest(s), grant.state_hash) for s in states):
            problem = "This sign-in link was not started by this browser."
        if problem is not None or grant is None:
            body = (
                f'<div class="card"><h1>Sign-in failed</h1><p class="error">{escape(problem)}</p>'
                '<p><a href="/">Start again</a></p></div>'
            )
            await send_page(
                ctx.response, 400, "Sign-in failed", body, extra=[("audit-id", ctx.audit_id)]
            )
            return
        ctx.user = ctx.authenticated_user = grant.user
        secret = await self.sessions.create(
            grant.user,
            method=SESSION_METHOD,
            scope=host_without_port(host).lower(),
            parent=grant.parent,
        )
        headers = [
            ("location", safe_local_path(grant.then)),
            ("set-cookie", f"{APP_COOKIE}={secret}; Path=/; Secure; HttpOnly; SameSite=Lax"),
            ("set-cookie", f"{STATE_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"),
            ("audit-id", ctx.audit_id),
            *_NO_STORE,
        ]
        await ctx.response.send(302, headers)

    # -- the main origin ---------------------------------------------------------------------

    async def authorize_app(self, ctx: RequestContext) -> None:
        """``GET /-/apps-auth`` on the main origin: hand the signed-in user to an app origin."""
        assert ctx.user is not None
        request = ctx.request
        if request.method != "GET":  # (not even HEAD: every answer spends a code)
            raise BadRequest("apps-auth is a GET")
        host = ctx.param("host").lower()
        state = ctx.param("state")
        target = parse_app_host(host, self.config.domain)
        problem = None
        if target is None or host != host_without_port(host) + _port_of(host):
            # Only ``name`` or ``name:digits``: ``name:@evil.example`` would send the browser,
            # and the code, to evil.example.
            problem = "That is not an app address."
        elif _port_of(host) != _port_of(request.header("host") or ""):
            # The code goes to exactly this server: never to another port on the same host.
            problem = "That app address is not on this server."
        elif not _STATE_RE.fullmatch(state):
            problem = "The sign-in request is incomplete; open the app again."
        if problem is not None or target is None:
            await self._error_page(ctx, 400, "Cannot open the app", problem or "")
            return
        info = self._request_info(replace_path(request, "/"), target)
        attrs = attributes_for(ctx.user, info)
        if not self.authorizer.authorize(attrs).allowed:
            message = f"You ({ctx.user.name}) may not open {target.service} in {target.namespace}."
            await self._error_page(ctx, 403, "Forbidden", message)
            return
        then = safe_local_path(ctx.param("then"))
        # The main session that asked, if the user came with one: the app session ends with it.
        parent = str(request.state.get(SESSION_NAME) or "")
        code = await self.codes.issue(ctx.user, host=host, then=then, state=state, parent=parent)
        location = f"https://{host}{CALLBACK_PATH}?code={quote(code, safe='')}"
        # A page that moves on by itself, not a 302: when this request ends a chain that
        # began with the login form's POST, the login page's CSP ``form-action 'self'``
        # applies to every redirect of that chain and Chromium would block one to the app's
        # origin. A refresh is a new navigation, started by this page.
        body = (
            f'<div class="card"><h1>Opening {escape(target.service)}</h1>'
            f'<p class="muted">Signing you in to {escape(target.service)} in '
            f"{escape(target.namespace)} (its own origin).</p>"
            f'<p><a id="continue" href="{escape(location)}">Continue</a></p></div>'
        )
        refresh = f'<meta http-equiv="refresh" content="0;url={escape(location)}">'
        await send_page(
            ctx.response,
            200,
            "Opening app",
            body,
            user=ctx.user.name,
            head=refresh,
            extra=[("audit-id", ctx.audit_id), ("referrer-policy", "no-referrer")],
        )

    async def _error_page(self, ctx: RequestContext, status: int, title: str, message: str) -> None:
        body = f'<div class="card"><h1>{escape(title)}</h1><p class="error">{escape(message)}</p></div>'
        user = ctx.user.name if ctx.user else None
        await send_page(
            ctx.response, status, title, body, user=user, extra=[("audit-id", ctx.audit_id)]
        )


def safe_local_path(then: str) -> str:
    """``then`` if a browser would stay on this origin following it, else ``/`` (the same
    rule as the login page's ``then``: core.browser_access)."""
    return local_redirect_target(then) or "/"


def replace_path(request: Request, path: str) -> Request:
    """A shallow copy of ``request`` with another path and no query (for authorization)."""
    other = copy.copy(request)
    other.path, other.query, other.method = path, "", "GET"
    return other


def _port_of(host: str) -> str:
    """``:port`` of a Host value, '' when it has none."""
    rest = host[host.find("]") + 1 :] if host.startswith("[") else host
    _, colon, port = rest.partition(":")
    return f":{port}" if colon and port.isdigit() else ""


def _cookie_values(request: Request, name: str) -> list[str]:
    values = []
    for key, header in request.headers:
        if key != "cookie":
            continue
        for pair in header.split(";"):
            cookie_name, sep, value = pair.strip().partition("=")
            if sep and cookie_name == name and value:
                values.append(value.strip('"'))
    return values
