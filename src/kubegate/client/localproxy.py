"""``kubegate proxy``: a local HTTP port in front of the API server, like ``kubectl proxy``.

This module admits and routes; :mod:`kubegate.client.api_forwarder` forwards. One request:
the path is decoded and checked (400 malformed; an unclean path gets Go's 307 to its clean
form, or 403 when that form is filtered) -> the browser guard (403: DNS rebinding,
cross-site) -> the optional local token (401) -> routing as kubectl's ServeMux
(``--www-prefix`` static files, ``--api-prefix`` the API, else 404) -> kubectl's filter (403
``Forbidden``) -> the API server. In service mode every path goes to one Service's proxy.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from kubegate.client.api_forwarder import (
    TEXT_HEADERS,
    ApiForwarder,
    ApiServer,
    CredentialSource,
    resolve_api_server,
)
from kubegate.client.proxy_filters import (
    BrowserSignals,
    FilterRules,
    InvalidPath,
    browser_refusal,
    host_without_port,
    inspect_path,
    path_forms,
    redirect_body,
    strip_api_prefix,
    token_matches,
)
from kubegate.client.service_mode import (
    AT_ROOT_HEADER,
    ServiceTarget,
    root_header,
    upstream_path,
)
from kubegate.client.static_files import serve_static
from kubegate.core.forward_proxy import ForwardProxy
from kubegate.http import HTTPServer, Limits, Request, ResponseWriter

__all__ = ["LocalProxy", "LocalProxySettings", "run_local_proxy"]

log = logging.getLogger("kubegate.localproxy")

_TEXT: Final = TEXT_HEADERS
_VERDICT_CACHE: Final = 4096  # filter decisions remembered (the table is simply reset when full)


@dataclass(frozen=True, slots=True)
class LocalProxySettings:
    address: str = "127.0.0.1"
    port: int = 8001
    unix_socket: str | None = None
    filters: FilterRules | None = field(default_factory=FilterRules.from_flags)  # None: off
    api_prefix: str = "/"  # always ends with "/"
    www: Path | None = None
    www_prefix: str = "/static/"  # always ends with "/"
    append_server_path: bool = False
    keepalive: float = 0.0  # TCP keep-alive period of upgraded connections; 0: Go's 15 s
    token: str | None = None  # callers of the local port must present it
    service: ServiceTarget | None = None

    @property
    def local_only(self) -> bool:
        """Listening where only this machine can connect (loopback or a Unix socket)."""
        if self.unix_socket:
            return True
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            return self.address == "localhost"


class LocalProxy:
    """The handler and lifecycle of one local proxy port."""

    def __init__(
        self, settings: LocalProxySettings, api: ApiServer, credentials: CredentialSource
    ) -> None:
        self.settings = settings
        self.server = HTTPServer(self, Limits(keepalive_timeout=90.0))
        rewrite = None
        if settings.service is not None:
            service, authorities = settings.service, frozenset({api.host_header.lower()})

            def rewrite(name: str, value: str) -> str:  # Locations, cookies back to the root
                return root_header(name, value, service, authorities)

        self.forwarder = ApiForwarder(
            api,
            credentials,
            keepalive=settings.keepalive,
            closing=self.server.closing,
            rewrite=rewrite,
            request_headers=(AT_ROOT_HEADER,) if settings.service is not None else (),
        )
        self._vouched = settings.filters.vouches_for if settings.filters else _never
        self._local_only = settings.local_only
        self._verdicts: dict[tuple[str, str, str], bool] = {}

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen; returns the address as kubectl prints it (``127.0.0.1:8001`` or a path)."""
        self.forwarder.start()
        settings = self.settings
        if settings.unix_socket:
            return await self.server.start_unix(settings.unix_socket)
        host, port = (await self.server.start(settings.address, settings.port))[0]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def close(self, grace: float = 5.0) -> None:
        await self.server.shutdown(grace)
        await self.forwarder.close()
        if self.settings.unix_socket:
            with contextlib.suppress(OSError):
                os.unlink(self.settings.unix_socket)

    # -- one request ------------------------------------------------------------------------

    async def __call__(self, request: Request, response: ResponseWriter) -> None:
        settings = self.settings
        if request.path == "*":  # OPTIONS * (Go's server answers it)
            await response.send(200, [])
            return
        try:
            path = inspect_path(request.path)
        except InvalidPath:
            await response.send(400, [*_TEXT, ("Connection", "close")], b"400 Bad Request")
            return
        host_header = request.header("host") or ""
        if path.redirect is not None:
            if self._filtered_after_redirect(request.method, path.redirect, host_header):
                # Stricter than kubectl (which redirects first): `//api/…/exec` is refused
                # outright rather than sent to a URL that will be (security.md A33).
                await response.send(403, _TEXT, b"Forbidden\n")
            else:
                await _redirect(request, response, path.redirect)
            return
        upgrade = request.upgrade is not None
        refusal = browser_refusal(
            request.method,
            host_header,
            BrowserSignals(request.header("origin"), request.header("sec-fetch-site")),
            upgrade=upgrade,
            local_only=self._local_only,
            vouched=self._vouched,
        )
        if refusal is not None:
            log.info("refused %s %s: %s", request.method, request.path, refusal)
            await response.send(403, _TEXT, f"Forbidden: {refusal}\n".encode())
            return
        if settings.token is not None and not token_matches(settings.token, request.headers):
            headers = [*_TEXT, ("WWW-Authenticate", 'Bearer realm="kubegate proxy"')]
            await response.send(401, headers, b"Unauthorized\n")
            return
        if settings.service is not None:
            raw = upstream_path(settings.service, path.raw)
            decoded = upstream_path(settings.service, path.decoded)
        else:
            routed = await self._route(request, response, path.raw, path.decoded)
            if routed is None:
                return
            raw, decoded = routed
        if settings.filters is not None and not self._allowed(request.method, decoded, host_header):
            await response.send(403, _TEXT, b"Forbidden\n")  # kubectl's http.Error
            return
        if settings.append_server_path:
            raw = self.forwarder.api.base_path + raw
        target_path = f"{raw}?{request.query}" if request.query else raw
        await self.forwarder.forward(request, response, target_path)

    async def _route(
        self, request: Request, response: ResponseWriter, raw: str, decoded: str
    ) -> tuple[str, str] | None:
        """kubectl's ServeMux: the longest of the API and static prefixes wins; returns the
        API (raw, decoded) path, or None when the request was answered here."""
        settings = self.settings
        root = settings.www
        www = settings.www_prefix if root is not None else None
        api = settings.api_prefix
        for prefix in (www, api):
            if prefix is not None and prefix != "/" and decoded == prefix[:-1]:
                await _redirect(request, response, prefix)  # ServeMux's subtree redirect
                return None
        if root is not None and www is not None and decoded.startswith(www):
            if len(www) >= len(api) or not decoded.startswith(api):
                await serve_static(request, response, root, decoded[len(www) :])
                return None
        if decoded.startswith(api):
            stripped_raw = strip_api_prefix(raw, api)
            stripped = strip_api_prefix(decoded, api)
            if stripped_raw is not None and stripped is not None:
                return stripped_raw, stripped
        await response.send(404, _TEXT, b"404 page not found\n")
        return None

    def _filtered_after_redirect(self, method: str, clean_raw: str, host_header: str) -> bool:
        """Whether kubectl's filter would refuse the clean path a redirect leads to."""
        settings = self.settings
        if settings.filters is None:
            return False
        try:
            decoded = inspect_path(clean_raw).decoded
        except InvalidPath:
            return True
        if settings.service is not None:
            decoded = upstream_path(settings.service, decoded)
        else:
            stripped = strip_api_prefix(decoded, settings.api_prefix)
            www = settings.www_prefix if settings.www is not None else None
            if stripped is None or (www is not None and decoded.startswith(www)):
                return False  # not an API path: the redirect is harmless
            decoded = stripped
        return not self._allowed(method, decoded, host_header)

    def _allowed(self, method: str, decoded: str, host_header: str) -> bool:
        """kubectl's filter, memoised: most requests repeat a few (method, path, host)."""
        key = (method, decoded, host_header)
        verdict = self._verdicts.get(key)
        if verdict is None:
            assert self.settings.filters is not None
            verdict = self.settings.filters.allows(
                method, path_forms(decoded), host_without_port(host_header)
            )
            if len(self._verdicts) >= _VERDICT_CACHE:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict


async def _redirect(request: Request, response: ResponseWriter, path: str) -> None:
    """Go's ServeMux redirect: 307 and ``http.Redirect``'s small HTML body (GET, HEAD)."""
    location = f"{path}?{request.query}" if request.query else path
    if request.method in ("GET", "HEAD"):
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Location", location)]
        await response.send(307, headers, redirect_body(location))
    else:
        await response.send(307, [("Location", location)])


def _never(_: str) -> bool:
    return False


async def run_local_proxy(
    settings: LocalProxySettings,
    server_url: str,
    tls_server_name: str | None,
    credentials: CredentialSource,
    *,
    ready: Callable[[str], None],
    stopped: Awaitable[object],
    forward_proxy: ForwardProxy | None = None,
) -> None:
    """Resolve the API server, listen, call ``ready(address)``, serve until ``stopped``;
    every connection to the API server goes through ``forward_proxy`` when one is given."""
    api = await resolve_api_server(server_url, tls_server_name, forward_proxy)
    proxy = LocalProxy(settings, api, credentials)
    try:
        ready(await proxy.start())
        await stopped
    finally:
        await proxy.close()
