"""Building the proxy handler from settings (address policy, upstream TLS)."""

from __future__ import annotations

import asyncio
import ipaddress

from kubegate.http.client import tls_client_context
from kubegate.http.pool import UpstreamPool
from kubegate.proxy.cache import ProxyCache
from kubegate.proxy.handler import ProxyHandler, ProxySettings
from kubegate.proxy.resolve import AddressPolicy, Resolver
from kubegate.proxy.trust import BackendTrust
from kubegate.server.settings import ServeSettings
from kubegate.store.base import Store

# --demo's backends listen on loopback; only then is loopback a permitted destination
# without the operator saying so.
DEMO_ALLOW = ("127.0.0.1/32",)


def build_proxy(
    settings: ServeSettings,
    store: Store,
    cache: ProxyCache,
    pool: UpstreamPool,
    closing: asyncio.Event,
    *,
    listen: tuple[tuple[str, int], ...],
) -> ProxyHandler:
    cidrs = list(settings.proxy_allow_cidrs) + (list(DEMO_ALLOW) if settings.demo else [])
    allow = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    ca_context = None
    if settings.proxy_ca_file is not None:
        ca_context = tls_client_context(settings.proxy_ca_file.read_text())
    resolver = Resolver(cache, AddressPolicy(allow=allow, listen=listen))
    trust = BackendTrust(store, ca_context)
    return ProxyHandler(resolver, pool, ProxySettings(), closing, trust)
