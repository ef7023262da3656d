"""The filter step for credentials a browser sends by itself (the session cookie, basic auth,
a client certificate installed in the browser).

Runs right after authentication, only for requests the session, basic or x509 authenticator
marked (``request.state[BROWSER_CREDENTIAL]``; x509 only on requests with ``Sec-Fetch-*``
headers), so bearer-token and kubectl client-cert requests pay nothing. Two checks, in this
order:

1. **CSRF / CSWSH** (core/csrf.py): state-changing requests and every upgrade need a
   same-origin ``Origin`` or ``Sec-Fetch-Site: same-origin|none``; else 403.
2. **Ambient credentials** (core/browser_access.py): the session cookie, and basic
   credentials or a client certificate on a request with ``Sec-Fetch-*`` headers (a browser
   attached them), mark the request ``ctx.ambient``; such requests reach only proxy
   subresources (``nodes/proxy``, the kubelet's API, only to read) and kubegate's pages, and
   may not impersonate. Scripts of a proxied page run on this origin and could otherwise use
   the user's identity on the whole API.
"""

from __future__ import annotations

from kubegate.core import csrf
from kubegate.core.browser_access import ambient_may_reach
from kubegate.errors import Forbidden
from kubegate.http.types import Request
from kubegate.server.context import RequestContext

AMBIENT_REFUSAL = (
    "browser sessions cannot use the API: a session cookie (or basic credentials a browser "
    "sent by itself) reaches only services/pods/nodes proxy paths and kubegate's pages; "
    "use a bearer token (kubectl) or curl-style basic auth for the API"
)
AMBIENT_IMPERSONATION = "browser sessions cannot impersonate"


def origin_refusal(request: Request, *, browser_only: bool) -> str | None:
    """core/csrf.py's verdict on this request (None: it may go on)."""
    origin = site = None
    fetch_metadata = False
    for name, value in request.headers:
        if name == "origin":
            if origin is None:
                origin = value
        elif name.startswith("sec-fetch-"):
            fetch_metadata = True
            if name == "sec-fetch-site" and site is None:
                site = value
    return csrf.refusal(
        request.method,
        upgrade=request.upgrade is not None,
        origin=origin,
        fetch_site=site,
        fetch_metadata=fetch_metadata,
        own=csrf.request_origin(request.header("host"), request.tls),
        browser_only=browser_only,
    )


def guard_browser_credential(ctx: RequestContext, credential: str) -> None:
    """Raise Forbidden when the request must not go on; set ``ctx.ambient``."""
    request = ctx.request
    refused = origin_refusal(request, browser_only=credential == "session")
    if refused is not None:
        raise Forbidden(refused)
    ambient = credential == "session" or any(
        name.startswith("sec-fetch-") for name, _ in request.headers
    )
    if not ambient:
        return
    ctx.ambient = True
    if not ambient_may_reach(ctx.info, upgrade=request.upgrade is not None):
        raise Forbidden(AMBIENT_REFUSAL)
    if any(name.startswith("impersonate-") for name, _ in request.headers):
        raise Forbidden(AMBIENT_IMPERSONATION)
