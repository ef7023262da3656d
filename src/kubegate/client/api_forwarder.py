"""Forwarding the local proxy's requests to the API server (``kubectl proxy``'s transport).

Headers: the client's, less hop-by-hop ones, ``X-Forwarded-*`` claims, the client's
``Authorization`` and the local token (core.proxy_headers), plus the kubeconfig's
credentials; ``Host`` is the API server's (kubectl's UseLocationHost) and ``X-Forwarded-For``
the client's address, as Go's ReverseProxy adds it. The API server's name is resolved once
(:func:`resolve_api_server`); every connection goes to that address, with the name as TLS
server name, over kubegate's keep-alive pool. With a forward proxy (kubeconfig ``proxy-url``
or ``HTTPS_PROXY``) every connection, upgrades included, is opened through the proxy, which
resolves the name. Bodies stream both ways with back-pressure;
WebSocket and SPDY upgrades are tunnelled after the API server's 101 (a fresh connection
each, TCP keep-alive set as ``--keepalive`` says).

Failures are kubectl's: 500 ``text/plain`` with the error text before the response started,
the connection cut short after. A client that disconnects cancels its exchange at once (Go's
request context does the same), so a quiet watch does not hold a connection for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlsplit

from kubegate.client.kubeconfig import KubeconfigError
from kubegate.client.proxy_filters import TOKEN_HEADER
from kubegate.core.forward_proxy import ForwardProxy
from kubegate.core.proxy_headers import (
    downstream_response_headers,
    upstream_request_headers,
    validate_upgrade,
)
from kubegate.core.proxy_target import ProxyError
from kubegate.http import (
    Headers,
    Request,
    ResponseWriter,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTarget,
)
from kubegate.http.relay import relay_response, relay_upgrade

__all__ = ["TEXT_HEADERS", "ApiForwarder", "ApiServer", "CredentialSource", "resolve_api_server"]

log = logging.getLogger("kubegate.localproxy")

TEXT_HEADERS: Final = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("X-Content-Type-Options", "nosniff"),
]  # Go's http.Error
_SMALL_BODY: Final = 64 * 1024  # request bodies up to this are read whole (then replayable)
_ANY_SIZE: Final = 1 << 62  # a complete answer is in memory already: one write, whatever its size
_TUNNEL_IDLE: Final = 24 * 3600.0  # exec sessions idle for long; TCP keep-alive finds the dead
_GO_DEFAULT_KEEPALIVE: Final = 15.0  # net.Dialer's default, what --keepalive=0 means


class CredentialSource(Protocol):
    """What the proxy needs of ``client.credentials.Credentials``."""

    async def auth_headers(self) -> list[tuple[str, str]]: ...

    def ssl_context(self) -> ssl.SSLContext | None: ...

    def presents_certificate(self) -> bool:
        """Whether connections present a client certificate (after ``auth_headers()``)."""
        ...

    def invalidate(self) -> None:
        """The API server answered 401: drop a cached exec-plugin credential."""


@dataclass(frozen=True, slots=True)
class ApiServer:
    """The API server, resolved once: connect to ``ip``, present and verify ``server_name``."""

    tls: bool
    host_header: str  # host[:port] as in the kubeconfig URL (kubectl's UseLocationHost)
    ip: str
    port: int
    server_name: str | None
    base_path: str  # the URL's path without a trailing slash ("" for none)
    via: ForwardProxy | None = None  # dial through this proxy; ``ip`` is then the host name


async def resolve_api_server(
    server_url: str, tls_server_name: str | None, proxy: ForwardProxy | None = None
) -> ApiServer:
    """Parse the kubeconfig ``server`` URL and resolve its host once (``OSError`` if not);
    through a ``proxy`` the host is left for the proxy to resolve."""
    url = urlsplit(server_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"unsupported server URL {server_url!r}")
    tls = url.scheme == "https"
    port = url.port or (443 if tls else 80)
    host = url.hostname
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        if proxy is not None:
            ip = host
        else:
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
        via=proxy,
    )


class ApiForwarder:
    """Sends requests to one API server with one set of credentials."""

    def __init__(
        self,
        api: ApiServer,
        credentials: CredentialSource,
        *,
        keepalive: float,
        closing: asyncio.Event,
        rewrite: Callable[[str, str], str] | None = None,
        request_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """``keepalive``: TCP keep-alive period of tunnels (0: Go's 15 s); ``closing`` ends
        tunnels at shutdown; ``rewrite(name, value)`` adjusts response headers and
        ``request_headers`` are added to every request (service mode)."""
        self.api = api
        self.credentials = credentials
        self.keepalive = keepalive or _GO_DEFAULT_KEEPALIVE
        self.closing = closing
        self.rewrite = rewrite
        self.request_headers = request_headers
        self.pool: UpstreamPool | None = None
        self._context: ssl.SSLContext | None = None
        self._target = UpstreamTarget(api.ip, api.port, api.tls, api.server_name, None, api.via)

    def start(self) -> None:
        self.pool = UpstreamPool(
            max_connections_per_target=1024,
            connect_timeout=30.0,  # kubectl's dial timeout
            response_header_timeout=3600.0,  # kubectl has none; a long poll may take this long
            idle_timeout=4 * 3600.0,  # a quiet watch is not a dead one
        )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def _upstream_headers(self, request: Request, upgrade: bool) -> list[tuple[str, str]]:
        headers = upstream_request_headers(
            request.headers,
            host_header=self.api.host_header,
            forwarded_for=request.peer[0],  # Go's ReverseProxy adds it too
            forwarded_host="",
            forwarded_proto="",
            forwarded_uri="",
            forwarded_prefix="",
            kubegate_cookies=frozenset(),
            is_upgrade=upgrade,
            extra_strip=frozenset({TOKEN_HEADER}),
        )
        # kubectl forwards a caller's Impersonate-* headers (client-go's impersonation
        # wrapper steps aside); the API server still authorizes them for the kubeconfig user.
        headers.extend((n, v) for n, v in request.headers if n.startswith("impersonate-"))
        # X-Kubegate-Rewrite is stripped above (a backend never sees it); kubectl would pass a
        # caller's on to the API server, so it goes on unless this mode sets its own.
        headers.extend(
            self.request_headers
            or [(n, v) for n, v in request.headers if n == "x-kubegate-rewrite"]
        )
        credentials = await self.credentials.auth_headers()
        basic = any(
            n.lower() == "authorization" and v[:6].lower() == "basic " for n, v in credentials
        )
        if basic or self.credentials.presents_certificate():
            # This proxy already judged the browser (proxy_filters.browser_refusal) and the
            # basic credentials or client certificate are the kubeconfig's, not ones a browser
            # attached by itself: kubegate serve must not take them for ambient browser
            # credentials (its CSRF and session-isolation rules key on Origin and Sec-Fetch-*).
            headers = [
                (n, v) for n, v in headers if n != "origin" and not n.startswith("sec-fetch-")
            ]
        headers.extend(credentials)
        return headers

    def _upstream_target(self) -> UpstreamTarget:
        context = self.credentials.ssl_context()  # the same object while nothing changed
        if context is not self._context:
            self._context = context
            api = self.api
            self._target = UpstreamTarget(
                api.ip, api.port, api.tls, api.server_name, context, api.via
            )
        return self._target

    async def forward(self, request: Request, response: ResponseWriter, target_path: str) -> None:
        """Forward ``request`` to ``target_path`` (raw path and query) and relay the answer."""
        try:
            upgrade = validate_upgrade(request.headers) if request.upgrade else None
            headers = await self._upstream_headers(request, upgrade is not None)
        except ProxyError as exc:
            await response.send(400, TEXT_HEADERS, f"{exc.message}\n".encode())
            return
        except KubeconfigError as exc:  # a token file gone, an exec plugin failing
            log.error("Error while proxying request: %s", exc)
            await response.send(500, TEXT_HEADERS, f"{exc}\n".encode())
            return
        target = self._upstream_target()
        if upgrade is not None:
            await self._upgrade(request, response, target, target_path, headers)
            return
        assert self.pool is not None
        with _cancelled_when_client_leaves(response):
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
                await response.send(500, TEXT_HEADERS, f"{exc.message}\n".encode())
                return
            if upstream.status == 401:
                self.credentials.invalidate()  # client-go's exec authenticator does the same
            # All of a complete answer is here already (most API answers): one write, no chunking.
            await relay_response(
                response,
                upstream,
                self._relayed_headers(upstream),
                head=request.method == "HEAD",
                whole_max=_ANY_SIZE,
                log=log,
                upstream_name="the API server",
            )

    def _relayed_headers(self, upstream: UpstreamResponse) -> Headers:
        headers = _downstream_headers(upstream.headers, upgrade=False)
        rewrite = self.rewrite
        if rewrite is not None:
            headers = [(name, rewrite(name.lower(), value)) for name, value in headers]
        return headers

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
            with _cancelled_when_client_leaves(response):
                result = await self.pool.upgrade(target, request.method, target_path, headers)
        except UpstreamError as exc:
            log.error("Error while proxying request: %s", exc)
            await response.send(500, TEXT_HEADERS, f"{exc.message}\n".encode())
            return
        if result.transport is not None:  # a 101: this is the tunnel's API server half
            _set_tcp_keepalive(result.transport, self.keepalive)
        await relay_upgrade(
            response,
            result,
            _downstream_headers,
            idle_timeout=_TUNNEL_IDLE,
            closing=self.closing,
            close_field=("Connection", "close"),
        )


@contextlib.contextmanager
def _cancelled_when_client_leaves(response: ResponseWriter) -> Iterator[None]:
    """Cancel the current task if the client disconnects inside the block; that surfaces as
    ConnectionResetError (Go cancels the backend request with the client's context)."""
    task = asyncio.current_task()
    assert task is not None
    gone = asyncio.ensure_future(response.client_gone())  # a Future already: no new task
    active, fired = True, False

    def on_gone(_: object) -> None:
        nonlocal fired
        if active and not fired:
            fired = True
            task.cancel()

    gone.add_done_callback(on_gone)
    try:
        yield
    except asyncio.CancelledError:
        if fired and task.uncancel() == 0:
            raise ConnectionResetError("client disconnected") from None
        raise
    finally:
        active = False  # a callback already scheduled must not cancel what follows
        gone.remove_done_callback(on_gone)
        gone.cancel()


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


def _set_tcp_keepalive(transport: asyncio.BaseTransport, period: float) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    seconds = max(1, int(period))
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, seconds)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, seconds)


def _downstream_headers(headers: Headers, *, upgrade: bool) -> Headers:
    """The API server's response fields as kubectl proxy relays them."""
    return _go_names(downstream_response_headers(headers, is_upgrade=upgrade))


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
