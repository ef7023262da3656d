"""Building kubegate's browser pages (and ``--apps-domain`` mode) from the settings."""

from __future__ import annotations

from kubegate.proxy.cache import ProxyCache
from kubegate.proxy.handler import ProxyHandler
from kubegate.server.app import APIServer
from kubegate.server.settings import ServeSettings
from kubegate.server.ui.app_codes import AppCodes
from kubegate.server.ui.apps import AppsConfig, AppSessions, AppsGateway
from kubegate.server.ui.index import ServiceIndex
from kubegate.server.ui.pages import BrowserPages


def apps_main_host(settings: ServeSettings, advertised_host: str) -> str:
    """Where app origins send browsers to sign in: the flag, else ``localhost`` for a
    ``*.localhost`` apps domain (both resolve to loopback in browsers), else the
    advertised host."""
    if settings.apps_main_host:
        return settings.apps_main_host
    if settings.apps_domain == "localhost" or settings.apps_domain.endswith(".localhost"):
        return "localhost"
    return f"[{advertised_host}]" if ":" in advertised_host else advertised_host


def serving_hosts_for_apps(settings: ServeSettings, advertised_host: str) -> tuple[str, ...]:
    """Extra names the serving certificate must cover in apps mode."""
    if not settings.apps_domain:
        return ()
    return (f"*.{settings.apps_domain}", apps_main_host(settings, advertised_host).strip("[]"))


def install_browser_ui(
    app: APIServer,
    settings: ServeSettings,
    cache: ProxyCache,
    proxy: ProxyHandler,
    *,
    advertised_host: str,
    sessions: AppSessions | None,
) -> None:
    """Set ``app.ui`` (the service index, /-/apps-auth) and, with --apps-domain, ``app.apps``."""
    gateway = None
    if settings.apps_domain:
        if sessions is None:
            raise ValueError("--apps-domain needs the session store (browser login)")
        gateway = AppsGateway(
            AppsConfig(settings.apps_domain, apps_main_host(settings, advertised_host)),
            authenticator=app.authenticator,
            authorizer=app.authorizer,
            sessions=sessions,
            codes=AppCodes(app.store),
            proxy=proxy,  # its kubegate-cookie rule covers the app cookies too
        )
    index = ServiceIndex(
        cache,
        app.authorizer,
        server_address=app.server_address,
        app_links=gateway.app_url_for if gateway is not None else None,
    )
    app.ui = BrowserPages(index, gateway)
    app.apps = gateway
