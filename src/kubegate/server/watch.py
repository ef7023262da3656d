"""Watch streams: ``GET ...?watch=1`` as newline-delimited JSON WatchEvents.

Semantics follow kube-apiserver: resourceVersion "" or "0" first replays the current
objects as ADDED events; a resourceVersion older than the store remembers yields an ERROR
event carrying a 410 Expired Status (clients relist); a watcher too slow for its bounded
buffer also gets 410 and its stream ends, so it never blocks writers. With
``allowWatchBookmarks`` a BOOKMARK is sent when the stream has been quiet for a while.
Once the stream has started, errors end it with an ERROR event, never a second header.

Cost per event: one task per watch iterates the store watch and writes each event as it
comes (``_Delivery.deliver``): a store wake-up and a write, nothing else. The rare conditions
(client gone, server closing, timeoutSeconds, a quiet stream due a bookmark) are watched by
the request's own task in one ``asyncio.wait`` that wakes only for them; it ends the stream
by cancelling the delivery task. Backpressure: a client that does not read makes the write
wait (the connection's drain), the store watch's bounded buffer fills behind it, and the
store ends that watch with WatchTooSlow — an ERROR event here — instead of buffering more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from kubegate.api.resources import ResourceType
from kubegate.errors import APIError, BadRequest, Gone
from kubegate.server.codec import wants_table
from kubegate.server.context import RequestContext
from kubegate.server.object_filter import request_filter
from kubegate.server.respond import JSON_TYPE, base_headers
from kubegate.server.watch_events import EventWriter
from kubegate.store.base import Expired, Store, WatchStream, WatchTooSlow, collection_prefix

DEFAULT_TIMEOUT = 1800.0  # kube's --min-request-timeout
_TOO_SLOW = "the watch fell too far behind and was closed; relist and watch again"


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

    send_initial = ctx.param("sendInitialEvents")
    if send_initial and send_initial not in ("true", "false"):
        raise BadRequest(f'sendInitialEvents "{send_initial}" is invalid: must be true or false')
    if send_initial == "true" and not bookmarks:
        raise BadRequest("sendInitialEvents=true requires allowWatchBookmarks=true")
    initial: list[dict[str, Any]] = []
    selected = selection.matches
    if start_rv == 0 or send_initial == "true":
        page = await store.list(prefix)
        initial = [o for o in page.items if selected(o)]
        start_rv = page.revision

    # Registered before the response starts: nothing written from here on is missed, and a
    # store that cannot watch answers with a status, not a broken stream.
    stream = store.watch(prefix, start_rv)
    watching = settings.watchers(rt) if settings.watchers is not None else None
    try:
        headers = base_headers(ctx.audit_id)
        headers.append(("content-type", JSON_TYPE))
        await ctx.response.start(200, headers)
        writer = EventWriter(ctx.response, rt, as_table)
        if watching is not None:
            watching.inc()
        try:
            for obj in initial:
                await writer.send("ADDED", obj)
            if send_initial == "true":
                # The WatchList protocol (KEP-3157): a bookmark marks the end of the initial
                # state.
                await writer.bookmark(start_rv, initial_events_end=True)
            delivery = _Delivery(stream, writer, selected, start_rv, bookmarks=bookmarks)
            await delivery.run(
                ctx,
                closing,
                duration=timeout,
                bookmark_interval=settings.bookmark_interval if bookmarks else None,
                store=store,
            )
        except (ConnectionError, asyncio.CancelledError):
            raise
        except APIError as exc:
            with contextlib.suppress(ConnectionError):
                await writer.error(exc)
        finally:
            if watching is not None:
                watching.dec()
    finally:
        await stream.aclose()  # frees the store's buffer for this watcher at once
    with contextlib.suppress(ConnectionError):
        await ctx.response.end()


class _Delivery:
    """One watch after its initial events: a task that writes what the store watch yields,
    supervised for the rare conditions that end the stream or call for a bookmark."""

    __slots__ = (
        "as_table",
        "bookmarks",
        "last_event",
        "last_rv",
        "selected",
        "start_rv",
        "stream",
        "writer",
    )

    def __init__(
        self,
        stream: WatchStream,
        writer: EventWriter,
        selected: Callable[[Mapping[str, Any]], bool],
        start_rv: int,
        *,
        bookmarks: bool,
    ) -> None:
        self.stream = stream
        self.writer = writer
        self.selected = selected
        self.as_table = writer.as_table
        self.bookmarks = bookmarks
        self.start_rv = start_rv
        self.last_rv = start_rv  # the revision of the last event taken from the store
        self.last_event = asyncio.get_running_loop().time()  # when that happened

    async def run(
        self,
        ctx: RequestContext,
        closing: asyncio.Event,
        *,
        duration: float,
        bookmark_interval: float | None,
        store: Store,
    ) -> None:
        """Deliver until the stream ends, the client leaves, the server closes or
        ``duration`` seconds (timeoutSeconds) pass; write a bookmark whenever the stream has
        been quiet for ``bookmark_interval`` (None: never)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        if duration <= 0:
            return
        deliver = loop.create_task(self.deliver(store), name=f"watch {ctx.audit_id}")
        stop = loop.create_task(closing.wait(), name=f"watch-closing {ctx.audit_id}")
        gone = asyncio.ensure_future(ctx.response.client_gone())
        waits = {deliver, stop, gone}
        try:
            while True:
                now = loop.time()
                if now >= deadline:
                    return
                wake = deadline
                if bookmark_interval is not None:
                    due = self.last_event + bookmark_interval
                    if now >= due:
                        # Quiet: the delivery task is waiting on the store, not writing.
                        await self.writer.bookmark(self.last_rv)
                        self.last_event = now
                        due = now + bookmark_interval
                    wake = min(wake, due)
                done, _ = await asyncio.wait(
                    waits, timeout=wake - now, return_when=asyncio.FIRST_COMPLETED
                )
                if done:
                    break
            if deliver in done and stop not in done and gone not in done:
                deliver.result()  # an APIError or a broken connection ends the request
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(deliver, stop, return_exceptions=True)

    async def deliver(self, store: Store) -> None:
        """The steady state: take each event from the store watch and write it."""
        writer, selected, as_table = self.writer, self.selected, self.as_table
        clock = asyncio.get_running_loop().time
        try:
            async for event in self.stream:
                self.last_event = clock()
                self.last_rv = event.revision
                obj = event.object
                if obj is None:
                    if event.type == "BOOKMARK" and self.bookmarks:
                        await writer.bookmark(event.revision)
                elif selected(obj):
                    raw = event.raw
                    if raw is not None and not as_table:
                        await writer.send_raw(event.type, raw)
                    else:
                        await writer.send(event.type, obj)
        except Expired:
            message = f"too old resource version: {self.start_rv} ({store.revision})"
            await writer.error(Gone(message))
        except WatchTooSlow:
            await writer.error(Gone(_TOO_SLOW))
