"""The browser sign-in: ``/login``, ``/logout`` and ``/oauth2/callback``.

These routes are served before authentication (they are how a browser gets a credential).

    GET  /login             the sign-in page (``?then=`` is where to go afterwards;
                            ``?oidc=1`` starts the OIDC flow instead: server/login_oidc.py)
    POST /login             form-encoded ``method=password`` (``username``, ``password``,
                            checked against --basic-auth-file with its throttle) or
                            ``method=token`` (``token``, checked by the bearer-token sources)
    GET  /logout            a page with a sign-out button (a GET never signs out: a cross-site
                            link or image must not be able to end the session)
    POST /logout            ends the session on every replica and clears the cookie
    GET  /oauth2/callback   the OIDC issuer's redirect back

A successful sign-in revokes the session the browser had (no fixation: a new secret every
time), sets ``__Host-kubegate_session`` (``HttpOnly; Secure; SameSite=Lax; Path=/``, no
``Domain``, no ``Max-Age``: it ends with the browser, the server ends it sooner) and answers
303 to ``then`` — only a local path (core/browser_access.py). A failure shows the form again
with one generic message and 401, whatever was wrong. POSTs need a same-origin ``Origin``
(core/csrf.py): a cross-site form must not sign the user in as someone else.

The session records what the credential was (auth/session_credentials.py: a fingerprint of
the password entry or static token, the ServiceAccount's UID) so that it ends when the
credential stops being valid; a sign-in whose credential cannot be recorded fails like a
wrong one (the password file was re-read between the check and the record; a token that
is neither static, a ServiceAccount's nor a JWT with an expiry).

Audit: every request here gets its record like any other; a sign-in adds the annotations
``kubegate.io/login`` (``succeeded``/``failed``) and ``kubegate.io/login-method``, and the
record's user is the signed-in user. No password, token or cookie is ever recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

import jwt

from kubegate.auth.basic import BasicAuthenticator
from kubegate.auth.bearer import BearerAuthenticator
from kubegate.auth.oidc_flow import OIDCLogin
from kubegate.auth.session_authn import COOKIE_NAME, cleared_cookie, cookie_value, set_cookie
from kubegate.auth.session_credentials import SessionCredential
from kubegate.auth.sessions import SessionStore
from kubegate.auth.throttle import FailureThrottle
from kubegate.auth.types import UserInfo
from kubegate.core.browser_access import LOGIN_PATH, local_redirect_target, login_location
from kubegate.errors import (
    APIError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    RequestEntityTooLarge,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
)
from kubegate.http.types import BodyTooLarge, Headers
from kubegate.server.browser_guard import origin_refusal
from kubegate.server.context import RequestContext
from kubegate.server.login_oidc import oidc_callback, oidc_start
from kubegate.server.login_page import (
    LoginOptions,
    login_body,
    logout_body,
    send_login_page,
)
from kubegate.server.ui.layout import escape

log = logging.getLogger("kubegate.login")

LOGIN_ROUTES = frozenset({"/login", "/logout", "/oauth2/callback"})
MAX_FORM_BYTES = 16 * 1024
TOKEN_THROTTLE_KEY = ":token"  # a Basic user name cannot contain ":", so this is no user's
FAILED = "Sign-in failed: the credentials were not accepted."


@dataclass(slots=True)
class LoginMethods:
    """What a browser may sign in with."""

    tokens: BearerAuthenticator
    throttle: FailureThrottle
    passwords: BasicAuthenticator | None = None
    oidc: OIDCLogin | None = None


class LoginPages:
    def __init__(
        self,
        sessions: SessionStore,
        methods: LoginMethods,
        *,
        cookie_name: str = COOKIE_NAME,
    ) -> None:
        self.sessions = sessions
        self.methods = methods
        self.cookie_name = cookie_name
        issuer = methods.oidc.config.issuer_url if methods.oidc is not None else ""
        self.options = LoginOptions(passwords=methods.passwords is not None, oidc_issuer=issuer)

    async def serve(self, ctx: RequestContext) -> None:
        request = ctx.request
        path, method = request.path, request.method
        if path == "/oauth2/callback" and method in ("GET", "HEAD"):
            await oidc_callback(self, ctx)
        elif path == LOGIN_PATH and method in ("GET", "HEAD"):
            if ctx.param("oidc") and self.methods.oidc is not None:
                await oidc_start(self, ctx)
                return
            await self.page(ctx, 200, then=self.then(ctx.param("then")))
        elif path == LOGIN_PATH and method == "POST":
            await self._submit(ctx)
        elif path == "/logout" and method in ("GET", "HEAD"):
            user = self._current(ctx)
            await send_login_page(
                ctx.response,
                200,
                "Sign out",
                logout_body(user.name if user else None),
                extra=self._headers(ctx),
            )
        elif path == "/logout" and method == "POST":
            await self._logout(ctx)
        else:
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )

    # -- helpers shared with login_oidc ---------------------------------------------------------

    @staticmethod
    def then(value: str | None) -> str:
        """Where to go after signing in: a safe local path, never the sign-in pages."""
        target = local_redirect_target(value)
        if target is None or target.split("?", 1)[0] in LOGIN_ROUTES:
            return "/"
        return target

    @staticmethod
    def _headers(ctx: RequestContext, extra: Sequence[tuple[str, str]] = ()) -> Headers:
        return [("audit-id", ctx.audit_id), *extra]

    async def page(
        self,
        ctx: RequestContext,
        status: int,
        *,
        then: str,
        error: str = "",
        info: str = "",
        username: str = "",
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        body = login_body(self.options, then=then, error=error, info=info, username=username)
        await send_login_page(
            ctx.response, status, "Sign in", body, extra=self._headers(ctx, extra)
        )

    async def redirect(
        self,
        ctx: RequestContext,
        location: str,
        *,
        status: int = 303,
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        headers = [
            ("location", location),
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            *self._headers(ctx, extra),
        ]
        body = f'<a href="{escape(location)}">Continue</a>.\n'.encode()
        await ctx.response.send(status, headers, body)

    async def redirect_to_login(self, ctx: RequestContext) -> None:
        """An unauthenticated browser asking for a page: 302 to the sign-in page."""
        request = ctx.request
        await self.redirect(ctx, login_location(request.path, request.query), status=302)

    async def sign_in(
        self,
        ctx: RequestContext,
        user: UserInfo,
        method: str,
        then: str,
        *,
        not_after: float | None = None,
        credential: SessionCredential | None = None,
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Replace the browser's session with a new one for ``user`` and go to ``then``."""
        previous = cookie_value(ctx.request, self.cookie_name)
        if previous:
            await self.sessions.revoke(previous)  # rotation: the old secret is dead everywhere
        secret = await self.sessions.create(
            user, method=method, not_after=not_after, credential=credential
        )
        ctx.user = ctx.authenticated_user = user
        self._annotate(ctx, method, succeeded=True)
        log.info("user %r signed in (%s) from %s", user.name, method, ctx.request.peer[0])
        cookies = [set_cookie(self.cookie_name, secret), *extra]
        await self.redirect(ctx, then, extra=cookies)

    def _annotate(self, ctx: RequestContext, method: str, *, succeeded: bool) -> None:
        ctx.audit_annotations["kubegate.io/login"] = "succeeded" if succeeded else "failed"
        ctx.audit_annotations["kubegate.io/login-method"] = method
        if not succeeded:
            ctx.error = Unauthorized(FAILED)  # the record's responseStatus says why

    async def failed(
        self,
        ctx: RequestContext,
        method: str,
        then: str,
        *,
        error: APIError | None = None,
        username: str = "",
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Show the form again: 401 with one generic message (429 while throttled)."""
        self._annotate(ctx, method, succeeded=False)
        status, message, headers = 401, FAILED, list(extra)
        if isinstance(error, TooManyRequests):
            ctx.error = error
            status = 429
            message = f"Too many failed attempts; try again in {error.retry_after} seconds."
            headers.append(("retry-after", str(error.retry_after)))
        await self.page(ctx, status, then=then, error=message, username=username, extra=headers)

    def _current(self, ctx: RequestContext) -> UserInfo | None:
        secret = cookie_value(ctx.request, self.cookie_name)
        session = self.sessions.lookup(secret) if secret else None
        return session.user if session else None

    # -- POST /login ------------------------------------------------------------------------

    async def _submit(self, ctx: RequestContext) -> None:
        refused = origin_refusal(ctx.request, browser_only=False)
        if refused is not None:
            raise Forbidden(refused)
        form = await _read_form(ctx)
        then = self.then(form.get("then"))
        method = form.get("method", "")
        if method == "password" and self.methods.passwords is not None:
            await self._password(ctx, form, then)
        elif method == "token":
            await self._token(ctx, form, then)
        else:
            raise BadRequest("unknown sign-in method")

    async def _password(self, ctx: RequestContext, form: dict[str, str], then: str) -> None:
        passwords = self.methods.passwords
        assert passwords is not None
        username = form.get("username", "")
        try:
            user = passwords.check_password(ctx.request.peer[0], username, form.get("password", ""))
        except TooManyRequests as exc:
            await self.failed(ctx, "password", then, error=exc, username=username)
            return
        if user is None:
            await self.failed(ctx, "password", then, username=username)
            return
        checks = self.sessions.credentials
        credential = None if checks is None else checks.for_password(username, user)
        if checks is not None and credential is None:  # the file was re-read meanwhile
            await self.failed(ctx, "password", then, username=username)
            return
        await self.sign_in(ctx, user, "password", then, credential=credential)

    async def _token(self, ctx: RequestContext, form: dict[str, str], then: str) -> None:
        token = form.get("token", "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        source = ctx.request.peer[0]
        throttle = self.methods.throttle
        wait = throttle.retry_after(source, TOKEN_THROTTLE_KEY)
        if wait > 0:
            error = TooManyRequests("throttled", retry_after=max(1, int(wait + 0.999)))
            await self.failed(ctx, "token", then, error=error)
            return
        tokens = self.methods.tokens
        try:
            user = tokens.review(token, tokens.api_audiences).user if token else None
        except Unauthorized:
            user = None
        if user is None:
            throttle.failed(source, TOKEN_THROTTLE_KEY)
            await self.failed(ctx, "token", then)
            return
        throttle.succeeded(source, TOKEN_THROTTLE_KEY)
        not_after = _token_expiry(token)
        checks = self.sessions.credentials
        credential = None if checks is None else checks.for_token(token, user)
        if checks is not None and credential is None and not_after is None:
            await self.failed(ctx, "token", then)  # removed from the token file meanwhile
            return
        await self.sign_in(ctx, user, "token", then, not_after=not_after, credential=credential)

    # -- POST /logout -----------------------------------------------------------------------

    async def _logout(self, ctx: RequestContext) -> None:
        refused = origin_refusal(ctx.request, browser_only=False)
        if refused is not None:
            raise Forbidden(refused)
        secret = cookie_value(ctx.request, self.cookie_name)
        if secret:
            session = self.sessions.lookup(secret)
            if session is not None:
                ctx.user = ctx.authenticated_user = session.user
            await self.sessions.revoke(secret)
        ctx.audit_annotations["kubegate.io/logout"] = "true"
        await self.redirect(ctx, LOGIN_PATH, extra=[cleared_cookie(self.cookie_name)])


def _token_expiry(token: str) -> float | None:
    """A JWT's ``exp`` (the token was verified already): the session must not outlive it."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


async def _read_form(ctx: RequestContext) -> dict[str, str]:
    request = ctx.request
    content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("the sign-in form must be application/x-www-form-urlencoded")
    try:
        raw = await request.body.read(MAX_FORM_BYTES)
    except BodyTooLarge:
        raise RequestEntityTooLarge("the sign-in form is too large") from None
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the sign-in form is malformed") from None
    return {name: values[0] for name, values in parsed.items()}
