"""The OIDC half of the sign-in pages: ``GET /login?oidc=1`` and ``GET /oauth2/callback``.

The flow itself (PKCE, state, nonce, code redemption, ID-token checks) is in
auth/oidc_flow.py. Here: the flow cookie ``__Host-kubegate_oidc`` that carries it through
the issuer (``Max-Age`` of the flow's lifetime, HttpOnly, Secure, SameSite=Lax — the
issuer's redirect back is a top-level GET, which Lax lets through — and cleared by the
callback, whatever its outcome), the redirect URI, and the pages for a failed sign-in. Why a
sign-in failed goes to the server log; the browser is told only that it failed (and the
issuer's ``error`` code, which the issuer chose to show it anyway).

The ``__Host-`` prefix makes a browser accept the cookie only with ``Secure``, ``Path=/``
and no ``Domain``, so a sibling host (an app origin under ``--apps-domain``, or any other
subdomain of the site) cannot plant a flow of its own with ``Domain=`` — which would let
an attacker finish *their* sign-in in the victim's browser (login CSRF: the victim then
works as the attacker). ``Path=/`` means every request to kubegate's origin carries the
cookie for those ten minutes; the proxy takes it out of requests to backends and drops a
backend's ``Set-Cookie`` of that name (server/proxywiring.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kubegate.auth.oidc_flow import FLOW_LIFETIME, Flow, LoginFailed
from kubegate.auth.session_authn import cleared_cookie, cookie_value, set_cookie
from kubegate.core import csrf
from kubegate.errors import Unauthorized
from kubegate.server.context import RequestContext
from kubegate.server.login_page import message_body, send_login_page

if TYPE_CHECKING:
    from kubegate.server.login import LoginPages

log = logging.getLogger("kubegate.login")

FLOW_COOKIE = "__Host-kubegate_oidc"


def _flow_cookie(flow: Flow) -> tuple[str, str]:
    return set_cookie(FLOW_COOKIE, flow.encode(), max_age=int(FLOW_LIFETIME))


def _redirect_uri(pages: LoginPages, ctx: RequestContext) -> str:
    oidc = pages.methods.oidc
    assert oidc is not None
    request = ctx.request
    own = csrf.request_origin(request.header("host"), request.tls)
    return oidc.redirect_uri(str(own) if own else "")


async def oidc_start(pages: LoginPages, ctx: RequestContext) -> None:
    """Send the browser to the issuer with a fresh flow in its cookie."""
    oidc = pages.methods.oidc
    assert oidc is not None
    then = pages.then(ctx.param("then"))
    flow = oidc.start(then)
    try:
        location = await oidc.authorization_url(flow, _redirect_uri(pages, ctx))
    except LoginFailed as exc:
        log.warning("cannot start the OIDC sign-in: %s", exc)
        await pages.page(
            ctx, 502, then=then, error="The identity provider cannot be reached right now."
        )
        return
    await pages.redirect(ctx, location, status=302, extra=[_flow_cookie(flow)])


async def oidc_callback(pages: LoginPages, ctx: RequestContext) -> None:
    oidc = pages.methods.oidc
    clear = cleared_cookie(FLOW_COOKIE)
    if oidc is None:
        await _failed(pages, ctx, "OIDC sign-in is not configured.", clear, status=404)
        return
    raw = cookie_value(ctx.request, FLOW_COOKIE)
    flow = Flow.decode(raw) if raw else None
    if flow is None:
        log.info("OIDC callback without a flow cookie from %s", ctx.request.peer[0])
        await _failed(pages, ctx, "This sign-in was not started here, or took too long.", clear)
        return
    issuer_error = ctx.param("error")
    if issuer_error:
        log.info("the OIDC issuer refused the sign-in: %s", issuer_error[:100])
        await _failed(
            pages, ctx, f"The identity provider refused the sign-in ({issuer_error[:60]}).", clear
        )
        return
    try:
        user, _ = await oidc.finish(
            flow,
            state=ctx.param("state"),
            code=ctx.param("code"),
            redirect_uri=_redirect_uri(pages, ctx),
        )
    except LoginFailed as exc:
        log.warning("OIDC sign-in from %s failed: %s", ctx.request.peer[0], exc)
        await _failed(pages, ctx, "Signing in with the identity provider failed.", clear)
        return
    # The session lives by kubegate's limits, not the ID token's (often minutes) lifetime.
    await pages.sign_in(ctx, user, "oidc", pages.then(flow.then), extra=[clear])


async def _failed(
    pages: LoginPages,
    ctx: RequestContext,
    message: str,
    clear: tuple[str, str],
    *,
    status: int = 401,
) -> None:
    ctx.audit_annotations["kubegate.io/login"] = "failed"
    ctx.audit_annotations["kubegate.io/login-method"] = "oidc"
    ctx.error = Unauthorized(message)
    await send_login_page(
        ctx.response,
        status,
        "Sign-in failed",
        message_body("Sign-in failed", message),
        extra=[("audit-id", ctx.audit_id), clear],
    )
