"""The watch serving loop (server/watch.py) in a real ``kubegate serve`` in this process, so
that its tasks, its store watches and its gauge can be counted: a client that leaves frees
everything at once, quiet streams get bookmarks, timeoutSeconds ends the stream, the WatchList
initial-events-end bookmark, and a client that does not read ends with 410 instead of the
server buffering for it."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kubegate.server.operations_settings import OperationsSettings
from kubegate.server.serve import RunningServer, start_server
from kubegate.server.settings import ServeSettings
from kubegate.store import factory
from kubegate.store.base import object_key
from kubegate.store.memory import MemoryStore

BOOKMARK_INTERVAL = 0.3
QUEUE_SIZE = 20  # the store's per-watcher buffer in these tests (default 1,000)
COLLECTION = "/api/v1/namespaces/default/configmaps"
SETTLE = 5.0  # seconds for a left watch to be gone


@pytest.fixture
async def kg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningServer]:
    """kubegate serve in this process, memory store with small watch buffers, quick bookmarks."""
    monkeypatch.setattr(
        factory, "MemoryStore", functools.partial(MemoryStore, watch_queue_size=QUEUE_SIZE)
    )
    settings = ServeSettings(
        secure_port=0,
        data_dir=tmp_path / "data",
        store_url="memory:",
        run_controllers=False,
        watch_bookmark_interval=BOOKMARK_INTERVAL,
        shutdown_grace=2.0,
        operations=OperationsSettings(tls_reload_interval=0),
    )
    running, stop = await start_server(settings, out=io.StringIO())
    try:
        yield running
    finally:
        await stop()  # type: ignore[misc]


class WatchClient:
    """One watch request over TLS with the admin certificate; reads one event per chunk."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, kg: RunningServer, query: str, accept: str = "") -> WatchClient:
        data = Path(kg.kubeconfig).parent
        context = ssl.create_default_context(cafile=str(data / "ca.crt"))
        context.load_cert_chain(data / "admin.crt", data / "admin.key")
        url = urlsplit(kg.url)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(url.hostname, url.port, ssl=context), 10
        )
        extra = f"Accept: {accept}\r\n" if accept else ""
        writer.write(
            f"GET {COLLECTION}?{query} HTTP/1.1\r\nHost: {url.netloc}\r\n{extra}\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head
        return cls(reader, writer)

    async def event(self, within: float = 10) -> dict[str, Any] | None:
        """The next event; None when the stream has ended (the last chunk)."""
        async with asyncio.timeout(within):
            size = int((await self.reader.readline()).strip(), 16)
            data = await self.reader.readexactly(size + 2)
        return json.loads(data[:-2]) if size else None

    def close(self) -> None:
        self.writer.transport.abort()


def watch_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("watch")]


def store_watchers(kg: RunningServer) -> int:
    return kg.store._hub.watcher_count  # type: ignore[attr-defined]


async def create(kg: RunningServer, name: str, data: str = "") -> dict[str, Any]:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"x": data},
    }
    return await kg.store.create(object_key("configmaps", "default", name), obj)


async def poll(condition: Any, seconds: float = SETTLE) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_client_leaving_mid_watch_frees_its_task_and_store_watch(kg: RunningServer):
    """A client that disconnects mid-watch leaves no task and no store watch behind."""
    tasks, watchers = len(watch_tasks()), store_watchers(kg)
    client = await WatchClient.open(kg, "watch=1&resourceVersion=0")
    await create(kg, "before-leaving")
    assert (await client.event() or {}).get("type") == "ADDED"
    assert len(watch_tasks()) > tasks and store_watchers(kg) == watchers + 1
    client.close()
    assert await poll(lambda: len(watch_tasks()) <= tasks and store_watchers(kg) <= watchers)


