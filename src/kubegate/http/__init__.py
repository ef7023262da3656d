"""The one HTTP/1.1 connection layer, both directions; knows nothing of Kubernetes.

Server side: ``HTTPServer`` serves a ``Handler``. Client side: ``UpstreamPool`` forwards
requests to literal-IP backends over kept-alive connections and opens upgrades; ``tunnel``
pumps bytes between two detached transports.
"""

from kubegate.http.client import (
    PoolStats,
    UpgradeResult,
    UpstreamError,
    UpstreamTarget,
    tls_client_context,
)
from kubegate.http.client_response import UpstreamResponse
from kubegate.http.keepalive import TCPKeepalive
from kubegate.http.limits import Limits
from kubegate.http.pool import UpstreamPool
from kubegate.http.server import HTTPServer
from kubegate.http.tunnel import tunnel
from kubegate.http.types import (
    Body,
    BodyTooLarge,
    Handler,
    Headers,
    HTTPError,
    Request,
    ResponseWriter,
)

__all__ = [
    "Body",
    "BodyTooLarge",
    "HTTPError",
    "HTTPServer",
    "Handler",
    "Headers",
    "Limits",
    "PoolStats",
    "Request",
    "ResponseWriter",
    "TCPKeepalive",
    "UpgradeResult",
    "UpstreamError",
    "UpstreamPool",
    "UpstreamResponse",
    "UpstreamTarget",
    "tls_client_context",
    "tunnel",
]
