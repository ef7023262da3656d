"""Which requests on the main origin are kubegate's own browser pages (owned by this
package): the service index (``GET /`` asking for HTML) and, with ``--apps-domain``, the
``/-/apps-auth`` step of the app sign-in. They need an authenticated user but no RBAC rule
of their own: what they show or grant is checked per proxy target."""

from __future__ import annotations

from kubegate.http.types import Request
from kubegate.server.context import RequestContext
from kubegate.server.ui.apps import AUTH_PATH, AppsGateway
from kubegate.server.ui.index import ServiceIndex
from kubegate.server.ui.layout import wants_html


class BrowserPages:
    def __init__(self, index: ServiceIndex, apps: AppsGateway | None = None) -> None:
        self.index = index
        self.apps = apps

    def claims(self, request: Request) -> bool:
        if request.path == "/":
            return wants_html(request)
        return self.apps is not None and request.path == AUTH_PATH

    async def serve(self, ctx: RequestContext) -> None:
        if ctx.request.path == AUTH_PATH and self.apps is not None:
            await self.apps.authorize_app(ctx)
            return
        await self.index.serve(ctx)
