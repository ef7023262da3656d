"""A reflector: keeps a sink in step with one resource collection of a remote API server.

client-go's ``tools/cache/reflector.go`` semantics, for mirror mode:

- **list**: paginated (``limit`` + ``continue``); a ``continue`` token that expired (410)
  falls back to one list without ``limit``, as client-go's pager does. The whole list
  then *replaces* the sink's view (objects gone upstream are deleted), and the list's
  ``resourceVersion`` is where the watch starts;
- **watch**: from that resourceVersion with ``allowWatchBookmarks``; BOOKMARK events only
  move the resourceVersion on; a server timeout (the watch ends) watches again from there;
- **410 Gone** (the HTTP answer or an ERROR event) lists again at once;
- **errors**: every failure waits ``backoff`` (exponential, jittered, bounded) and then
  watches again from the last resourceVersion when the connection failed (client-go's
  ``isWatchErrorRetriable``), or lists again otherwise (an error answer, a sink failure);
- **resync** (optional): a full relist every ``resync_period`` seconds, so drift of any
  origin is repaired. (client-go's resync only replays its cache to handlers; replaying
  here would do nothing, so the relist is the useful meaning.)

Every network wait has a timeout: the client's request timeout for lists and for the
watch's response head, and the watch's idle timeout for the stream itself. Watches ask for
bookmarks, so a healthy stream is never silent for long: a stream quiet past the client's
idle timeout (mirror mode: two bookmark intervals and slack) is a failed watch, and the
reflector watches again from its resourceVersion on a new connection.

``status`` records what the server's metrics and logs report: synced, lists, relists,
errors, the time of the last successful list and the last error's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kubegate.client.api import APIClientError, APIConnectionError
from kubegate.client.api_watch import WatchClient
from kubegate.client.backoff import Backoff
from kubegate.client.kubeconfig import KubeconfigError

__all__ = ["Reflector", "ReflectorSink", "ReflectorStatus"]

log = logging.getLogger("kubegate.mirror")

JSON = dict[str, Any]
PAGE_SIZE = 500  # client-go's pager default
SHORT_WATCH = 1.0  # a watch that ends sooner without an event is a failure (client-go)
_RETRY_WATCH_CODES = frozenset({429, 500, 502, 503, 504})


class ReflectorSink(Protocol):
    """Where a reflector puts what it sees."""

    async def replace(self, items: list[JSON]) -> int:
        """Make the view exactly ``items`` (a complete list); returns how many changed."""

    async def apply(self, event_type: str, obj: JSON) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""


@dataclass(slots=True)
class ReflectorStatus:
    synced: bool = False  # a first list has been applied
    lists: int = 0  # successful lists, the first included
    relists: int = 0  # lists after the first (410 Gone, errors, resync)
    errors: int = 0
    last_sync: float | None = None  # wall-clock time of the last successful list
    last_error: str = ""


class _Relist(Exception):
    """The watch cannot continue from its resourceVersion: list again (now)."""


class Reflector:
    """List and watch ``path`` (e.g. ``/api/v1/services``) into ``sink`` until cancelled."""

    def __init__(
        self,
        client: WatchClient,
        path: str,
        sink: ReflectorSink,
        *,
        name: str,
        backoff: Backoff,
        watch_timeout: float = 300.0,
        resync_period: float = 0.0,
        page_size: int = PAGE_SIZE,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """``watch_timeout``: the shortest ``timeoutSeconds`` asked of the server; each watch
        asks for up to twice that at random (client-go's minWatchTimeout spread)."""
        self.client = client
        self.path = path
        self.sink = sink
        self.name = name
        self.backoff = backoff
        self.watch_timeout = watch_timeout
        self.resync_period = resync_period
        self.page_size = page_size
        self.status = ReflectorStatus()
        self.synced = asyncio.Event()
        self._rng = rng

    async def run(self) -> None:
        """List and watch until cancelled; never returns otherwise."""
        while True:
            try:
                resource_version = await self._list()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed list, or a sink that could not apply it
                await self._failed("list", exc)
                continue
            listed_at = time.monotonic()
            try:
                await self._watch(resource_version)
            except _Relist as exc:
                log.info("listing %s again: %s", self.name, exc)
                if time.monotonic() - listed_at < SHORT_WATCH:
                    # A list whose own resourceVersion is refused at once would otherwise
                    # turn into a busy loop of lists against the upstream.
                    await self._failed("watch", exc)

    # -- list ---------------------------------------------------------------------------

    async def _list(self) -> str:
        items, resource_version = await self._list_pages()
        changed = await self.sink.replace(items)
        status = self.status
        if status.lists:
            status.relists += 1
        status.lists += 1
        status.last_sync = time.time()
        if not status.synced:
            status.synced = True
            self.synced.set()
            log.info("%s synced (%d objects)", self.name, len(items))
        elif changed:
            log.info("%s relisted: %d objects changed", self.name, changed)
        return resource_version

    async def _list_pages(self) -> tuple[list[JSON], str]:
        """Every item of the collection and the resourceVersion of the (first page's)
        consistent snapshot."""
        query: list[tuple[str, str]] = [("limit", str(self.page_size))]
        first = await self.client.get_json(self.path, query)
        items = list(first.get("items") or [])
        resource_version = _list_version(first)
        token = (first.get("metadata") or {}).get("continue")
        while token:
            try:
                page = await self.client.get_json(self.path, [*query, ("continue", token)])
            except APIClientError as exc:
                if exc.code != 410:
                    raise
                # The snapshot behind the token is gone: one unpaginated list instead.
                whole = await self.client.get_json(self.path)
                return list(whole.get("items") or []), _list_version(whole)
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
        return items, resource_version

    # -- watch --------------------------------------------------------------------------

    async def _watch(self, resource_version: str) -> None:
        """Watch from ``resource_version``, again and again, until a relist is due: then
        raise _Relist (after backing off when a failure is the reason)."""
        resync_at = time.monotonic() + self.resync_period if self.resync_period > 0 else None
        while True:
            timeout = self.watch_timeout * (1.0 + self._rng())
            if resync_at is not None:
                remaining = resync_at - time.monotonic()
                if remaining <= 0:
                    raise _Relist("periodic resync")
                timeout = min(timeout, max(1.0, remaining))
            query = [
                ("watch", "true"),
                ("resourceVersion", resource_version),
                ("allowWatchBookmarks", "true"),
                ("timeoutSeconds", str(math.ceil(timeout))),
            ]
            started, events = time.monotonic(), 0
            try:
                async with contextlib.aclosing(self.client.watch(self.path, query)) as stream:
                    async for event in stream:
                        events += 1
                        resource_version = await self._handle(event, resource_version)
                if events == 0 and time.monotonic() - started < SHORT_WATCH:
                    raise APIConnectionError("the watch ended at once without an event")
            except APIClientError as exc:
                if exc.code == 410:
                    raise _Relist(f"410 Gone ({exc.message})") from exc
                await self._failed("watch", exc)
                if isinstance(exc, APIConnectionError) or exc.code in _RETRY_WATCH_CODES:
                    continue  # the same resourceVersion; a 410 then says if it is too old
                raise _Relist("after an error") from exc
            except (_Relist, asyncio.CancelledError):
                raise
            except Exception as exc:  # the sink or the credentials failed
                await self._failed("watch", exc)
                raise _Relist("after a failure") from exc

    async def _handle(self, event: JSON, resource_version: str) -> str:
        """Apply one watch event; returns the resourceVersion to resume from."""
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            raise APIConnectionError(f"a {kind} watch event without an object")
        if kind == "ERROR":
            code = int(obj.get("code") or 0)
            message = str(obj.get("message") or "")
            raise APIClientError(code, str(obj.get("reason") or ""), message)
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            await self.sink.apply(kind, obj)
        elif kind != "BOOKMARK":
            raise APIConnectionError(f"unknown watch event type {kind!r}")
        return version or resource_version

    async def _failed(self, what: str, exc: BaseException) -> None:
        self.status.errors += 1
        self.status.last_error = str(exc) or type(exc).__name__
        delay = self.backoff.next_delay()
        if isinstance(exc, APIClientError | KubeconfigError | _Relist):
            log.warning(
                "%s of %s failed: %s; retrying in %.1fs",
                what,
                self.name,
                self.status.last_error,
                delay,
            )
        else:
            log.error(
                "%s of %s failed; retrying in %.1fs",
                what,
                self.name,
                delay,
                exc_info=exc,
            )
        await asyncio.sleep(delay)


def _list_version(doc: JSON) -> str:
    return str((doc.get("metadata") or {}).get("resourceVersion") or "")