async def test_quiet_watch_gets_bookmarks_at_its_last_revision(kg: RunningServer):
    """With allowWatchBookmarks, a quiet stream gets BOOKMARKs carrying the last revision."""
    client = await WatchClient.open(kg, "watch=1&allowWatchBookmarks=true&resourceVersion=0")
    try:
        created = await create(kg, "then-quiet")
        added = await client.event()
        assert added is not None and added["type"] == "ADDED"
        for _ in range(2):
            mark = await client.event(within=BOOKMARK_INTERVAL * 10)
            assert mark is not None and mark["type"] == "BOOKMARK"
            rv = created["metadata"]["resourceVersion"]
            assert mark["object"]["metadata"]["resourceVersion"] == rv
    finally:
        client.close()


async def test_watch_without_bookmarks_stays_silent(kg: RunningServer):
    """Without allowWatchBookmarks a quiet stream carries nothing until the next event."""
    client = await WatchClient.open(kg, "watch=1&resourceVersion=0")
    try:
        with pytest.raises(TimeoutError):
            await client.event(within=BOOKMARK_INTERVAL * 3)
        await create(kg, "after-silence")
        assert (await client.event() or {}).get("type") == "ADDED"
    finally:
        client.close()


async def test_timeout_seconds_ends_the_stream_cleanly(kg: RunningServer):
    """timeoutSeconds ends the response with its last chunk, and frees the store watch."""
    watchers = store_watchers(kg)
    client = await WatchClient.open(kg, "watch=1&resourceVersion=0&timeoutSeconds=1")
    try:
        assert await client.event(within=5) is None
        assert await poll(lambda: store_watchers(kg) <= watchers)
    finally:
        client.close()


async def test_send_initial_events_ends_them_with_a_bookmark(kg: RunningServer):
    """sendInitialEvents=true: the existing objects as ADDED, then the initial-events-end
    BOOKMARK at the list's revision, then live events."""
    first = await create(kg, "initial-one")
    client = await WatchClient.open(
        kg,
        "watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    )
    try:
        added = await client.event()
        assert added is not None and added["object"]["metadata"]["name"] == "initial-one"
        mark = await client.event()
        assert mark is not None and mark["type"] == "BOOKMARK"
        metadata = mark["object"]["metadata"]
        assert metadata["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert int(metadata["resourceVersion"]) >= int(first["metadata"]["resourceVersion"])
        await create(kg, "live-one")
        live = await client.event()
        assert live is not None and live["object"]["metadata"]["name"] == "live-one"
    finally:
        client.close()


async def test_client_that_does_not_read_gets_410_instead_of_a_growing_buffer(kg: RunningServer):
    """A client that stops reading is dropped by the store (WatchTooSlow) once its bounded
    buffer is full, and finds a 410 ERROR event at the end of what it had not read."""
    watchers = store_watchers(kg)
    client = await WatchClient.open(kg, "watch=1&resourceVersion=0")
    try:
        big = "x" * 100_000
        for index in range(2_000):  # ~200 MB if nothing pushed back: the test would fail
            await create(kg, f"unread-{index}", big)
            await asyncio.sleep(0)  # let the watch write what it can
            if store_watchers(kg) <= watchers:
                break
        assert store_watchers(kg) <= watchers, "the unread watch was never dropped"
        last: dict[str, Any] | None = None
        while (event := await client.event()) is not None:
            last = event
        assert last is not None and last["type"] == "ERROR"
        assert last["object"]["code"] == 410
        assert "fell too far behind" in last["object"]["message"]
    finally:
        client.close()


async def test_table_watch_sends_column_definitions_once(kg: RunningServer):
    """A Table watch (kubectl get -w) renders each event as a one-row Table, columns first."""
    client = await WatchClient.open(
        kg,
        "watch=1&resourceVersion=0",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    try:
        await create(kg, "table-one")
        await create(kg, "table-two")
        one, two = await client.event(), await client.event()
        assert one is not None and two is not None
        assert one["object"]["kind"] == two["object"]["kind"] == "Table"
        assert one["object"]["columnDefinitions"] and two["object"]["columnDefinitions"] == []
        assert two["object"]["rows"][0]["cells"][0] == "table-two"
    finally:
        client.close()
