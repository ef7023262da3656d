"""Start and stop the in-process demo backends of `kubegate serve --demo`.

Three aiohttp servers on ephemeral loopback ports, each described by a `DemoService`:

=============  ===============  =====  =====================================================
Service        port name        port   what it is
=============  ===============  =====  =====================================================
echo           http             80     request echo, NDJSON stream and SSE (`demo.echo`)
secure-echo    https            443    the same echo over TLS, with the caller's certificate
webapp         http-web         80     HTML page, JSON API and WebSocket (`demo.webapp`)
=============  ===============  =====  =====================================================

They are real HTTP servers reached through real sockets, so the proxy exercised by the demo is
the same one that reaches cluster services. aiohttp is fine here: these are upstreams, not the
proxy's data path.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType

from aiohttp import web

from kubegate.demo.echo import make_echo_app
from kubegate.demo.seed import DemoService
from kubegate.demo.webapp import make_webapp

__all__ = ["DemoBackends", "start_demo_backends"]

# Streams and WebSockets still open at shutdown get this long to finish before being cancelled.
_SHUTDOWN_TIMEOUT_SECONDS = 2.0


class DemoBackends:
    """The running demo backends; `close()` (or leaving `async with`) stops them all."""

    def __init__(self, services: list[DemoService], runners: list[web.AppRunner]) -> None:
        self.services = services
        self._runners = runners

    def service(self, name: str) -> DemoService:
        """The backend published as Service `name`."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    async def close(self) -> None:
        """Stop accepting, let in-flight requests finish briefly, then close every listener."""
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            await runner.cleanup()

    async def __aenter__(self) -> DemoBackends:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def start_demo_backends(
    ssl_context_for_https: ssl.SSLContext, *, host: str = "127.0.0.1"
) -> DemoBackends:
    """Start the echo, secure-echo and webapp backends on ephemeral ports of `host`.

    `ssl_context_for_https` is the server-side context secure-echo serves with; if it requests
    client certificates, the echo reports any certificate a caller presents.
    """
    services: list[DemoService] = []
    runners: list[web.AppRunner] = []
    try:
        for backend in _BACKENDS:
            runner = web.AppRunner(
                backend.make_app(), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_SECONDS
            )
            await runner.setup()
            runners.append(runner)
            ssl_context = ssl_context_for_https if backend.scheme == "https" else None
            await web.TCPSite(runner, host, 0, ssl_context=ssl_context).start()
            services.append(backend.published(host=host, target_port=runner.addresses[0][1]))
    except BaseException:
        for runner in reversed(runners):
            await runner.cleanup()
        raise
    return DemoBackends(services, runners)


@dataclass(frozen=True, slots=True)
class _Backend:
    name: str
    port: int
    port_name: str
    scheme: str
    title: str
    description: str
    make_app: Callable[[], web.Application]

    def published(self, *, host: str, target_port: int) -> DemoService:
        return DemoService(
            name=self.name,
            port=self.port,
            target_port=target_port,
            port_name=self.port_name,
            scheme=self.scheme,
            app=self.name,
            title=self.title,
            description=self.description,
            address=host,
        )


# Port 443 named "https" is what makes `kubectl cluster-info` print an `https:` proxy link.
_BACKENDS = (
    _Backend(
        name="echo",
        port=80,
        port_name="http",
        scheme="http",
        title="Echo",
        description="Echoes each request as JSON; /stream and /sse stream responses.",
        make_app=partial(make_echo_app, "echo"),
    ),
    _Backend(
        name="secure-echo",
        port=443,
        port_name="https",
        scheme="https",
        title="Secure-Echo",
        description="The echo service over HTTPS; reports TLS and client-certificate details.",
        make_app=partial(make_echo_app, "secure-echo"),
    ),
    _Backend(
        name="webapp",
        port=80,
        port_name="http-web",
        scheme="http",
        title="Webapp",
        description="A web page with a JSON API and a WebSocket, all on relative URLs.",
        make_app=make_webapp,
    ),
)
