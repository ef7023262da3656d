"""The session cookie as a credential: ``__Host-kubegate_session`` -> the session's user.

A request without the cookie is not ours (None: the next authenticator may know it). A
cookie naming no live session is a 401 — a presented credential never falls through to
anonymous — which the app turns into a redirect to the login page for a browser asking
for HTML.

The ``__Host-`` prefix makes browsers accept the cookie only with ``Secure``, ``Path=/`` and
no ``Domain``: a sibling host (an app origin under ``--apps-domain``, or any other subdomain
of the same site) cannot plant a ``Domain=`` cookie of that name on kubegate's host
("cookie tossing", which would sign the browser in to a session of the attacker's choosing),
and a page's script cannot add one with a longer ``Path``. Should the Cookie header still
carry the name more than once, the last value is used.

A request the cookie authenticated carries the session's store name (never the secret) in
``request.state[SESSION_NAME]``: the app sign-in (server/ui/apps.py) links the app sessions
it makes to it, so they end with it.
"""

from __future__ import annotations

from kubegate.auth.sessions import SessionStore, session_name
from kubegate.auth.types import BROWSER_CREDENTIAL, UserInfo
from kubegate.errors import Unauthorized
from kubegate.http.types import Request

COOKIE_NAME = "__Host-kubegate_session"
SESSION_NAME = "kubegate.session_name"  # request.state key: see the module docstring


def cookie_value(request: Request, name: str) -> str | None:
    """The last value of cookie ``name`` in the request's Cookie headers, or None."""
    found = None
    for header, value in request.headers:
        if header != "cookie":
            continue
        for pair in value.split(";"):
            key, eq, cookie = pair.partition("=")
            if eq and key.strip() == name:
                found = cookie.strip().strip('"')
    return found


class SessionAuthenticator:
    """Authenticates requests by the session cookie (see the module docstring)."""

    def __init__(
        self, sessions: SessionStore, *, cookie_name: str = COOKIE_NAME, scope: str = ""
    ) -> None:
        self.sessions = sessions
        self.cookie_name = cookie_name
        self.scope = scope

    def authenticate(self, request: Request) -> UserInfo | None:
        secret = cookie_value(request, self.cookie_name)
        if secret is None:
            return None
        session = self.sessions.lookup(secret, scope=self.scope)
        if session is None:
            raise Unauthorized("Unauthorized")
        request.state[BROWSER_CREDENTIAL] = "session"
        request.state[SESSION_NAME] = session_name(secret)
        return session.user


def set_cookie(
    name: str, value: str, *, path: str = "/", max_age: int | None = None
) -> tuple[str, str]:
    """A ``Set-Cookie`` header for one of kubegate's cookies: host-only (no ``Domain``),
    HttpOnly, Secure (kubegate serve is always TLS), SameSite=Lax; without ``max_age`` it
    lasts until the browser closes. (Exactly what a ``__Host-`` name requires with the
    default ``path``.)"""
    lifetime = f"; Max-Age={max_age}" if max_age is not None else ""
    return ("set-cookie", f"{name}={value}; Path={path}{lifetime}; HttpOnly; Secure; SameSite=Lax")


def cleared_cookie(name: str, path: str = "/") -> tuple[str, str]:
    """The ``Set-Cookie`` header that removes cookie ``name`` (set with ``path``)."""
    return set_cookie(name, "", path=path, max_age=0)
