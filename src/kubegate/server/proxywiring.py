"""Building the proxy handler from settings (address policy, upstream TLS, kubegate's own
cookies)."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import TYPE_CHECKING

from kubegate.auth.session_authn import COOKIE_NAME as SESSION_COOKIE
from kubegate.http.client import tls_client_context
from kubegate.http.pool import UpstreamPool
from kubegate.proxy.cache import ProxyCache
from kubegate.proxy.handler import ProxyHandler, ProxySettings
from kubegate.proxy.resolve import AddressPolicy, Resolver
from kubegate.proxy.rewrite import RewriteSettings
from kubegate.proxy.shim_text import load_shim, load_worker_shim
from kubegate.proxy.trust import BackendTrust
from kubegate.server.login_oidc import FLOW_COOKIE as OIDC_FLOW_COOKIE
from kubegate.server.mirror_settings import VIA_APISERVER
from kubegate.server.settings import ServeSettings
from kubegate.server.ui.apps import APP_COOKIE, STATE_COOKIE
from kubegate.store.base import Store

if TYPE_CHECKING:
    from kubegate.server.mirror import Mirror
    from kubegate.server.mirror_proxy import UpstreamAPIProxy

# --demo's backends listen on loopback; only then is loopback a permitted destination
# without the operator saying so.
DEMO_ALLOW = ("127.0.0.1/32",)

# The cookies kubegate itself sets. The proxy takes them out of every request to a backend
# (they are credentials, or bind a sign-in to the browser) and drops a backend's
# Set-Cookie for any of them (a backend must not sign the browser in or out, or plant an
# OIDC flow or an app sign-in state) — on the main origin and on app origins alike.
KUBEGATE_COOKIES = frozenset({SESSION_COOKIE, OIDC_FLOW_COOKIE, APP_COOKIE, STATE_COOKIE})


def build_proxy(
    settings: ServeSettings,
    store: Store,
    cache: ProxyCache,
    pool: UpstreamPool,
    closing: asyncio.Event,
    *,
    listen: tuple[tuple[str, int], ...],
    mirror: Mirror | None = None,
) -> ProxyHandler | UpstreamAPIProxy:
    """The proxy subresources' handler: the local proxy, resolving targets from the
    watch-fed cache — or, for a mirror with ``--mirror-proxy via-apiserver``, forwarding
    to the upstream API server's own proxy as the authenticated user."""
    if mirror is not None and mirror.settings.proxy_mode == VIA_APISERVER:
        from kubegate.server.mirror_proxy import UpstreamAPIProxy

        return UpstreamAPIProxy(
            mirror.settings, mirror.credentials, pool, closing, kubegate_cookies=KUBEGATE_COOKIES
        )
    cidrs = list(settings.proxy_allow_cidrs) + (list(DEMO_ALLOW) if settings.demo else [])
    allow = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    ca_context = None
    if settings.proxy_ca_file is not None:
        ca_context = tls_client_context(settings.proxy_ca_file.read_text())
    resolver = Resolver(cache, AddressPolicy(allow=allow, listen=listen))
    trust = BackendTrust(store, ca_context)
    rewrite = RewriteSettings(
        max_bytes=settings.proxy_rewrite_max_bytes,
        shim_js=load_shim(),
        worker_shim_js=load_worker_shim(),
        memo_bytes=settings.proxy_rewrite_memo_bytes,
    )
    proxy_settings = ProxySettings(kubegate_cookies=KUBEGATE_COOKIES, rewrite=rewrite)
    return ProxyHandler(resolver, pool, proxy_settings, closing, trust)
