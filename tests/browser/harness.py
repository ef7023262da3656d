"""What the browser suite is built from: Debian's Chromium driven by Playwright, a real
``kubegate serve`` that browsers can log in to, loopback web apps registered as Services, and
a record of every request a page makes.

The tests are synchronous (Playwright's sync API); everything asynchronous — the web apps on
loopback and the kube objects created through kubegate's API — runs on one background event
loop (:class:`LoopThread`), so a test never blocks the loop that serves its backends.

No browser is ever downloaded: Playwright launches ``/usr/bin/chromium`` (Debian's
``chromium`` package, installed by ``make setup-test`` through ``APT_PACKAGES``) by
``executable_path``; ``Browser.launch`` gives every run a fresh temporary profile.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from integration.proxy.harness import (
    READY_PATH,
    Cluster,
    Kubegate,
    eventually,
    new_cluster,
    running_kubegate,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SCRATCH_IMG = Path(tempfile.gettempdir()) / "kubegate-screenshots"
LOOPBACK = "127.0.0.1"
STEP_TIMEOUT = 30.0  # one background step (start an app, create objects, wait for the cache)

# Users of the browser kubegate: one admin (system:masters) by basic auth and by token.
USER = "alice"
PASSWORD = "browser-pass-1"
TOKEN = "browser-token-0123456789abcdef"

T = TypeVar("T")


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent (Debian package chromium; `make setup-test` installs it)"
    return None


class LoopThread:
    """An asyncio event loop on a daemon thread; ``run`` blocks until a coroutine is done."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="bg-loop")
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = STEP_TIMEOUT) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


@dataclass
class Gate:
    """A running kubegate as a browser sees it: its origin, its users, its proxy URLs."""

    kg: Kubegate
    bg: LoopThread
    files: Path

    @property
    def origin(self) -> str:
        return f"https://{self.kg.netloc}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    @property
    def basic_auth_header(self) -> dict[str, str]:
        """The user's basic credentials as a header the browser adds to every request, as
        it does once a user has answered a basic-auth prompt (Playwright's http_credentials
        only answer a 401 challenge, and kubegate sends browsers to /login instead)."""
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def namespace(self, prefix: str = "web") -> Cluster:
        return self.bg.run(new_cluster(self.kg, prefix))


def sign_in(context: Any, gate: Gate, user: str = USER, password: str = PASSWORD) -> None:
    """Sign ``context`` in with the login form's POST (its cookie jar is the browser's)."""
    response = context.request.post(
        gate.url("/login"),
        form={"method": "password", "username": user, "password": password, "then": "/"},
        headers={"Origin": gate.origin},
        max_redirects=0,
    )
    assert response.status == 303, f"sign-in failed: {response.status} {response.text()[:300]}"
    names = {cookie["name"] for cookie in context.cookies(gate.origin)}
    assert "__Host-kubegate_session" in names, names


def write_auth_files(directory: Path) -> tuple[Path, Path]:
    """kube-style CSV files: the basic-auth user and the bearer token, both system:masters."""
    basic = directory / "basic-auth.csv"
    basic.write_text(f'{PASSWORD},{USER},uid-{USER},"system:masters"\n')
    tokens = directory / "tokens.csv"
    tokens.write_text(f'{TOKEN},{USER},uid-{USER},"system:masters"\n')
    return basic, tokens


@contextlib.contextmanager
def running_gate(bg: LoopThread, files: Path, *flags: str) -> Iterator[Gate]:
    """``kubegate serve`` on port 0 with basic auth and tokens, allowed to proxy to loopback."""
    basic, tokens = write_auth_files(files)
    with running_kubegate(
        "--basic-auth-file",
        str(basic),
        "--token-auth-file",
        str(tokens),
        "--proxy-allow-cidrs",
        "127.0.0.0/8",
        *flags,
    ) as kg:
        yield Gate(kg, bg, files)


# --- web apps on loopback -------------------------------------------------------------------


@web.middleware
async def _ready_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer the harness readiness probe the way the proxy suite's backends do."""
    if request.path == READY_PATH:
        return web.Response(status=204, headers={"X-Ready": "1"})
    return await handler(request)


@dataclass
class RunningApp:
    port: int
    close: Callable[[], Awaitable[None]]


async def start_aiohttp(app: web.Application) -> RunningApp:
    """Serve an aiohttp application on 127.0.0.1, port chosen by the kernel."""
    app.middlewares.insert(0, _ready_middleware)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    sockets = site._server.sockets if site._server is not None else ()  # type: ignore[union-attr]
    port = int(sockets[0].getsockname()[1])
    return RunningApp(port, runner.cleanup)


