"""Watch streams: ``GET ...?watch=1`` as newline-delimited JSON WatchEvents.

Semantics follow kube-apiserver: resourceVersion "" or "0" first replays the current
objects as ADDED events; a resourceVersion older than the store remembers yields an ERROR
event carrying a 410 Expired Status (clients relist); a watcher too slow for its bounded
buffer also gets 410 and its stream ends, so it never blocks writers. With
``allowWatchBookmarks`` a BOOKMARK is sent when the stream has been quiet for a while.
Once the stream has started, errors end it with an ERROR event, never a second header.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubegate.api.resources import ResourceType
from kubegate.api.tables import table_for
from kubegate.errors import APIError, BadRequest, Gone
from kubegate.server.codec import wants_table
from kubegate.server.context import RequestContext
from kubegate.server.object_filter import request_filter
from kubegate.server.respond import JSON_TYPE, base_headers, encode_json
from kubegate.store.base import Expired, Store, WatchEvent, WatchTooSlow, collection_prefix

DEFAULT_TIMEOUT = 1800.0  # kube's --min-request-timeout
_QUEUE_SIZE = 1024


class WatchSettings:
    def __init__(
        self,
        bookmark_interval: float = 30.0,
        max_timeout: float = 3600.0,
        watchers: Callable[[ResourceType], Any] | None = None,
    ) -> None:
        self.bookmark_interval = bookmark_interval
        self.max_timeout = max_timeout
        # resource type -> its apiserver_registered_watchers gauge (metrics.py), if counted
        self.watchers = watchers


async def serve_watch(
    ctx: RequestContext, store: Store, closing: asyncio.Event, settings: WatchSettings
) -> None:
    rt, info = ctx.resource, ctx.info
    assert rt is not None
    selection = request_filter(ctx, rt)
    try:
        timeout = float(ctx.param("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError as exc:
        raise BadRequest("timeoutSeconds must be a number") from exc
    timeout = min(max(timeout, 0.0), settings.max_timeout)
    rv_param = ctx.param("resourceVersion")
    try:
        start_rv = int(rv_param) if rv_param else 0
    except ValueError as exc:
        raise BadRequest(f'invalid resource version "{rv_param}"') from exc
    bookmarks = ctx.flag("allowWatchBookmarks")
    as_table = wants_table(ctx.request.header("accept"))
    prefix = collection_prefix(rt.plural, info.namespace if rt.namespaced else "")
    if info.name:
        selection = selection.only_named(info.name)
    selected = selection.matches

    send_initial = ctx.param("sendInitialEvents")
    if send_initial and send_initial not in ("true", "false"):
        raise BadRequest(f'sendInitialEvents "{send_initial}" is invalid: must be true or false')
    if send_initial == "true" and not bookmarks:
        raise BadRequest("sendInitialEvents=true requires allowWatchBookmarks=true")
    initial: list[dict[str, Any]] = []
    if start_rv == 0 or send_initial == "true":
        page = await store.list(prefix)
        initial = [o for o in page.items if selected(o)]
        start_rv = page.revision

    queue: asyncio.Queue[WatchEvent | BaseException | None] = asyncio.Queue(_QUEUE_SIZE)

    async def pump() -> None:
        try:
            async for event in store.watch(prefix, start_rv):
                await queue.put(event)
            await queue.put(None)
        except (Expired, WatchTooSlow) as exc:
            await queue.put(exc)

    headers = base_headers(ctx.audit_id)
    headers.append(("content-type", JSON_TYPE))
    await ctx.response.start(200, headers)
    writer = _EventWriter(ctx, rt, as_table)
    reader = asyncio.create_task(pump(), name=f"watch-pump {ctx.audit_id}")
    gone = asyncio.ensure_future(ctx.response.client_gone())
    stop = asyncio.create_task(closing.wait(), name=f"watch-closing {ctx.audit_id}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_rv = start_rv
    watching = settings.watchers(rt) if settings.watchers is not None else None
    if watching is not None:
        watching.inc()
    try:
        for obj in initial:
            await writer.send("ADDED", obj)
        if send_initial == "true":
            # The WatchList protocol (KEP-3157): a bookmark marks the end of the initial state.
            await writer.bookmark(start_rv, initial_events_end=True)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            wait_for = min(remaining, settings.bookmark_interval) if bookmarks else remaining
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getter, gone, stop}, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                getter.cancel()
                if gone in done or stop in done:
                    break
                if bookmarks and loop.time() < deadline:
                    await writer.bookmark(max(last_rv, start_rv))
                continue
            item = getter.result()
            if item is None:
                break
            if isinstance(item, BaseException):
                message = (
                    f"too old resource version: {start_rv} ({store.revision})"
                    if isinstance(item, Expired)
                    else "the watch fell too far behind and was closed; relist and watch again"
                )
                await writer.error(Gone(message))
                break
            last_rv = item.revision
            if item.type == "BOOKMARK":
                if bookmarks:
                    await writer.bookmark(item.revision)
                continue
            if item.object is not None and selected(item.object):
                if item.raw is not None and not as_table:
                    await writer.send_raw(item.type, item.raw)
                else:
                    await writer.send(item.type, item.object)
    except (ConnectionError, asyncio.CancelledError):
        raise
    except APIError as exc:
        with contextlib.suppress(ConnectionError):
            await writer.error(exc)
    finally:
        if watching is not None:
            watching.dec()
        for task in (reader, gone, stop):
            task.cancel()
        await asyncio.gather(reader, stop, return_exceptions=True)
    with contextlib.suppress(ConnectionError):
        await ctx.response.end()


class _EventWriter:
    def __init__(self, ctx: RequestContext, rt: ResourceType, as_table: bool) -> None:
        self.ctx = ctx
        self.rt = rt
        self.as_table = as_table
        self.first = True

    async def _write(self, event: dict[str, Any]) -> None:
        await self.ctx.response.write(encode_json(event) + b"\n")

    async def send(self, event_type: str, obj: dict[str, Any]) -> None:
        if self.as_table:
            rv = obj.get("metadata", {}).get("resourceVersion", "")
            table = table_for(self.rt.kind, [obj], now=datetime.now(UTC), resource_version=rv)
            if not self.first:
                table["columnDefinitions"] = []
            obj = table
        self.first = False
        await self._write({"type": event_type, "object": obj})

    async def send_raw(self, event_type: str, raw: bytes) -> None:
        """An event around the stored bytes: no re-encoding per watcher."""
        self.first = False
        await self.ctx.response.write(b'{"type":"' + event_type.encode() + b'","object":' + raw + b"}\n")

    async def bookmark(self, revision: int, *, initial_events_end: bool = False) -> None:
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_events_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj: dict[str, Any] = {
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version,
            "metadata": metadata,
        }
        if self.as_table:
            obj = {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "columnDefinitions": [],
                "rows": [],
            }
        await self._write({"type": "BOOKMARK", "object": obj})

    async def error(self, exc: APIError) -> None:
        await self._write({"type": "ERROR", "object": exc.to_status()})
