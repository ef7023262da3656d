"""Opening an upstream connection through a forward proxy (HTTP CONNECT, HTTPS, SOCKS5).

The pool calls :func:`open_via` instead of dialing when an ``UpstreamTarget`` has ``via``
set; it gets back a plain transport to the target (TLS to the target, if any, is then
started by the pool as for a direct connection, so HTTPS proxies carry TLS inside TLS).
The protocols are python-socks': ``http`` and ``socks5`` proxies hand over a connected
socket; an ``https`` proxy is reached over TLS first (verified with the target's own
context, as Go's transport reuses ``TLSClientConfig`` for the proxy) and hands over its
TLS transport. The target's host is sent to the proxy as given (a name is resolved by the
proxy, as kubectl does: ``CONNECT host:port``, SOCKS5 with a domain name).

Every failure is an ``UpstreamError("connect", ...)`` naming the proxy (never its
credentials): ``proxyconnect tcp: dial tcp PROXY: ...`` when the proxy cannot be reached,
else what the proxy answered (``407 Proxy Authentication Required``, a SOCKS reply).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
from python_socks.async_.asyncio import Proxy as SocketProxy
from python_socks.async_.asyncio.v2 import Proxy as StreamProxy

from kubegate.core.forward_proxy import ForwardProxy
from kubegate.http.client import UpstreamError

if TYPE_CHECKING:
    from kubegate.http.client import UpstreamTarget

__all__ = ["open_via"]

_TYPES = {"http": ProxyType.HTTP, "https": ProxyType.HTTP, "socks5": ProxyType.SOCKS5}


async def open_via(
    proxy: ForwardProxy,
    loop: asyncio.AbstractEventLoop,
    protocol_factory: Callable[[], asyncio.Protocol],
    target: UpstreamTarget,
    deadline: float,
) -> asyncio.Transport:
    """A transport to ``target.ip:target.port`` (``ip`` may be a name) through ``proxy``,
    with ``protocol_factory()``'s protocol attached; gives up at ``deadline``."""
    if proxy.scheme == "socks5":
        what = f"socks connect tcp {proxy.address}->{target.address}"  # Go's wording
    else:
        what = f"proxy {proxy.display} CONNECT {target.address}"
    seconds = max(deadline - loop.time(), 0.001)
    try:
        async with asyncio.timeout_at(deadline):
            if proxy.scheme == "https":
                return await _through_tls_proxy(proxy, protocol_factory, target, seconds)
            sock = await _socket_proxy(proxy, loop).connect(target.ip, target.port, timeout=seconds)
            try:
                transport, _ = await loop.create_connection(protocol_factory, sock=sock)
            except BaseException:
                sock.close()
                raise
            return transport
    except (TimeoutError, ProxyTimeoutError):
        raise UpstreamError("connect", f"{what}: i/o timeout") from None
    except ProxyConnectionError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else "unreachable"
        raise UpstreamError(
            "connect", f"proxyconnect tcp: dial tcp {proxy.address}: connect: {reason}"
        ) from exc
    except ProxyError as exc:
        raise UpstreamError("connect", f"{what}: {_explain(proxy, exc)}") from exc
    except ssl.SSLCertVerificationError as exc:
        message = f"tls: failed to verify the proxy's certificate: {exc.verify_message}"
        raise UpstreamError("connect", f"{what}: {message}") from exc
    except (OSError, ssl.SSLError, UnicodeError) as exc:
        raise UpstreamError("connect", f"{what}: {exc}") from exc


def _socket_proxy(proxy: ForwardProxy, loop: asyncio.AbstractEventLoop) -> SocketProxy:
    username, password = _credentials(proxy)
    return SocketProxy(
        _TYPES[proxy.scheme], proxy.host, proxy.port, username, password, rdns=True, loop=loop
    )


async def _through_tls_proxy(
    proxy: ForwardProxy,
    protocol_factory: Callable[[], asyncio.Protocol],
    target: UpstreamTarget,
    seconds: float,
) -> asyncio.Transport:
    username, password = _credentials(proxy)
    context = target.ssl_context or ssl.create_default_context()
    stream = await StreamProxy(
        ProxyType.HTTP, proxy.host, proxy.port, username, password, proxy_ssl=context
    ).connect(target.ip, target.port, timeout=seconds)
    # The CONNECT is answered; from here on the TLS transport carries the target's bytes.
    transport = stream.writer.transport
    protocol = protocol_factory()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    return transport  # type: ignore[return-value]


def _credentials(proxy: ForwardProxy) -> tuple[str | None, str | None]:
    """Go sends the userinfo whenever there is one, an empty password included."""
    if proxy.username is None:
        return None, None
    return proxy.username, proxy.password or ""


def _explain(proxy: ForwardProxy, exc: ProxyError) -> str:
    """What the proxy said, with a hint where the usual cause is the URL's credentials."""
    text = str(exc)
    if exc.error_code == 407 or "authentication" in text.lower():
        given = "wrong" if proxy.username is not None else "no"
        return f"{text} ({given} username/password in the proxy URL?)"
    if "Invalid proxy response" in text or "closed unexpectedly" in text:
        # Some SOCKS5 servers hang up on bad credentials instead of answering (RFC 1929 §2).
        if proxy.scheme != "socks5":
            hint = ""
        elif proxy.username is not None:
            hint = " (wrong username/password in the proxy URL?)"
        else:
            hint = " (does it need a username/password?)"
        return f"the proxy closed the connection{hint}"
    return text
