"""SqliteStore: the durable default backend, one SQLite file owned by one server process.

Layout::

    kv(key TEXT PRIMARY KEY, value BLOB, mod_revision INTEGER, create_revision INTEGER)
    meta(id = 0, revision INTEGER)      -- deletes bump the revision without leaving a row

``value`` is the object's final JSON (``metadata.resourceVersion`` already inside), so a list
can be served straight from these bytes (``list_raw``).

Durability: WAL journal with ``synchronous=FULL`` (the WAL is fsynced at every commit). A
write's row change and its revision bump commit in one transaction, and the caller is answered
only after COMMIT returned, so after kill -9 or power loss every acknowledged write is present
and nothing is half-written. On start the revision continues from ``meta``; the watch history
is not persisted, so resuming a watch from before a restart is Expired (clients relist).

Writes: callers queue their write to one writer task, which hands batches to one writer
thread, the only connection that writes. Writes arriving while a commit is in flight are
committed together in the next transaction (group commit): one fsync per batch, yet each
write is still checked on its own (exists? resourceVersion?) and given its own revision in
arrival order, and a failing write fails alone. The writer task then publishes the events in
revision order and answers the callers.

Reads: ``get`` runs on the event loop thread with its own connection (a primary-key lookup
costs ~10 us, less than a hop to a thread); ``list`` runs on a reader thread, reading the
revision and the rows in one read transaction so the revision matches the snapshot. Under WAL
readers never wait for the writer.

No read cache, decided by measurement (bench/store_bench.py, 10,000 Services of ~850 bytes,
2-core shared VM): ``list_raw`` takes ~15 ms, of which the SQL range scan is nearly all;
``list`` takes ~160-230 ms of CPU, nearly all of it json decoding. A cache of dicts would not
save that, because returned objects must not alias it and copying a dict costs about as much
as decoding it, and it would hold ~25 MiB more per 10,000 Services. (A cache of
marshal-encoded values would cut decoding by ~40% for ~8 MiB per 10,000: not worth a second
copy of the truth yet.) The hot path for large lists is ``list_raw``. Process RSS with 10,000
Services stored: ~61 MiB, ~110 MiB peak while a decoded 10,000-item list is alive.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubegate.store import common
from kubegate.store.base import (
    JSON,
    EventType,
    KeyExists,
    KeyNotFound,
    ListResult,
    RawListResult,
    StoreUnavailable,
    WatchEvent,
)
from kubegate.store.watchhub import DEFAULT_HISTORY, DEFAULT_QUEUE_SIZE, Watch, WatchHub

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kv (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        mod_revision INTEGER NOT NULL,
        create_revision INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        revision INTEGER NOT NULL)""",
    "INSERT OR IGNORE INTO meta (id, revision) VALUES (0, 0)",
)
DEFAULT_MAX_BATCH = 256

# Aliases at module level, where ``list`` is still the builtin and not SqliteStore.list.
_Outcomes = list[tuple[int, bytes] | Exception]  # per write: (revision, stored bytes) or error
_Rows = list[tuple[str, Any]]  # (key, stored bytes or decoded object)
_Params = list[object]


@dataclass(slots=True)
class _Write:
    """One queued write; ``type`` is the event it produces (ADDED = create, and so on)."""

    type: EventType
    key: str
    obj: JSON | None  # a private snapshot, safe to encode on the writer thread
    expected_revision: int | None
    future: asyncio.Future[JSON]


