"""``kubegate proxy``: a local HTTP port in front of the API server, like ``kubectl proxy``.

One request: the path is decoded and checked (400 malformed, 307 to the clean path) -> the
browser guard (403: DNS rebinding, cross-site) -> the optional local token (401) -> routing
(``--www-prefix`` static files, ``--api-prefix`` the API, else 404) -> kubectl's filter (403
``Forbidden``) -> forwarding: the client's headers less hop-by-hop, forwarding claims and its
``Authorization`` (core.proxy_headers), plus the kubeconfig's credentials, over a keep-alive
pool to the API server's address resolved once at start (its name stays the TLS server name);
bodies stream both ways with back-pressure, WebSocket and SPDY upgrades are tunnelled after
the API server's 101. In service mode every path goes to one Service's proxy instead.

Failures reaching the API server are kubectl's: 500 ``text/plain`` with the error text.
A client that disconnects cancels its exchange with the API server at once (Go's request
context does the same), so a quiet watch does not hold an upstream connection for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import urlsplit

from kubegate.client.kubeconfig import KubeconfigError
from kubegate.client.proxy_filters import (
    TOKEN_HEADER,
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
from kubegate.client.service_mode import ServiceTarget, root_location, upstream_path
from kubegate.client.static_files import serve_static
from kubegate.core.proxy_headers import (
    downstream_response_headers,
    upstream_request_headers,
    validate_upgrade,
)
from kubegate.core.proxy_target import ProxyError
from kubegate.http import (
    HTTPServer,
    Limits,
    Request,
    ResponseWriter,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTarget,
    tunnel,
)

__all__ = [
    "ApiServer",
    "CredentialSource",
    "LocalProxy",
    "LocalProxySettings",
    "resolve_api_server",
    "run_local_proxy",
]

log = logging.getLogger("kubegate.localproxy")

_TEXT: Final = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("X-Content-Type-Options", "nosniff"),
]
_SMALL_BODY: Final = 64 * 1024  # request bodies up to this are read whole (then replayable)
_TUNNEL_IDLE: Final = (
    24 * 3600.0
)  # an exec session may idle for long; TCP keep-alive finds the dead
_VERDICT_CACHE: Final = 4096  # filter decisions remembered (the table is simply reset when full)
_GO_DEFAULT_KEEPALIVE: Final = 15.0  # net.Dialer's default, what --keepalive=0 means


class CredentialSource(Protocol):
    """What the proxy needs of ``client.credentials.Credentials``."""

    async def auth_headers(self) -> list[tuple[str, str]]: ...

    def ssl_context(self) -> ssl.SSLContext | None: ...


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


@dataclass(frozen=True, slots=True)
class ApiServer:
    """The API server, resolved once: connect to ``ip``, present and verify ``server_name``."""

    tls: bool
    host_header: str  # host[:port] as in the kubeconfig URL (kubectl's UseLocationHost)
    ip: str
    port: int
    server_name: str | None
    base_path: str  # the URL's path without a trailing slash ("" for none)


async def resolve_api_server(server_url: str, tls_server_name: str | None) -> ApiServer:
    """Parse the kubeconfig ``server`` URL and resolve its host once (``OSError`` if not)."""
    url = urlsplit(server_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"unsupported server URL {server_url!r}")
    tls = url.scheme == "https"
    port = url.port or (443 if tls else 80)
    host = url.hostname
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        ip = str(infos[0][4][0])
    authority = url.netloc.rpartition("@")[2]
    return ApiServer(
        tls=tls,
        host_header=authority,
        ip=ip,
        port=port,
        server_name=(tls_server_name or host) if tls else None,
        base_path=url.path.rstrip("/"),
    )


class LocalProxy:
    """The handler and lifecycle of one local proxy port."""

    def __init__(
        self, settings: LocalProxySettings, api: ApiServer, credentials: CredentialSource
    ) -> None:
        self.settings = settings
        self.api = api
        self.credentials = credentials
        self.server = HTTPServer(self, Limits(keepalive_timeout=90.0))
        self.pool: UpstreamPool | None = None
        self._context: ssl.SSLContext | None = None
        self._target = UpstreamTarget(api.ip, api.port, api.tls, api.server_name, None)
        self._api_authorities = frozenset({api.host_header.lower()})
        self._vouched = settings.filters.vouches_for if settings.filters else _never
        self._local_only = settings.local_only
        self._verdicts: dict[tuple[str, str, str], bool] = {}

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen; returns the address as kubectl prints it (``127.0.0.1:8001`` or a path)."""
        self.pool = UpstreamPool(
            max_connections_per_target=1024,
            connect_timeout=30.0,  # kubectl's dial timeout
            response_header_timeout=3600.0,  # kubectl has none; a long poll may take this long
            idle_timeout=4 * 3600.0,  # a quiet watch is not a dead one
        )
        settings = self.settings
        if settings.unix_socket:
            return await self.server.start_unix(settings.unix_socket)
        host, port = (await self.server.start(settings.address, settings.port))[0]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def close(self, grace: float = 5.0) -> None:
        await self.server.shutdown(grace)
        if self.pool is not None:
            await self.pool.close()
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
            raw = self.api.base_path + raw
        target_path = f"{raw}?{request.query}" if request.query else raw
        await self._forward(request, response, target_path)

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

    # -- forwarding -------------------------------------------------------------------------

    async def _upstream_headers(self, request: Request, upgrade: bool) -> list[tuple[str, str]]:
        headers = upstream_request_headers(
            request.headers,
            host_header=self.api.host_header,
            forwarded_for=request.peer[0],  # Go's ReverseProxy adds it too
            forwarded_host="",
            forwarded_proto="",
            forwarded_uri="",
            forwarded_prefix="",
            session_cookie=None,
            is_upgrade=upgrade,
            extra_strip=frozenset({TOKEN_HEADER}),
        )
        # kubectl forwards a caller's Impersonate-* headers (client-go's impersonation
        # wrapper steps aside); the API server still authorizes them for the kubeconfig user.
        headers.extend((n, v) for n, v in request.headers if n.startswith("impersonate-"))
        headers.extend(await self.credentials.auth_headers())
        return headers

    def _upstream_target(self) -> UpstreamTarget:
        context = self.credentials.ssl_context()  # the same object while nothing changed
        if context is not self._context:
            self._context = context
            api = self.api
            self._target = UpstreamTarget(api.ip, api.port, api.tls, api.server_name, context)
        return self._target

    async def _forward(self, request: Request, response: ResponseWriter, target_path: str) -> None:
        try:
            upgrade = validate_upgrade(request.headers) if request.upgrade else None
            headers = await self._upstream_headers(request, upgrade is not None)
        except ProxyError as exc:
            await response.send(400, _TEXT, f"{exc.message}\n".encode())
            return
        except KubeconfigError as exc:  # a token file gone, an exec plugin failing
            log.error("Error while proxying request: %s", exc)
            await response.send(500, _TEXT, f"{exc}\n".encode())
            return
        target = self._upstream_target()
        if upgrade is not None:
            await self._upgrade(request, response, target, target_path, headers)
            return
        task = asyncio.current_task()
        assert task is not None and self.pool is not None
        gone = asyncio.ensure_future(response.client_gone())  # a Future already: no task
        cancelled_for_gone = False

        def on_gone(_: object) -> None:
            nonlocal cancelled_for_gone
            if not cancelled_for_gone:
                cancelled_for_gone = True
                task.cancel()

        gone.add_done_callback(on_gone)
        try:
            body, length = await _request_body(request)
            try:
                upstream = await self.pool.request(
                    target,
                    request.method,
                    target_path,
                    headers,
                    body,
                    content_length=length,
                    expect_continue=(request.header("expect") or "").lower() == "100-continue",
                )
            except UpstreamError as exc:
                log.error("Error while proxying request: %s", exc)
                await response.send(500, _TEXT, f"{exc.message}\n".encode())
                return
            await self._relay(request, response, upstream)
        except asyncio.CancelledError:
            if cancelled_for_gone and task.uncancel() == 0:
                raise ConnectionResetError("client disconnected") from None
            raise
        finally:
            gone.remove_done_callback(on_gone)
            gone.cancel()

    async def _relay(
        self, request: Request, response: ResponseWriter, upstream: UpstreamResponse
    ) -> None:
        headers = _go_names(downstream_response_headers(upstream.headers, is_upgrade=False))
        service = self.settings.service
        if service is not None:
            authorities = self._api_authorities
            headers = [(n, root_location(n.lower(), v, service, authorities)) for n, v in headers]
        status = upstream.status
        try:
            if upstream.complete and request.method != "HEAD" and status not in (204, 304):
                # All of it is here already (most API answers): one write, no chunking.
                await response.send(status, headers, await upstream.read(1 << 62))
                return
            await response.start(status, headers, length=upstream.length)
            async for piece in upstream:
                await response.write(piece)
            await response.end()
        except UpstreamError as exc:
            # Started: the only honest signal left is cutting the response short.
            log.info("the API server failed mid-response: %s", exc)
            raise ConnectionAbortedError(str(exc)) from exc
        finally:
            await upstream.aclose()

    async def _upgrade(
        self,
        request: Request,
        response: ResponseWriter,
        target: UpstreamTarget,
        target_path: str,
        headers: list[tuple[str, str]],
    ) -> None:
        assert self.pool is not None
        try:
            result = await self.pool.upgrade(target, request.method, target_path, headers)
        except UpstreamError as exc:
            log.error("Error while proxying request: %s", exc)
            await response.send(500, _TEXT, f"{exc.message}\n".encode())
            return
        if result.status != 101 or result.transport is None:
            out = _go_names(downstream_response_headers(result.headers, is_upgrade=False))
            await response.send(result.status, [*out, ("Connection", "close")], result.body)
            return
        upstream_transport = result.transport
        try:
            headers = downstream_response_headers(result.headers, is_upgrade=True)
            await response.start(101, _go_names(headers))
            client_transport, client_buffered = await response.detach()
        except BaseException:
            upstream_transport.close()
            raise
        _set_tcp_keepalive(upstream_transport, self.settings.keepalive or _GO_DEFAULT_KEEPALIVE)
        await tunnel(
            client_transport,
            client_buffered,
            upstream_transport,
            result.buffered,
            idle_timeout=_TUNNEL_IDLE,
            closing=self.server.closing,
        )


