"""A ResponseWriter wrapper that counts the body bytes it is handed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubegate.http.types import Headers, ResponseWriter


class CountingResponse:
    """A ResponseWriter that counts the body bytes handed to it (for sizes and the access
    log); everything else passes through. The connection layer's own writer counts by
    itself (``body_bytes``); this is for any other writer."""

    __slots__ = ("body_bytes", "inner")

    def __init__(self, inner: ResponseWriter) -> None:
        self.inner = inner
        self.body_bytes = 0

    @property
    def started(self) -> bool:
        return self.inner.started

    @property
    def status(self) -> int:
        return self.inner.status

    async def send(self, status: int, headers: Headers, body: bytes = b"") -> None:
        self.body_bytes += len(body)
        await self.inner.send(status, headers, body)

    async def start(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        await self.inner.start(status, headers, length=length)

    async def write(self, data: bytes) -> None:
        self.body_bytes += len(data)
        await self.inner.write(data)

    async def end(self) -> None:
        await self.inner.end()

    def client_gone(self) -> Any:
        return self.inner.client_gone()

    def cancel_on_disconnect(self) -> None:
        self.inner.cancel_on_disconnect()

    def __getattr__(self, name: str) -> Any:
        # Anything the writer protocol grows later passes through unchanged.
        return getattr(self.inner, name)

    async def detach(self) -> Any:
        return await self.inner.detach()
