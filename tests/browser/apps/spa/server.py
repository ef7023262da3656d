"""The test SPA's backend (aiohttp): written for the site root, with no idea of any prefix.

Routes: ``/`` (redirects to ``/login`` until the ``spa_session`` cookie is set), ``/login``
(sets the cookie with ``Path=/`` and redirects to ``/``), the static ``/app.js``,
``/app.css``, ``/img/dot.png``, the client routes ``/about`` and ``/form`` (the same
index.html), ``/api/items``, ``/api/whoami`` (what cookies came back), ``/ws`` (echo),
``/events`` (server-sent events), ``POST /submit`` (303 to ``/done``) and ``/done``.
Every request's path is recorded in ``SpaBackend.received``.
"""

from __future__ import annotations

import html
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from browser.apps.recording import RecordingBackend, echo_websocket, one_event

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "spa_session"
ITEMS = ["apple", "banana", "cherry"]


def dot_png(size: int = 16) -> bytes:
    """A blue dot on transparency, as a real PNG."""
    rows = []
    centre = (size - 1) / 2
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            inside = (x - centre) ** 2 + (y - centre) ** 2 <= (size / 2) ** 2
            row += bytes([37, 99, 235, 255]) if inside else bytes(4)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@dataclass
class SpaBackend(RecordingBackend):
    def app(self) -> web.Application:
        app = self.new_app()
        r = app.router
        r.add_get("/", self._index)
        r.add_get("/about", self._index)
        r.add_get("/form", self._index)
        r.add_get("/login", self._login)
        r.add_get("/app.js", self._static("app.js", "text/javascript"))
        r.add_get("/app.css", self._static("app.css", "text/css"))
        r.add_get("/img/dot.png", self._dot)
        r.add_get("/api/items", self._items)
        r.add_get("/api/whoami", self._whoami)
        r.add_get("/ws", echo_websocket)
        r.add_get("/events", one_event)
        r.add_post("/submit", self._submit)
        r.add_get("/done", self._done)
        return app

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if SESSION_COOKIE not in request.cookies:
            raise web.HTTPFound("/login")
        return web.FileResponse(HERE / "index.html", headers={"Cache-Control": "no-store"})

    async def _login(self, request: web.Request) -> web.StreamResponse:
        response = web.HTTPFound("/")
        response.set_cookie(SESSION_COOKIE, "demo-user", path="/", httponly=True)
        raise response

    @staticmethod
    def _static(name: str, content_type: str) -> web.RequestHandler:  # type: ignore[name-defined]
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(
                body=(HERE / name).read_bytes(),
                content_type=content_type,
                headers={"Cache-Control": "no-store"},
            )

        return handler

    async def _dot(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=dot_png(), content_type="image/png")

    async def _items(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(ITEMS)

    async def _whoami(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"session": request.cookies.get(SESSION_COOKIE), "theme": request.cookies.get("theme")}
        )

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        raise web.HTTPSeeOther(f"/done?note={form.get('note', '')}")

    async def _done(self, request: web.Request) -> web.StreamResponse:
        note = html.escape(request.query.get("note", ""))
        return web.Response(
            text=f'<!doctype html><title>done</title><p id="done">submitted: {note}</p>'
            '<p><a href="/">back</a></p>',
            content_type="text/html",
        )
