"""The response writer of an audited request: it has the request's ResponseComplete record
written just before the response's last bytes go out (see ``server/audit_log.py`` for why
then), and, when that record is lost and the answer must not go out (strict audit mode, a
request that changed nothing), sends kube's 503 Status instead or cuts the stream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from kubegate.errors import ServiceUnavailable
from kubegate.http.types import Headers, ResponseWriter
from kubegate.server.respond import encode_json

if TYPE_CHECKING:
    import asyncio

_NO_BODY_STATUS = frozenset({204, 304})


class AuditedResponse:
    """A ResponseWriter that calls ``on_complete`` once, just before the response's last
    bytes are handed to the connection (or, for a response that never completes — a dropped
    client, an upgraded connection — when ``complete()`` is called at the end).

    ``on_complete`` returning False means the record could not be written and the answer
    must not go out (strict audit mode): a response not yet started is replaced by a 503
    Status, one already started is cut (``ConnectionAbortedError``) before its last bytes."""

    __slots__ = (
        "_bodiless",
        "_done",
        "_inner",
        "_ok",
        "_on_complete",
        "_remaining",
        "_replaced",
        "_status",
    )

    def __init__(
        self,
        inner: ResponseWriter,
        on_complete: Callable[[], bool | None],
        *,
        head_request: bool = False,
    ) -> None:
        self._inner = inner
        self._on_complete = on_complete
        self._bodiless = head_request
        self._done = False
        self._ok = True
        self._replaced = False  # the 503 went out instead; the handler's writes are dropped
        self._remaining: int | None = None
        self._status = 0

    @property
    def started(self) -> bool:
        return self._inner.started

    @property
    def status(self) -> int:
        return self._status or self._inner.status

    def complete(self) -> bool:
        """Record now unless already recorded (idempotent); whether the answer may go out."""
        if not self._done:
            self._done = True
            self._ok = self._on_complete() is not False
        return self._ok

    async def send(self, status: int, headers: Headers, body: bytes = b"") -> None:
        if not self._inner.started:
            self._status = status
        if not self.complete() and not self._inner.started:
            status, headers, body = _unaudited(headers)
            self._status = status
        await self._inner.send(status, headers, body)

    async def start(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        self._status = status
        if status != 101 and (length == 0 or self._bodiless or status in _NO_BODY_STATUS):
            if not self.complete():  # the head is all there is
                self._replaced = True
                status, headers, body = _unaudited(headers)
                self._status = status
                await self._inner.send(status, headers, body)
                return
        self._remaining = length
        await self._inner.start(status, headers, length=length)

    async def write(self, data: bytes) -> None:
        if self._replaced:
            return
        if self._remaining is not None and data:
            self._remaining -= len(data)
            if self._remaining <= 0 and not self.complete():
                raise ConnectionAbortedError(_UNAUDITED_MESSAGE)
        await self._inner.write(data)

    async def end(self) -> None:
        if self._replaced:
            return
        if not self.complete():
            raise ConnectionAbortedError(_UNAUDITED_MESSAGE)
        await self._inner.end()

    def client_gone(self) -> Awaitable[None]:
        return self._inner.client_gone()

    def cancel_on_disconnect(self) -> None:
        self._inner.cancel_on_disconnect()

    async def detach(self) -> tuple[asyncio.Transport, bytes]:
        return await self._inner.detach()


_UNAUDITED_MESSAGE = "the request could not be audited: the audit log cannot be written"


def audit_unavailable() -> ServiceUnavailable:
    """The error of a request refused because its record could not be written."""
    return ServiceUnavailable(_UNAUDITED_MESSAGE, retry_after=1)


def _unaudited(headers: Headers) -> tuple[int, Headers, bytes]:
    """The 503 Status that replaces an answer whose audit record was lost (strict mode)."""
    error = audit_unavailable()
    replacement: list[tuple[str, str]] = [h for h in headers if h[0].lower() == "audit-id"]
    replacement += [
        ("cache-control", "no-cache, private"),
        ("content-type", "application/json"),
        ("x-content-type-options", "nosniff"),
        ("retry-after", "1"),
    ]
    return error.code, replacement, encode_json(error.to_status())
