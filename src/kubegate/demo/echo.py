"""The echo demo backend: describes every request it receives, and streams on request.

Routes (any path not listed below is echoed):

- `*  /<anything>` JSON describing the request: method, raw path and query, headers (the values
  of credential headers withheld, their names listed), client address, TLS details including a
  presented client certificate, a digest of the body, server time and hostname. A proxy's
  behaviour can be read straight off this document.
- `GET /healthz` plain `ok`.
- `GET /stream?n=5&interval_ms=100` n newline-delimited JSON lines, one per interval, chunked.
- `GET /sse?n=10&interval_ms=1000` server-sent events; resumes after `Last-Event-ID`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import socket
import ssl
from typing import Any

from aiohttp import web

__all__ = ["make_echo_app"]

# Values never echoed back: a demo page that reflected credentials would hand them to any script
# that can read the response. The names are still listed, so a test can see what arrived.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_BODY_PREVIEW_BYTES = 4096
_RDN_SHORT_NAMES = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU"}
_SERVICE_KEY = web.AppKey("service", str)


def make_echo_app(service: str) -> web.Application:
    """An aiohttp application answering as the echo backend named `service`."""
    app = web.Application()
    app[_SERVICE_KEY] = service
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/stream", _stream)
    app.router.add_get("/sse", _sse)
    app.router.add_route("*", "/{tail:.*}", _echo)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _echo(request: web.Request) -> web.Response:
    description = await describe_request(request)
    body = json.dumps(description, indent=2) + "\n"
    return web.Response(text=body, content_type="application/json")


async def describe_request(request: web.Request) -> dict[str, Any]:
    """The JSON document `GET /` answers with; it consumes the request body."""
    path, _, raw_query = request.raw_path.partition("?")
    headers: dict[str, str] = {}
    redacted: list[str] = []
    for raw_name, raw_value in request.raw_headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name.lower() in _SECRET_HEADERS:
            redacted.append(name)
            continue
        # Repeated fields combine with ", " (RFC 9110 5.3); the order of arrival is kept.
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return {
        "service": request.app[_SERVICE_KEY],
        "method": request.method,
        "path": path,
        "raw_query": raw_query,
        "http_version": f"{request.version.major}.{request.version.minor}",
        "headers": headers,
        "redacted_headers": redacted,
        "client": {"address": peer[0], "port": peer[1]} if peer else None,
        "tls": _tls_details(request),
        "body": await _digest_body(request),
        "server_time": _now(),
        "hostname": socket.gethostname(),
    }


async def _stream(request: web.Request) -> web.StreamResponse:
    count = _int_param(request, "n", default=5, low=1, high=1000)
    interval = _int_param(request, "interval_ms", default=100, low=0, high=10_000) / 1000
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    if request.version >= (1, 1):  # HTTP/1.0 has no chunking; the body then ends at close
        response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        for seq in range(1, count + 1):
            line = {"seq": seq, "of": count, "time": _now()}
            await response.write(json.dumps(line).encode() + b"\n")
            if seq < count:
                await asyncio.sleep(interval)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away mid-stream; nothing left to tell it
    return response


async def _sse(request: web.Request) -> web.StreamResponse:
    count = _int_param(request, "n", default=10, low=1, high=10_000)
    interval = _int_param(request, "interval_ms", default=1000, low=0, high=60_000) / 1000
    first = _last_event_id(request) + 1
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            # Ask buffering reverse proxies (nginx) to pass events through as they come.
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    try:
        await response.write(b"retry: 2000\n\n")
        for event_id in range(first, first + count):
            data = json.dumps({"id": event_id, "time": _now()})
            await response.write(f"id: {event_id}\nevent: tick\ndata: {data}\n\n".encode())
            if event_id < first + count - 1:
                await asyncio.sleep(interval)
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response


async def _digest_body(request: web.Request) -> dict[str, Any]:
    # Hash instead of buffering, so multi-gigabyte uploads through a proxy can be checked.
    digest = hashlib.sha256()
    preview = bytearray()
    length = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        digest.update(chunk)
        length += len(chunk)
        if len(preview) < _BODY_PREVIEW_BYTES:
            preview += chunk[: _BODY_PREVIEW_BYTES - len(preview)]
    try:
        text: str | None = preview.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "length": length,
        "sha256": digest.hexdigest(),
        "text": text,
        "truncated": length > len(preview),
    }


def _tls_details(request: web.Request) -> dict[str, Any] | None:
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    # Only a certificate the context verified shows up here (getpeercert() is empty otherwise).
    peercert: dict[str, Any] = dict(ssl_object.getpeercert() or {})
    client_certificate = None
    if peercert:
        rdns: tuple[tuple[tuple[str, str], ...], ...] = peercert.get("subject", ())
        subject = ",".join(
            f"{_RDN_SHORT_NAMES.get(key, key)}={value}" for rdn in rdns for key, value in rdn
        )
        client_certificate = {"subject": subject}
    cipher = ssl_object.cipher()
    return {
        "version": ssl_object.version(),
        "cipher": cipher[0] if cipher else None,
        "alpn": ssl_object.selected_alpn_protocol(),
        "client_certificate": client_certificate,
    }


def _int_param(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise web.HTTPBadRequest(text=f"{name} must be an integer from {low} to {high}\n")
    return value


def _last_event_id(request: web.Request) -> int:
    try:
        return max(0, int(request.headers.get("Last-Event-ID", "0")))
    except ValueError:
        return 0


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