async def start_asgi(app: Any) -> RunningApp:
    """Serve an ASGI application with uvicorn on a pre-bound loopback socket."""
    import uvicorn

    sock = socket.socket()
    sock.bind((LOOPBACK, 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(STEP_TIMEOUT):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)

    async def close() -> None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await task
        sock.close()

    return RunningApp(port, close)


@dataclass
class Apps:
    """Web apps started for one test, all closed at its end."""

    bg: LoopThread
    _running: list[RunningApp] = field(default_factory=list)

    def aiohttp(self, app: web.Application) -> int:
        running = self.bg.run(start_aiohttp(app))
        self._running.append(running)
        return running.port

    def asgi(self, app: Any) -> int:
        running = self.bg.run(start_asgi(app))
        self._running.append(running)
        return running.port

    def close(self) -> None:
        for running in reversed(self._running):
            with contextlib.suppress(Exception):
                self.bg.run(running.close())
        self._running.clear()


def publish(
    gate: Gate,
    cluster: Cluster,
    name: str,
    port: int,
    *,
    port_name: str = "http",
    annotations: dict[str, str] | None = None,
    ready_path: str = READY_PATH,
) -> str:
    """Register the loopback app on ``port`` as Service ``name`` (a Pod at 127.0.0.1 whose
    EndpointSlice the controller builds); wait until kubegate's proxy reaches
    ``ready_path`` through it; return the service's proxy URL (ending in ``/proxy/``)."""

    async def register() -> None:
        await cluster.pod(f"{name}-pod", [("web", port)], labels={"app": name})
        await cluster.service(
            name,
            [{"name": port_name, "port": 80, "targetPort": "web"}],
            selector={"app": name},
            annotations=annotations,
        )
        path = cluster.path("services", f"{name}:{port_name}", ready_path)
        response = await eventually(
            lambda: cluster.kg.request("GET", path),
            lambda r: r.status < 400 and r.header("x-ready") in ("1", None) and not r.message,
        )
        assert response.status < 400, f"the proxy never reached {path}: {response!r}"

    gate.bg.run(register())
    return gate.url(cluster.path("services", f"{name}:{port_name}", "/"))


# --- what the page did ----------------------------------------------------------------------


@dataclass
class Exchange:
    """One request a page made, with how it ended."""

    method: str
    url: str
    resource_type: str
    status: int | None = None  # None: no response (yet)
    failure: str | None = None  # net::ERR_... when the request failed

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def ok(self) -> bool:
        if self.resource_type == "eventsource" and self.failure == "net::ERR_ABORTED":
            # The page closed its own stream (EventSource.close() after the first event):
            # Chromium reports that as aborted when it beats the server's end of the
            # response, a race between two healthy parties. Whether the stream worked is
            # the page's own check (it fails on the EventSource's error event).
            return True
        return self.failure is None and self.status is not None and self.status < 400

    def __str__(self) -> str:
        outcome = self.failure or self.status
        return f"{self.method} {self.url} [{self.resource_type}] -> {outcome}"


@dataclass
class NetworkLog:
    """Every request and WebSocket a page (and its frames and workers) opened, in order."""

    exchanges: list[Exchange] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    rewrite: dict[str, str | None] = field(default_factory=dict)  # URL -> X-Kubegate-Rewrite
    _by_request: dict[int, Exchange] = field(default_factory=dict)

    def attach(self, page: Any) -> None:
        self.attach_requests(page)
        page.on("websocket", lambda ws: self.websockets.append(ws.url))
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda err: self.console.append(f"pageerror: {err}"))

    def attach_requests(self, source: Any) -> None:
        """Record the requests of ``source``: a page, or a whole browser context — its pages
        and all their workers, shared and service workers included (a page's own events
        miss those)."""
        source.on("request", self._on_request)
        source.on("response", self._on_response)
        source.on("requestfailed", self._on_failed)

    def _on_request(self, request: Any) -> None:
        exchange = Exchange(request.method, request.url, request.resource_type)
        self._by_request[id(request)] = exchange
        self.exchanges.append(exchange)

    def _on_response(self, response: Any) -> None:
        exchange = self._by_request.get(id(response.request))
        if exchange is not None:
            exchange.status = response.status
        self.rewrite[response.url] = response.headers.get("x-kubegate-rewrite")

    def _on_failed(self, request: Any) -> None:
        exchange = self._by_request.get(id(request))
        if exchange is not None:
            exchange.failure = request.failure or "failed"

    def on_origin(self, origin: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.url.startswith(origin + "/")]

    def outside(self, origin: str, prefix: str) -> list[str]:
        """Requests to ``origin`` and WebSockets to its host that left ``prefix`` (a path)."""
        host = urlsplit(origin).netloc
        stray = [str(e) for e in self.on_origin(origin) if not e.path.startswith(prefix)]
        for url in self.websockets:
            parts = urlsplit(url)
            if parts.netloc == host and not parts.path.startswith(prefix):
                stray.append(f"WebSocket {url}")
        return stray

    def failed(self, origin: str) -> list[str]:
        """Requests to ``origin`` that failed or answered >= 400 (redirects count as fine)."""
        finished = [e for e in self.on_origin(origin) if e.status is not None or e.failure]
        return [str(e) for e in finished if not e.ok]

    def summary(self) -> str:
        lines = [str(e) for e in self.exchanges]
        lines += [f"WebSocket {url}" for url in self.websockets]
        lines += self.console
        return "\n".join(lines)


def save_screenshot(page: Any, name: str) -> Path:
    """A PNG of the page's viewport: into docs/img/ (the docs embed these) when
    KUBEGATE_DOCS_SCREENSHOTS is set (`make screenshots`), else into a temp dir, so an
    ordinary test run leaves the work tree clean."""
    folder = DOCS_IMG if os.environ.get("KUBEGATE_DOCS_SCREENSHOTS") else SCRATCH_IMG
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path
