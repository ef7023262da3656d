"""What the proxy suite is built from, in one import.

* ``client``   a raw HTTP/1.1 client: bytes out as given, responses parsed from bytes;
* ``backends`` recording backends on loopback (echo, custom handlers, WebSocket echo);
* ``cluster``  the kubegate subprocess, the Pods/Services/Nodes that point its proxy at the
  backends, and the polls that wait until its watch-fed cache sees them.

Tests elsewhere (tests/security, tests/e2e) import from here too: fixtures are built by the
``*_fixture`` factories, so a module can bind them to its own kubegate.
"""

from __future__ import annotations

from integration.proxy.backends import (
    LOOPBACK,
    READY_PATH,
    Backend,
    Backends,
    Exchange,
    Handler,
    Received,
    WebSocketBackend,
    closed_port,
    echo,
    server_tls,
)
from integration.proxy.client import Connection, Headers, Response, request_bytes
from integration.proxy.cluster import (
    Cluster,
    Kubegate,
    Port,
    backends_fixture,
    cluster_fixture,
    eventually,
    kubegate_fixture,
    new_cluster,
    proxy_path,
    resolution_pending,
    running_kubegate,
)

__all__ = [
    "LOOPBACK",
    "READY_PATH",
    "Backend",
    "Backends",
    "Cluster",
    "Connection",
    "Exchange",
    "Handler",
    "Headers",
    "Kubegate",
    "Port",
    "Received",
    "Response",
    "WebSocketBackend",
    "backends_fixture",
    "closed_port",
    "cluster_fixture",
    "echo",
    "eventually",
    "kubegate_fixture",
    "new_cluster",
    "proxy_path",
    "request_bytes",
    "resolution_pending",
    "running_kubegate",
    "server_tls",
]
