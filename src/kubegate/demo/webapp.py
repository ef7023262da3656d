"""The webapp demo backend: an HTML page, a small JSON API and a WebSocket echo.

It exists to show what breaks behind a path-prefix proxy and what does not: the page refers to
its stylesheet, script, API (`api/items`) and WebSocket (`ws`) only by relative URLs, so it
works under `/api/v1/namespaces/kube-system/services/webapp:http-web/proxy/` as long as that
prefix ends with `/`.

Routes: `GET /` (page), `GET /app.js`, `GET /style.css`, `GET /healthz`, `GET /api/items`,
`POST /api/items` (`{"name": "..."}`), `GET /ws` (greets, then echoes every message).
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

__all__ = ["make_webapp"]

_MAX_ITEMS = 100  # the oldest item is dropped past this, so a loop of POSTs cannot grow memory
_MAX_NAME_LENGTH = 200
_MAX_BODY_BYTES = 64 * 1024
_MAX_WS_MESSAGE_BYTES = 64 * 1024
_WS_HEARTBEAT_SECONDS = 30.0
_STATIC_FILES = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}
_NO_SNIFF = {"X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    name: str
    created: str


class _Items:
    """The in-memory item list, newest last."""

    def __init__(self) -> None:
        self._items: list[Item] = []
        self._next_id = 1

    def add(self, name: str) -> Item:
        item = Item(id=self._next_id, name=name, created=_now())
        self._next_id += 1
        self._items = [*self._items, item][-_MAX_ITEMS:]
        return item

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(item) for item in self._items]


_ITEMS_KEY = web.AppKey("items", _Items)
_SOCKETS_KEY: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")


def make_webapp() -> web.Application:
    """An aiohttp application serving the demo web app, with a couple of starter items."""
    app = web.Application(client_max_size=_MAX_BODY_BYTES)
    items = _Items()
    items.add("Open this page through the kubegate proxy")
    items.add("Add an item, then reload: it is still there")
    app[_ITEMS_KEY] = items
    app[_SOCKETS_KEY] = weakref.WeakSet()
    app.on_shutdown.append(_close_websockets)
    for path, (filename, content_type) in _STATIC_FILES.items():
        app.router.add_get(path, _static_handler(filename, content_type))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/api/items", _list_items)
    app.router.add_post("/api/items", _add_item)
    app.router.add_get("/ws", _websocket)
    return app


def _static_handler(filename: str, content_type: str) -> Any:
    body = resources.files("kubegate.demo").joinpath("static", filename).read_bytes()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=body, content_type=content_type, charset="utf-8", headers=_NO_SNIFF
        )

    return handler


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _list_items(request: web.Request) -> web.Response:
    return _json(request.app[_ITEMS_KEY].as_json())


async def _add_item(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return _json({"error": "send the item as application/json"}, status=415)
    try:
        payload = await request.json()
    except ValueError:
        return _json({"error": "the body is not valid JSON"}, status=400)
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name.strip():
        return _json({"error": 'expected {"name": "<non-empty string>"}'}, status=400)
    if len(name) > _MAX_NAME_LENGTH:
        return _json({"error": f"name is longer than {_MAX_NAME_LENGTH} characters"}, status=400)
    item = request.app[_ITEMS_KEY].add(name.strip())
    return _json(asdict(item), status=201)


async def _websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=_WS_HEARTBEAT_SECONDS, max_msg_size=_MAX_WS_MESSAGE_BYTES)
    await ws.prepare(request)
    sockets = request.app[_SOCKETS_KEY]
    sockets.add(ws)
    try:
        await ws.send_json(
            {"type": "greeting", "message": "Hello from the kubegate demo webapp", "time": _now()}
        )
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
    finally:
        sockets.discard(ws)
    return ws


async def _close_websockets(app: web.Application) -> None:
    # Open WebSockets would otherwise hold graceful shutdown until its timeout.
    sockets = app[_SOCKETS_KEY]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def _json(data: Any, *, status: int = 200) -> web.Response:
    headers = {**_NO_SNIFF, "Cache-Control": "no-store"}
    return web.json_response(data, status=status, headers=headers)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
