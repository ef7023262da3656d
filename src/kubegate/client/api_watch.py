"""Watch streams for ``APIClient``: ``GET ...?watch=true`` as a stream of decoded events.

The API server answers a watch with one JSON ``WatchEvent`` per line (``{"type": "ADDED",
"object": {...}}``), kept open until its ``timeoutSeconds`` or until something breaks.
``WatchClient.watch`` yields the events as dicts; an error answer before the stream starts
raises ``APIClientError`` with the Status's code (410 Expired included), and a stream that
breaks, stalls for ``idle_timeout`` seconds or sends something that is not JSON raises
``APIConnectionError``. A watch that simply ends (the server's timeout) ends the iteration.

Watches use their own keep-alive pool, whose idle timeout is the watch's, so a quiet
resource (Nodes rarely change) is not mistaken for a dead connection by the list pool's
shorter limits. A silently dead connection is found two ways: TCP keepalive on the watch
connections (a peer that stopped answering, ~1 minute) and ``idle_timeout``, which callers
asking for ``allowWatchBookmarks`` can set to a couple of bookmark intervals (a connection
that stays open but carries nothing, e.g. through a hung middlebox).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import urlencode

from kubegate.client.api import (
    USER_AGENT,
    APIClient,
    APIClientError,
    APIConnectionError,
    Query,
    _error_from_answer,
)
from kubegate.client.credentials import Credentials
from kubegate.client.kubeconfig import ClientConfig
from kubegate.http import TCPKeepalive, UpstreamError, UpstreamPool

__all__ = ["MAX_EVENT_BYTES", "WatchClient"]

MAX_EVENT_BYTES = 64 * 1024 * 1024  # one event bigger than this ends the watch
_ERROR_BODY = 64 * 1024
WATCH_KEEPALIVE = TCPKeepalive()  # a dead peer is found within ~1 minute


class WatchClient(APIClient):
    """``APIClient`` (paged lists with ``get_json``) plus streamed watches."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        credentials: Credentials | None = None,
        timeout: float = 30.0,
        watch_idle_timeout: float = 660.0,
        tcp_keepalive: TCPKeepalive | None = WATCH_KEEPALIVE,
    ) -> None:
        """``watch_idle_timeout``: the longest silence a watch may keep (with bookmarks, a
        couple of bookmark intervals; without, longer than the ``timeoutSeconds`` asked for,
        after which the server ends the watch itself). ``tcp_keepalive``: for the watch
        connections (None: off)."""
        super().__init__(config, credentials=credentials, timeout=timeout)
        self.watch_idle_timeout = watch_idle_timeout
        self.tcp_keepalive = tcp_keepalive
        self._watch_pool: UpstreamPool | None = None

    async def aclose(self) -> None:
        await super().aclose()
        if self._watch_pool is not None:
            await self._watch_pool.close()
            self._watch_pool = None

    async def watch(self, path: str, query: Query) -> AsyncGenerator[dict[str, Any], None]:
        """The events of one watch request; see the module docstring. Use it under
        ``contextlib.aclosing`` so that leaving early closes the connection at once."""
        target_path = self._prefix + path + "?" + urlencode(query)
        headers = [
            ("Host", self._netloc),
            ("Accept", "application/json"),
            ("User-Agent", USER_AGENT),
            *await self.credentials.auth_headers(),
        ]
        target = await self._target()
        pool = self._pool_for_watch()
        try:
            async with asyncio.timeout(self.timeout):
                response = await pool.request(target, "GET", target_path, headers)
        except TimeoutError:
            raise APIConnectionError(
                f"the server did not answer the watch within {self.timeout:g}s", host=self._netloc
            ) from None
        except UpstreamError as exc:
            refused = self.config.proxy is None and "connection refused" in exc.message
            raise APIConnectionError(exc.message, host=self._netloc, refused=refused) from exc
        try:
            if response.status != 200:
                async with asyncio.timeout(self.timeout):
                    body = await response.read(_ERROR_BODY)
                if response.status == 401 and self.config.exec is not None:
                    self.credentials.invalidate()
                raise _error_from_answer(response.status, body)
            async for line in _lines(response, self.watch_idle_timeout, self._netloc):
                try:
                    event = json.loads(line)
                except ValueError as exc:
                    raise APIConnectionError(f"the watch sent invalid JSON: {exc}") from exc
                if not isinstance(event, dict):
                    raise APIConnectionError("the watch sent an event that is not an object")
                yield event
        except (TimeoutError, UpstreamError, ConnectionError) as exc:
            raise APIConnectionError(f"the watch failed: {exc}", host=self._netloc) from exc
        finally:
            await response.aclose()

    def _pool_for_watch(self) -> UpstreamPool:
        if self._watch_pool is None:
            self._watch_pool = UpstreamPool(
                connect_timeout=min(self.timeout, 10.0),
                response_header_timeout=self.timeout,
                idle_timeout=self.watch_idle_timeout,
                tcp_keepalive=self.tcp_keepalive,
            )
        return self._watch_pool


async def _lines(
    response: AsyncIterator[bytes], idle_timeout: float, host: str
) -> AsyncIterator[bytes]:
    """Newline-delimited records of a streamed body; a silence of ``idle_timeout`` fails."""
    buffer = bytearray()
    while True:
        try:
            async with asyncio.timeout(idle_timeout):
                chunk = await anext(response, None)
        except TimeoutError:
            raise APIConnectionError(
                f"the watch sent nothing for {idle_timeout:g}s", host=host
            ) from None
        if chunk is None:
            if buffer.strip():
                yield bytes(buffer)
            return
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[start:end])
            start = end + 1
            if line.strip():
                yield line
        del buffer[:start]
        if len(buffer) > MAX_EVENT_BYTES:
            raise APIClientError(0, "", f"a watch event exceeds {MAX_EVENT_BYTES} bytes")