class SqliteStore:
    """The Store protocol over one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        history: int = DEFAULT_HISTORY,
        watch_queue_size: int = DEFAULT_QUEUE_SIZE,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.path = os.fspath(path)
        self._history = history
        self._watch_queue_size = watch_queue_size
        self._max_batch = max_batch
        self._state = "new"  # -> open -> closing -> closed
        self._revision = 0
        self._hub: WatchHub | None = None
        self._queue: asyncio.Queue[_Write | None] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="kubegate-sqlite-write")
        self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="kubegate-sqlite-read")
        self._write_conn: sqlite3.Connection | None = None  # used on the write thread only
        self._read_conn: sqlite3.Connection | None = None  # used on the read thread only
        self._get_conn: sqlite3.Connection | None = None  # used on the event loop thread only

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._state != "new":
            raise RuntimeError(f"SqliteStore({self.path!r}) was already started")
        try:
            revision = await self._on(self._write_thread, self._open_writer)
            await self._on(self._read_thread, self._open_reader)
            self._get_conn = _connect(self.path)
        except sqlite3.Error as exc:
            await self._release()
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        except BaseException:
            await self._release()
            raise
        self._revision = revision
        self._hub = WatchHub(revision, history=self._history, queue_size=self._watch_queue_size)
        self._writer_task = asyncio.create_task(
            self._write_loop(), name=f"kubegate-sqlite-writer:{self.path}"
        )
        self._state = "open"

    async def close(self) -> None:
        """Commit the writes already queued, end all watches, close the file."""
        if self._state == "new":
            self._state = "closed"
        if self._state == "closed":
            return
        if self._state == "closing":  # a concurrent close() is doing the work
            await self._closed.wait()
            return
        self._state = "closing"
        self._queue.put_nowait(None)
        assert self._writer_task is not None and self._hub is not None
        try:
            await self._writer_task
            self._hub.close()
            await self._release()
        finally:
            self._state = "closed"
            self._closed.set()

    async def _release(self) -> None:
        if self._get_conn is not None:
            self._get_conn.close()
        if self._read_conn is not None:
            await self._on(self._read_thread, self._read_conn.close)
        if self._write_conn is not None:
            await self._on(self._write_thread, self._write_conn.close)
        self._get_conn = self._read_conn = self._write_conn = None
        self._read_thread.shutdown()
        self._write_thread.shutdown()

    @property
    def revision(self) -> int:
        return self._revision

    # -- reads -------------------------------------------------------------------------------

    async def get(self, key: str) -> JSON:
        self._check_open()
        assert self._get_conn is not None
        try:
            row = self._get_conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite read failed: {exc}") from exc
        if row is None:
            raise KeyNotFound(key)
        return common.decode(row[0])

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "") -> ListResult:
        self._check_open()
        revision, rows, more = await self._read(self._scan, prefix, limit, start_after, True)
        continue_key = rows[-1][0] if more else None
        return ListResult([value for _, value in rows], revision, continue_key)

    async def list_raw(
        self, prefix: str, *, limit: int = 0, start_after: str = ""
    ) -> RawListResult:
        self._check_open()
        revision, rows, more = await self._read(self._scan, prefix, limit, start_after, False)
        continue_key = rows[-1][0] if more else None
        return RawListResult([value for _, value in rows], revision, continue_key)

    def watch(self, prefix: str, from_revision: int) -> Watch:
        self._check_open()
        assert self._hub is not None
        return self._hub.watch(prefix, from_revision)

    # -- writes ------------------------------------------------------------------------------

    async def create(self, key: str, obj: JSON) -> JSON:
        return await self._submit("ADDED", key, obj, None)

    async def update(self, key: str, obj: JSON, expected_revision: int | None = None) -> JSON:
        return await self._submit("MODIFIED", key, obj, expected_revision)

    async def delete(self, key: str, expected_revision: int | None = None) -> JSON:
        return await self._submit("DELETED", key, None, expected_revision)

    async def guaranteed_update(
        self, key: str, mutate: Callable[[JSON], JSON], *, retries: int = 5
    ) -> JSON:
        return await common.guaranteed_update(self, key, mutate, retries=retries)

    async def _submit(
        self, type_: EventType, key: str, obj: JSON | None, expected_revision: int | None
    ) -> JSON:
        self._check_open()
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        # Snapshot now: the writer thread encodes later, while other coroutines may be
        # mutating the caller's dict on the event loop thread.
        snapshot = None if obj is None else _snapshot(obj)
        self._queue.put_nowait(_Write(type_, key, snapshot, expected_revision, future))
        return await future

    async def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            stopping = None in batch  # close() queues None after the last accepted write
            writes = [w for w in batch if w is not None and not w.future.cancelled()]
            if writes:
                await self._commit(writes)

    async def _commit(self, writes: Sequence[_Write]) -> None:
        assert self._hub is not None
        try:
            outcomes = await self._on(self._write_thread, self._apply_batch, writes)
        except Exception as exc:
            for write in writes:
                error = StoreUnavailable(f"sqlite write failed: {exc}")
                error.__cause__ = exc
                _settle(write.future, error=error)
            return
        for write, outcome in zip(writes, outcomes, strict=True):
            if isinstance(outcome, Exception):
                _settle(write.future, error=outcome)
                continue
            revision, raw = outcome
            self._revision = revision
            self._hub.publish(WatchEvent(write.type, write.key, common.decode(raw), revision, raw))
            _settle(write.future, result=common.decode(raw))

    # -- on the writer thread ----------------------------------------------------------------

    def _open_writer(self) -> int:
        conn = _connect(self.path)
        self._write_conn = conn
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreUnavailable(f"{self.path}: cannot use a WAL journal (got {mode!r})")
        with _transaction(conn, "BEGIN IMMEDIATE"):
            for statement in _SCHEMA:
                conn.execute(statement)
            (revision,) = conn.execute("SELECT revision FROM meta").fetchone()
        return int(revision)

    def _apply_batch(self, writes: Sequence[_Write]) -> _Outcomes:
        """Apply ``writes`` in one transaction; a write that fails its checks is skipped."""
        conn = self._write_conn
        assert conn is not None
        outcomes: _Outcomes = []
        with _transaction(conn, "BEGIN IMMEDIATE"):
            (first,) = conn.execute("SELECT revision FROM meta").fetchone()
            revision = first
            for write in writes:
                try:
                    raw = _apply(conn, write, revision + 1)
                except sqlite3.Error:
                    raise  # the whole batch rolls back; every caller gets StoreUnavailable
                except Exception as exc:  # checks and encoding run before any row changes
                    outcomes.append(exc)
                    continue
                revision += 1
                outcomes.append((revision, raw))
            if revision != first:
                conn.execute("UPDATE meta SET revision = ? WHERE id = 0", (revision,))
        return outcomes

    # -- on the reader thread ----------------------------------------------------------------

    def _open_reader(self) -> None:
        self._read_conn = _connect(self.path)

    def _scan(
        self, prefix: str, limit: int, start_after: str, decode: bool
    ) -> tuple[int, _Rows, bool]:
        conn = self._read_conn
        assert conn is not None
        end = common.prefix_end(prefix)
        sql = "SELECT key, value FROM kv WHERE key >= ? AND key > ?"
        params: _Params = [prefix, start_after]
        if end is not None:
            sql += " AND key < ?"
            params.append(end)
        sql += " ORDER BY key LIMIT ?"
        params.append(limit + 1 if limit else -1)
        with _transaction(conn, "BEGIN"):  # one snapshot for the revision and the rows
            (revision,) = conn.execute("SELECT revision FROM meta").fetchone()
            rows = conn.execute(sql, params).fetchall()
        more = bool(limit) and len(rows) > limit
        if more:
            del rows[limit:]
        if decode:
            rows = [(key, common.decode(value)) for key, value in rows]
        return revision, rows, more

    # -- helpers -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state != "open":
            raise StoreUnavailable(f"store {self.path!r} is not open")

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await self._on(self._read_thread, fn, *args)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite read failed: {exc}") from exc

    async def _on(self, thread: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(thread, fn, *args)


def _connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; every transaction here is explicit.
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA synchronous = FULL")
    return conn


class _transaction:
    """BEGIN ... COMMIT, or ROLLBACK on any exception (if SQLite has not already rolled back)."""

    def __init__(self, conn: sqlite3.Connection, begin: str) -> None:
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> None:
        self._conn.execute(self._begin)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


def _apply(conn: sqlite3.Connection, write: _Write, revision: int) -> bytes:
    """Check and apply one write at ``revision``; raise before changing anything if it fails."""
    key = write.key
    if write.type == "ADDED":
        if conn.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone() is not None:
            raise KeyExists(key)
        assert write.obj is not None
        raw = common.encode(write.obj, revision)
        conn.execute(
            "INSERT INTO kv (key, value, mod_revision, create_revision) VALUES (?, ?, ?, ?)",
            (key, raw, revision, revision),
        )
        return raw
    row = conn.execute("SELECT mod_revision FROM kv WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise KeyNotFound(key)
    common.check_revision(key, write.expected_revision, row[0])
    if write.type == "MODIFIED":
        assert write.obj is not None
        raw = common.encode(write.obj, revision)
        conn.execute(
            "UPDATE kv SET value = ?, mod_revision = ? WHERE key = ?", (raw, revision, key)
        )
        return raw
    (stored,) = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    raw = common.encode(common.decode(stored), revision)  # DELETED carries its own revision
    conn.execute("DELETE FROM kv WHERE key = ?", (key,))
    return raw


def _snapshot(value: Any) -> Any:
    """A private copy of the dicts and lists in a JSON value (other values are immutable)."""
    if type(value) is dict:
        return {key: _snapshot(item) for key, item in value.items()}
    if type(value) is list:
        return [_snapshot(item) for item in value]
    return value


def _settle(
    future: asyncio.Future[JSON], *, result: JSON | None = None, error: Exception | None = None
) -> None:
    """Answer a caller unless it stopped waiting (a cancelled caller's write may still land)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
