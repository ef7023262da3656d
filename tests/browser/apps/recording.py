"""What the browser suite's test apps share: every request's path recorded, files from the
app's folder and scripts from memory, all served ``no-store`` (the browser must ask the
proxy each time, not its cache), an echoing WebSocket and a one-event stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import WSMsgType, web

NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class RecordingBackend:
    """A backend that records each request's raw path (and query) in ``received``."""

    received: list[str] = field(default_factory=list)

    def new_app(self) -> web.Application:
        return web.Application(middlewares=[self._record])

    @web.middleware
    async def _record(
        self, request: web.Request, handler: web.RequestHandler
    ) -> web.StreamResponse:  # type: ignore[name-defined]
        self.received.append(request.raw_path)
        return await handler(request)


def file_handler(path: Path, content_type: str) -> web.RequestHandler:  # type: ignore[name-defined]
    body = path.read_bytes()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type=content_type, headers=NO_STORE)

    return handler


def page_handler(text: str, csp: str | None = None) -> web.RequestHandler:  # type: ignore[name-defined]
    """An HTML page, with ``csp`` as its Content-Security-Policy when given."""
    headers = dict(NO_STORE)
    if csp is not None:
        headers["Content-Security-Policy"] = csp

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=text, content_type="text/html", headers=headers)

    return handler


async def echo_query(request: web.Request) -> web.StreamResponse:
    """The request's query string as the body."""
    return web.Response(text=request.query_string, headers=NO_STORE)


def script_handler(text: str) -> web.RequestHandler:  # type: ignore[name-defined]
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=text, content_type="text/javascript", headers=NO_STORE)

    return handler


async def echo_websocket(request: web.Request) -> web.StreamResponse:
    """A WebSocket that answers each text message with ``echo: <message>``."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str("echo: " + message.data)
    return ws


async def one_event(request: web.Request) -> web.StreamResponse:
    """A server-sent event stream of one event, ``tick``."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    await response.write(b"data: tick\n\n")
    return response
