"""The values the HTTP/1.1 connection layer hands to applications.

The layer knows nothing of Kubernetes. An application is one coroutine::

    async def handler(request: Request, response: ResponseWriter) -> None

It reads the body through ``request.body`` and answers through ``response``. If it raises
before starting the response, the layer answers 500 (applications are expected to turn
their own errors into responses). If it raises after starting, the connection is closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

Headers = list[tuple[str, str]]  # (lower-case name, value), in arrival order, latin-1 decoded


class HTTPError(Exception):
    """Raised by the layer for protocol violations; carries the status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyTooLarge(HTTPError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")
        self.limit = limit


class Body(Protocol):
    """The request body as a stream with back-pressure (reading pauses the socket when the
    application falls behind)."""

    @property
    def length(self) -> int | None:
        """Content-Length if given, else None (chunked or no body)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def read(self, limit: int) -> bytes:
        """The whole body; raise BodyTooLarge as soon as more than ``limit`` bytes are
        declared (Content-Length) or received (chunked)."""


@dataclass(slots=True)
class Request:
    method: str
    target: str  # the raw request-target as received
    path: str  # raw (still percent-encoded) path component
    query: str  # raw query string without '?', '' if none
    headers: Headers
    body: Body
    peer: tuple[str, int]
    tls: bool
    peer_cert: dict[str, Any] | None = None  # ssl.getpeercert() of a verified client cert
    peer_cert_der: bytes | None = None
    http_version: str = "1.1"
    state: dict[str, Any] = field(default_factory=dict)  # per-request scratch for the app
    # The Upgrade header of a `Connection: upgrade` request (e.g. "websocket"); such a
    # request carries no body, and its connection closes after the response unless the
    # handler takes it over with ResponseWriter.detach().
    upgrade: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of a header (name lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class ResponseWriter(Protocol):
    @property
    def started(self) -> bool: ...

    @property
    def status(self) -> int:
        """The status sent (0 before the response started)."""

    async def send(self, status: int, headers: Headers, body: bytes = b"") -> None:
        """A whole response at once (Content-Length computed by the layer)."""

    async def start(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        """Start a streamed response: with ``length``, Content-Length framing; without,
        chunked (or close-delimited for HTTP/1.0)."""

    async def write(self, data: bytes) -> None:
        """Write a body piece; waits while the client's socket buffer is full."""

    async def end(self) -> None:
        """Finish the response (the last chunk for chunked framing)."""

    def client_gone(self) -> Awaitable[None]:
        """Completes when the client disconnects (for long-running streams)."""

    def cancel_on_disconnect(self) -> None:
        """Cancel the handler's task if the client disconnects before it finishes."""

    async def detach(self) -> tuple[asyncio.Transport, bytes]:
        """Take over the raw connection of an upgrade request: the transport (reading
        paused) and the bytes already received after the head. The layer never touches the
        connection again; call it after writing the 101 head (``start(101, ...)``), or write
        a backend's raw answer yourself."""


Handler = Callable[[Request, ResponseWriter], Awaitable[None]]
