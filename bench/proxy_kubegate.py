"""kubegate as a proxy under test: a fresh server, the backend registered as a Service.

The server runs ``kubegate serve --secure-port 0 --store memory: --proxy-allow-cidrs
127.0.0.0/8`` (loopback backends are refused by default). The backend becomes reachable
the way a real one would: a Pod with ``podIP`` 127.0.0.1 that is Running and Ready (its
status patched, as a kubelet would), and a Service selecting it with ``targetPort`` = the
backend's port; the server's EndpointSlice controller then writes the slice, and the
harness polls ``services/bench:80/proxy/small`` until it answers 200.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.proxy_procs import Daemon, wait_ready
from bench.server import LISTENING, ServerFailed, serve_argv

SERVICE = "bench"
SERVICE_PORT = 80
PROXY_PATH = f"/api/v1/namespaces/default/services/{SERVICE}:{SERVICE_PORT}/proxy"
MALLOC_TUNED = {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "67108864"}
# glibc's env knobs also exist in "tunables" form; any of these in the harness's own
# environment would leak into the "default" variant, so that one starts without them.
MALLOC_ENV_PREFIXES = ("MALLOC_", "GLIBC_TUNABLES")
API_TIMEOUT = 30.0
LOOPBACK_BACKENDS = ("--proxy-allow-cidrs", "127.0.0.0/8")  # refused by default (SSRF guard)


@dataclass(frozen=True, slots=True)
class KubegateServer:
    """A running server: its URL, the admin bearer token and the CA that signed it."""

    daemon: Daemon
    url: str
    token: str
    cafile: Path

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cafile))

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def kubegate_server(
    data_dir: Path,
    backend_port: int,
    cpu_prefix: Sequence[str],
    *,
    malloc_tuned: bool,
    profile: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[KubegateServer]:
    """Start a server, register the backend, wait until the proxy answers; stop on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(MALLOC_ENV_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    if malloc_tuned:
        env.update(MALLOC_TUNED)
    argv = serve_argv(
        data_dir, "memory:", *LOOPBACK_BACKENDS, *extra_args, prefix=cpu_prefix, profile=profile
    )
    with Daemon("kubegate", argv, data_dir / "server.log", env=env) as daemon:
        url = wait_listening(daemon)
        server = KubegateServer(
            daemon, url, (data_dir / "admin.token").read_text().strip(), data_dir / "ca.crt"
        )
        register_backend(server, backend_port)
        wait_ready(
            daemon,
            server.url + PROXY_PATH + "/small",
            headers=server.auth_headers,
            context=server.ssl_context(),
        )
        yield server


def wait_listening(daemon: Daemon, timeout: float = 60.0) -> str:
    """The URL a ``kubegate serve`` daemon prints once it listens (its log, polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = LISTENING.search(daemon.log_path.read_text(errors="replace"))
        if found:
            return found.group(1)
        daemon.check_alive()
        time.sleep(0.05)
    raise ServerFailed(f"{daemon.name} not listening after {timeout:.0f} s (see {daemon.log_path})")


def register_backend(server: KubegateServer, backend_port: int) -> None:
    """A Ready Pod on 127.0.0.1 and a Service ``bench`` (port 80 -> the backend's port)."""
    labels = {"app": SERVICE}
    pods = "/api/v1/namespaces/default/pods"
    _api(
        server,
        "POST",
        pods,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{SERVICE}-backend", "labels": labels},
            "spec": {
                "containers": [
                    {"name": "nginx", "image": "nginx", "ports": [{"containerPort": backend_port}]}
                ]
            },
        },
    )
    # What a kubelet would report; the EndpointSlice controller only lists Ready pods.
    _api(
        server,
        "PATCH",
        f"{pods}/{SERVICE}-backend/status",
        {
            "status": {
                "phase": "Running",
                "podIP": "127.0.0.1",
                "podIPs": [{"ip": "127.0.0.1"}],
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        },
        content_type="application/merge-patch+json",
    )
    _api(
        server,
        "POST",
        "/api/v1/namespaces/default/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVICE},
            "spec": {
                "selector": labels,
                "ports": [{"port": SERVICE_PORT, "targetPort": backend_port, "protocol": "TCP"}],
            },
        },
    )


def _api(
    server: KubegateServer,
    method: str,
    path: str,
    body: Mapping[str, Any],
    *,
    content_type: str = "application/json",
) -> dict[str, Any]:
    host, port = server.url.removeprefix("https://").rsplit(":", 1)
    conn = http.client.HTTPSConnection(
        host, int(port), context=server.ssl_context(), timeout=API_TIMEOUT
    )
    try:
        conn.request(
            method,
            path,
            body=json.dumps(body),
            headers={**server.auth_headers, "Content-Type": content_type},
        )
        answer = conn.getresponse()
        text = answer.read()
    finally:
        conn.close()
    if answer.status >= 300:
        raise ServerFailed(f"{method} {path}: HTTP {answer.status}: {text[:300]!r}")
    result: dict[str, Any] = json.loads(text)
    return result
