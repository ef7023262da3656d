"""The client side of the proxy suite: request bytes written exactly as given, responses
parsed from bytes (Content-Length, chunked, close-delimited), so raw targets, odd headers and
pipelined or smuggled bytes reach kubegate unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

IO_TIMEOUT = 20.0
Headers = list[tuple[str, str]]


def header_values(headers: Headers, name: str) -> list[str]:
    name = name.lower()
    return [value for key, value in headers if key.lower() == name]


@dataclass
class Response:
    status: int
    reason: str
    headers: Headers  # lower-case names, arrival order
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = header_values(self.headers, name)
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        return header_values(self.headers, name)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        """The message of a Status body ('' if the body is not a Status)."""
        try:
            doc = self.json()
        except ValueError:
            return ""
        return doc.get("message", "") if isinstance(doc, dict) else ""

    @property
    def is_backend(self) -> bool:
        """The answer came from one of the harness backends' ``/__ready``."""
        return self.header("x-ready") == "1"

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers!r} {self.body[:300]!r}>"


class Connection:
    """One client connection: bytes out exactly as given, responses parsed from bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> Connection:
        async with asyncio.timeout(IO_TIMEOUT):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ssl_context, limit=1 << 20
            )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_head(self) -> Response:
        """The next final (or 101) response head; 1xx interim heads are skipped."""
        while True:
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw[:-4].decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            status = int(parts[1])
            headers: Headers = []
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.append((name.strip().lower(), value.strip()))
            if status == 101 or status >= 200:
                return Response(status, parts[2] if len(parts) > 2 else "", headers)

    async def iter_body(self, head: Response, method: str = "GET") -> AsyncIterator[bytes]:
        """The body's pieces as they arrive; IncompleteReadError if it is cut short."""
        if method == "HEAD" or head.status in (101, 204, 304):
            return
        if "chunked" in (head.header("transfer-encoding") or "").lower():
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    return
                data = await self.reader.readexactly(size)
                if await self.reader.readexactly(2) != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                yield data
        length = head.header("content-length")
        if length is not None:
            remaining = int(length)
            while remaining:
                data = await self.reader.read(min(remaining, 1 << 20))
                if not data:
                    raise asyncio.IncompleteReadError(b"", remaining)
                remaining -= len(data)
                yield data
            return
        while data := await self.reader.read(1 << 20):
            yield data

    async def read_body(self, head: Response, method: str = "GET") -> bytes:
        return b"".join([piece async for piece in self.iter_body(head, method)])

    async def read_response(self, method: str = "GET") -> Response:
        head = await self.read_head()
        head.body = await self.read_body(head, method)
        return head

    async def read_until_eof(self, within: float = 10.0) -> bytes:
        """Everything until the peer closes (TimeoutError if it never does)."""
        chunks = []
        async with asyncio.timeout(within):
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while data := await self.reader.read(65536):
                    chunks.append(data)
        return b"".join(chunks)

    async def close(self) -> None:
        writer = self.writer
        if writer.transport.is_closing():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)
            return
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 2)
        except Exception:
            writer.transport.abort()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def request_bytes(
    method: str,
    target: str,
    host: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
) -> bytes:
    """A request head (plus body) as given; Content-Length added for a body unless set."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    names = {name.lower() for name, _ in headers}
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
