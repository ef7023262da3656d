"""``--www``: static files under ``--www-prefix``, as kubectl proxy's Go ``http.FileServer``.

What is kept from Go: ``index.html`` for a directory, else a ``<pre>`` listing; a directory
asked for without its trailing slash is redirected to it (301, relative ``name/``), and
``…/index.html`` to ``./``; ``Last-Modified`` with ``If-Modified-Since`` (304); ``404 page not
found``. What is stricter: only GET and HEAD, and nothing outside the directory is served
(the path is already clean; symbolic links that lead out are refused too). Files are streamed
in 64 KiB pieces read in a worker thread, so a large file neither blocks the event loop nor
sits in memory. ``Range`` requests are not supported (the whole file is sent).
"""

from __future__ import annotations

import asyncio
import html
import mimetypes
import os
import stat
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Final
from urllib.parse import quote

from kubegate.http.types import Request, ResponseWriter

__all__ = ["serve_static"]

_PIECE: Final = 64 * 1024
_TEXT: Final = ("text/plain; charset=utf-8", "nosniff")
# Go's built-in table (mime.builtinTypesLower) where it differs from Python's guesses.
_GO_TYPES: Final = {
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".xml": "text/xml; charset=utf-8",
}


async def _text(response: ResponseWriter, status: int, text: str) -> None:
    headers = [("Content-Type", _TEXT[0]), ("X-Content-Type-Options", _TEXT[1])]
    await response.send(status, headers, text.encode())


async def _redirect(response: ResponseWriter, location: str) -> None:
    await response.send(301, [("Location", location)])


async def serve_static(
    request: Request, response: ResponseWriter, root: Path, relative: str
) -> None:
    """Answer ``request`` from ``root``; ``relative`` is the decoded, clean path after the
    prefix (``""`` or ``"/"`` is the directory itself)."""
    if request.method not in ("GET", "HEAD"):
        await response.send(405, [("Allow", "GET, HEAD"), ("Content-Type", _TEXT[0])], b"")
        return
    url_path = "/" + relative.lstrip("/")
    if url_path.endswith("/index.html"):
        await _redirect(response, "./")
        return
    try:
        path, info, listing, index = await asyncio.to_thread(_lookup, root, url_path)
    except FileNotFoundError:
        await _text(response, 404, "404 page not found\n")
        return
    except (OSError, RuntimeError):  # permission, a symlink loop
        await _text(response, 403, "403 Forbidden\n")
        return
    if stat.S_ISDIR(info.st_mode):
        if not url_path.endswith("/"):
            await _redirect(response, quote(Path(url_path).name) + "/")
        else:
            await _listing(response, listing or [])
        return
    if url_path.endswith("/") and not index:
        await _redirect(response, "../" + quote(Path(url_path.rstrip("/")).name))
        return
    if not stat.S_ISREG(info.st_mode):
        await _text(response, 404, "404 page not found\n")
        return
    await _send_file(request, response, path, info)


def _lookup(root: Path, url_path: str) -> tuple[Path, os.stat_result, list[str] | None, bool]:
    """The file for ``url_path`` (a directory's index.html if it has one), its stat, a
    directory's sorted entries when it has no index, and whether the index was taken;
    FileNotFoundError outside ``root``."""
    base = root.resolve(strict=True)
    path = (base / url_path.lstrip("/")).resolve(strict=True)
    if path != base and base not in path.parents:
        raise FileNotFoundError(url_path)
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode) or not url_path.endswith("/"):
        return path, info, None, False
    index = path / "index.html"
    if index.is_file():
        return index, index.stat(), None, True
    names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(path))
    return path, info, names, False


async def _send_file(
    request: Request, response: ResponseWriter, path: Path, info: os.stat_result
) -> None:
    modified = int(info.st_mtime)
    headers = [("Last-Modified", formatdate(modified, usegmt=True))]
    since = request.header("if-modified-since")
    if since is not None:
        try:
            if modified <= parsedate_to_datetime(since).timestamp():
                await response.send(304, headers)
                return
        except (TypeError, ValueError):
            pass  # unparseable: ignored, as Go does
    headers.append(("Content-Type", _content_type(path)))
    headers.append(("Accept-Ranges", "none"))
    await response.start(200, headers, length=info.st_size)
    if request.method == "HEAD":
        await response.end()
        return
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        remaining = info.st_size
        while remaining > 0:
            piece = await asyncio.to_thread(handle.read, min(_PIECE, remaining))
            if not piece:
                break  # the file shrank: the short body closes the connection
            remaining -= len(piece)
            await response.write(piece)
    finally:
        handle.close()
    await response.end()


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _GO_TYPES:
        return _GO_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/"):
        return guessed + "; charset=utf-8"
    return guessed


async def _listing(response: ResponseWriter, names: list[str]) -> None:
    lines = ['<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n']
    for name in names:
        lines.append(f'<a href="{html.escape(quote(name))}">{html.escape(name)}</a>\n')
    lines.append("</pre>\n")
    body = "".join(lines).encode("utf-8", "surrogateescape")
    await response.send(200, [("Content-Type", "text/html; charset=utf-8")], body)