async def _request_body(
    request: Request,
) -> tuple[bytes | AsyncIterator[bytes] | None, int | None]:
    """The body to forward: None, the whole of a small one (replayable on a stale
    connection), or the stream itself with its length if known."""
    body = request.body
    length = body.length
    chunked = request.header("transfer-encoding") is not None
    if not length and not chunked:
        return None, None
    if length is not None and length <= _SMALL_BODY and request.header("expect") is None:
        return await body.read(length), length
    return body.__aiter__(), length


async def _redirect(request: Request, response: ResponseWriter, path: str) -> None:
    """Go's ServeMux redirect: 307 and ``http.Redirect``'s small HTML body (GET, HEAD)."""
    location = f"{path}?{request.query}" if request.query else path
    if request.method in ("GET", "HEAD"):
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Location", location)]
        await response.send(307, headers, redirect_body(location))
    else:
        await response.send(307, [("Location", location)])


def _set_tcp_keepalive(transport: asyncio.BaseTransport, period: float) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    seconds = max(1, int(period))
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, seconds)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, seconds)


_GO_NAMES: dict[str, str] = {}


def _go_names(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header names as Go's ReverseProxy writes them (``content-type`` -> ``Content-Type``);
    case does not matter in HTTP, but scripts grepping kubectl proxy's output may care."""
    names = _GO_NAMES
    out = []
    for name, value in headers:
        canonical = names.get(name)
        if canonical is None:
            canonical = "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))
            if len(names) < 1024:
                names[name] = canonical
        out.append((canonical, value))
    return out


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
) -> None:
    """Resolve the API server, listen, call ``ready(address)``, serve until ``stopped``."""
    api = await resolve_api_server(server_url, tls_server_name)
    proxy = LocalProxy(settings, api, credentials)
    try:
        ready(await proxy.start())
        await stopped
    finally:
        await proxy.close()
