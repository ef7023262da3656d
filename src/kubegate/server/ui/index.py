"""The service index at ``/``: the browser's front page.

Any authenticated user may load it (kube would need a ``get`` on the non-resource path
``/``); what it lists is filtered by RBAC per proxy link (server/ui/access.py), so it shows
nothing a user could not already reach. API clients — anything not asking for HTML — keep
kube's ``{"paths": [...]}`` answer, served by the normal route with normal authorization.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kubegate.auth.types import Authorizer
from kubegate.http.types import Request
from kubegate.proxy.cache import ProxyCache
from kubegate.server.context import RequestContext
from kubegate.server.ui.access import ProxyAccess
from kubegate.server.ui.catalog import AppURL, build_catalog
from kubegate.server.ui.index_html import COPY_SCRIPT, render_index
from kubegate.server.ui.layout import send_page, wants_html

__all__ = ["ServiceIndex", "public_base_url", "wants_html"]

_HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_QUERY_MAX = 200


def public_base_url(request: Request, fallback: str) -> str:
    """``https://<host>`` as the browser addressed this server (a malformed Host header
    falls back to the server's own address)."""
    host = request.header("host") or ""
    if not _HOST_RE.fullmatch(host):
        host = fallback
    return f"https://{host}"


class ServiceIndex:
    def __init__(
        self,
        cache: ProxyCache,
        authorizer: Authorizer,
        *,
        server_address: str,
        app_links: Callable[[Request], AppURL] | None = None,
    ) -> None:
        self.cache = cache
        self.authorizer = authorizer
        self.server_address = server_address
        # With --apps-domain: per request (its port), the app origin URL of a service port.
        self.app_links = app_links

    async def serve(self, ctx: RequestContext) -> None:
        assert ctx.user is not None
        if not self.cache.synced:
            await self.cache.wait_synced(5.0)
        query = ctx.param("q")[:_QUERY_MAX]
        app_url = self.app_links(ctx.request) if self.app_links is not None else None
        catalog = build_catalog(
            self.cache, ProxyAccess(self.authorizer, ctx.user), query=query, app_url=app_url
        )
        base_url = public_base_url(ctx.request, self.server_address)
        body = render_index(catalog, base_url=base_url, query=query)
        await send_page(
            ctx.response,
            200,
            "Services",
            body,
            user=ctx.user.name,
            script=COPY_SCRIPT,
            extra=[("audit-id", ctx.audit_id), ("vary", "Accept")],
        )
