"""The values of the upstream (client) side of the HTTP/1.1 layer, and its one error type.

The client side is for a proxy: it forwards requests to literal IP addresses the caller has
already chosen and checked (never a name to resolve), keeps connections alive per target,
streams bodies both ways with back-pressure, and hands upgraded connections over as raw
transports. It knows nothing of Kubernetes.

Modules::

    client.py           these values: UpstreamTarget, UpstreamError, UpgradeResult, PoolStats
    client_head.py      pure: request heads out (re-serialised), response heads in (strict)
    client_conn.py      UpstreamConnection, the asyncio Protocol of one backend connection
    client_response.py  UpstreamResponse, a response body as a stream with back-pressure
    client_send.py      request bodies toward the backend (streamed, 100-continue)
    pool.py             UpstreamPool: keep-alive per target, retries, upgrades
    tunnel.py           the byte pump between two detached transports
    via_proxy.py        connections through a forward proxy (HTTP(S) CONNECT, SOCKS5)

Errors: every failure that is the backend's (or the network's) is an ``UpstreamError`` with a
``kind``; foreign exceptions (``OSError``, ``ssl.SSLError``, framing errors) are translated
where they are caught, chained with ``raise ... from``. The proxy maps the kinds to answers
the way kube-apiserver does::

    UpstreamError
      kind "connect"   dial failed or timed out          -> 503 "error trying to reach service"
      kind "tls"       handshake or verification failed  -> 503
      kind "timeout"   no response head, or a body stalled -> 504
      kind "protocol"  the backend broke HTTP/1.1 framing -> 502
      kind "reset"     the connection ended mid-exchange  -> 502

Errors of the caller (an invalid header, a body longer than its declared length) are
``ValueError``; an exception raised by a request body iterator propagates unchanged.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Literal

from kubegate.core.forward_proxy import ForwardProxy
from kubegate.http.types import Headers

ErrorKind = Literal["connect", "tls", "timeout", "protocol", "reset"]


class UpstreamError(Exception):
    """The backend could not be reached or did not speak HTTP/1.1 correctly."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message

    def __repr__(self) -> str:
        return f"UpstreamError({self.kind!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where to connect. Equal targets share one keep-alive pool (``ssl_context`` by identity)."""

    ip: str  # a literal IP address, already validated by the caller; never resolved here
    port: int
    tls: bool = False
    server_hostname: str | None = None  # SNI and, when verifying, the name checked
    # None with tls=True: the shared context that does not verify (what kube-apiserver does
    # for https service proxying); the caller logs that once per target.
    ssl_context: ssl.SSLContext | None = None
    # Connect through this forward proxy (http/via_proxy.py); ``ip`` may then be a host name,
    # which the proxy resolves (kubectl's proxy-url / HTTPS_PROXY).
    via: ForwardProxy | None = None

    @property
    def address(self) -> str:
        """``ip:port`` as Go prints it (IPv6 in brackets), for error messages."""
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(slots=True)
class UpgradeResult:
    """The backend's answer to an upgrade request.

    With status 101, ``transport`` is the raw connection (reading paused; set a protocol,
    then resume reading) and ``buffered`` the bytes the backend sent after its 101 head; the
    caller owns both. With any other status the backend connection is already closed
    (CVE-2018-1002105), ``transport`` is None, and ``body`` holds at most 64 KiB of the
    answer's body for relaying.
    """

    status: int
    reason: str
    headers: Headers
    transport: asyncio.Transport | None
    buffered: bytes = b""
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class PoolStats:
    idle: int  # open, in the pool, waiting for a request
    active: int  # open and serving a request
    opened: int  # connections ever opened (a counter, for tests and metrics)


ALPN_PROTOCOLS = ["http/1.1"]


def tls_client_context(cadata: str | bytes | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A client context offering only HTTP/1.1 over ALPN: verifying against ``cadata`` (PEM
    text or DER bytes) or the system store, or with ``verify=False`` verifying nothing."""
    if verify:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=cadata)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    return context


# Shared by every tls=True target without its own context (kube-compatible: no verification).
INSECURE_CONTEXT = tls_client_context(verify=False)
