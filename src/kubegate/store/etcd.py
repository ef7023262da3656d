"""EtcdStore: the Store contract on etcd v3, for several kubegate replicas sharing one state.

Laid out as kube-apiserver lays out its etcd: key ``{prefix}/{resource}/{namespace}/{name}``
(prefix ``/registry`` by default), value the object's JSON without ``resourceVersion``, which
is the key's etcd ``mod_revision`` and is put back on every read (see etcd_codec).

Writes are single etcd transactions, so concurrency control happens inside etcd and holds
across replicas:

    create   if create_revision(key) == 0          then put            else KeyExists
    update   if mod_revision(key) == expected (or > 0 when no expectation)
                                                    then put            else read it:
                                                                        KeyNotFound/VersionConflict
    delete   likewise, deleting with prev_kv; the last state comes back stamped with the
             revision of the deletion (the transaction's header revision)

Writes to one key from one store are sent in call order (etcd would apply concurrent requests
in whatever order its goroutines reach raft). Failed transactions do not change the revision.
Reads are linearizable ranges; a list reports the header revision it was read at.

Watches are served from one etcd watch per store (etcd_watch.WatchFeeder); a write returns
once its own change has reached this store's watchers (bounded wait), so ``revision`` and
watch streams agree with what this replica acknowledged.

Failures: every etcd request has a deadline (``timeout``, 5 s by default) and fails with
StoreUnavailable past it, or at once when etcd refuses connections; the channels reconnect by
themselves (backoff capped at 2 s), so the store works again as soon as etcd is back, without
a restart. History compaction is etcd's job: run it with ``--auto-compaction-retention``.

Leases: ``create(..., ttl_seconds=N)`` attaches the key to a new etcd lease; etcd deletes it
N seconds later (at least etcd's minimum TTL, ~2 s) and watchers see DELETED. Updates keep the
key's lease (``ignore_lease``). The other backends have no TTL yet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aetcd import rpc

from kubegate.store import common, etcd_codec
from kubegate.store.base import (
    JSON,
    KeyExists,
    KeyNotFound,
    ListResult,
    RawListResult,
    StoreUnavailable,
    VersionConflict,
)
from kubegate.store.etcd_client import EtcdClient
from kubegate.store.etcd_config import EtcdConfig
from kubegate.store.etcd_watch import EtcdWatch, WatchFeeder
from kubegate.store.watchhub import DEFAULT_HISTORY, DEFAULT_QUEUE_SIZE

_Compare = rpc.Compare
# How long a write waits for its own change to reach this store's watchers.
_PUBLISH_WAIT = 1.0


class EtcdStore:
    """The Store protocol over an etcd v3 cluster."""

    def __init__(
        self,
        config: EtcdConfig,
        *,
        history: int = DEFAULT_HISTORY,
        watch_queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        self.config = config
        self._keys = etcd_codec.KeyCodec(config.prefix)
        self._client = EtcdClient(config)
        self._history = history
        self._watch_queue_size = watch_queue_size
        self._feeder: WatchFeeder | None = None
        self._revision = 0
        self._key_locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._state = "new"  # -> open -> closed

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, read the current revision and start following etcd; StoreUnavailable if
        etcd cannot be reached within the timeout."""
        if self._state != "new":
            raise RuntimeError("EtcdStore was already started")
        try:
            self._client.connect()
            probe = rpc.RangeRequest(key=self._keys.to_etcd("/registry"), keys_only=True)
            self._revision = (await self._client.range(probe)).header.revision
            feeder = WatchFeeder(
                self._client,
                self._keys,
                self._revision,
                history=self._history,
                queue_size=self._watch_queue_size,
            )
            feeder.start()
            self._feeder = feeder
            try:
                await asyncio.wait_for(feeder.connected.wait(), self.config.timeout)
            except TimeoutError:
                raise StoreUnavailable(
                    f"etcd at {self._client.endpoint} did not start a watch in time"
                ) from None
        except BaseException:
            await self._release()
            raise
        self._state = "open"

    async def close(self) -> None:
        """End all watches cleanly and close the connections; later calls fail."""
        if self._state == "closed":
            return
        self._state = "closed"
        await self._release()

    async def _release(self) -> None:
        self._state = "closed"
        if self._feeder is not None:
            await self._feeder.close()
        await self._client.close()

    @property
    def revision(self) -> int:
        if self._feeder is not None:
            return max(self._revision, self._feeder.latest)
        return self._revision

    # -- reads -------------------------------------------------------------------------------

    async def get(self, key: str) -> JSON:
        self._check_open()
        response = await self._client.range(rpc.RangeRequest(key=self._keys.to_etcd(key)))
        self._saw(response.header.revision)
        if not response.kvs:
            raise KeyNotFound(key)
        kv = response.kvs[0]
        return etcd_codec.decode(etcd_codec.stamp(kv.value, kv.mod_revision))

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "") -> ListResult:
        page = await self.list_raw(prefix, limit=limit, start_after=start_after)
        items = [etcd_codec.decode(raw) for raw in page.items]
        return ListResult(items, page.revision, page.continue_key)

    async def list_raw(
        self, prefix: str, *, limit: int = 0, start_after: str = ""
    ) -> RawListResult:
        self._check_open()
        start, end = self._keys.range_after(prefix, start_after)
        response = await self._client.range(rpc.RangeRequest(key=start, range_end=end, limit=limit))
        revision = response.header.revision
        self._saw(revision)
        kvs = response.kvs
        items = [etcd_codec.stamp(kv.value, kv.mod_revision) for kv in kvs]
        continue_key = self._keys.from_etcd(kvs[-1].key) if response.more and kvs else None
        return RawListResult(items, revision, continue_key)

    def watch(self, prefix: str, from_revision: int) -> EtcdWatch:
        self._check_open()
        assert self._feeder is not None
        # "From now" is the newest revision this store knows of: everything it has
        # acknowledged, so nothing written after this call can be missed.
        now = max(self.revision, self._feeder.hub.revision)
        return self._feeder.watch(prefix, from_revision or now)

    # -- writes ------------------------------------------------------------------------------

    async def create(self, key: str, obj: JSON, *, ttl_seconds: int | None = None) -> JSON:
        """Store a new object; with ``ttl_seconds``, etcd deletes it after that long."""
        self._check_open()
        value = etcd_codec.encode(obj)  # now: the caller may change obj while we wait
        target = self._keys.to_etcd(key)
        async with self._in_order(key):
            lease = await self._client.grant_lease(ttl_seconds) if ttl_seconds else 0
            response = await self._client.txn(
                rpc.TxnRequest(
                    compare=[_compare(target, _Compare.CREATE, _Compare.EQUAL, 0)],
                    success=[_put(target, value, lease=lease)],
                )
            )
        self._saw(response.header.revision)
        if not response.succeeded:
            raise KeyExists(key)
        return await self._acknowledged(value, response.header.revision)

    async def update(self, key: str, obj: JSON, expected_revision: int | None = None) -> JSON:
        self._check_open()
        value = etcd_codec.encode(obj)
        target = self._keys.to_etcd(key)
        response = await self._guarded(key, target, expected_revision, _put(target, value))
        return await self._acknowledged(value, response.header.revision)

    async def delete(self, key: str, expected_revision: int | None = None) -> JSON:
        self._check_open()
        target = self._keys.to_etcd(key)
        delete = rpc.RequestOp(
            request_delete_range=rpc.DeleteRangeRequest(key=target, prev_kv=True)
        )
        response = await self._guarded(key, target, expected_revision, delete)
        last = response.responses[0].response_delete_range.prev_kvs[0].value
        return await self._acknowledged(last, response.header.revision)

    async def guaranteed_update(
        self, key: str, mutate: Callable[[JSON], JSON], *, retries: int = 5
    ) -> JSON:
        return await common.guaranteed_update(self, key, mutate, retries=retries)

    async def _guarded(
        self, key: str, target: bytes, expected: int | None, operation: rpc.RequestOp
    ) -> rpc.TxnResponse:
        """Apply ``operation`` if the key exists (at ``expected``, when given)."""
        if expected is None:
            condition = _compare(target, _Compare.MOD, _Compare.GREATER, 0)
        else:
            condition = _compare(target, _Compare.MOD, _Compare.EQUAL, expected)
        read = rpc.RequestOp(request_range=rpc.RangeRequest(key=target))
        async with self._in_order(key):
            response = await self._client.txn(
                rpc.TxnRequest(compare=[condition], success=[operation], failure=[read])
            )
        self._saw(response.header.revision)
        if not response.succeeded:
            current = response.responses[0].response_range.kvs
            if not current:
                raise KeyNotFound(key)
            common.check_revision(key, expected, current[0].mod_revision)
            raise VersionConflict(key)  # pragma: no cover - the compare said it differs
        return response

    async def _acknowledged(self, value: bytes, revision: int) -> JSON:
        """The caller's copy of what was stored at ``revision``, once watchers have it."""
        assert self._feeder is not None
        with contextlib.suppress(TimeoutError):  # a slow watch must not fail a done write
            async with asyncio.timeout(min(_PUBLISH_WAIT, self.config.timeout)):
                await self._feeder.published(revision)
        return etcd_codec.decode(etcd_codec.stamp(value, revision))

    # -- helpers -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state != "open":
            raise StoreUnavailable("etcd store is not open")

    def _saw(self, revision: int) -> None:
        if revision > self._revision:
            self._revision = revision

    @contextlib.asynccontextmanager
    async def _in_order(self, key: str) -> AsyncIterator[None]:
        """Serialize this store's writes to ``key`` in call order (asyncio.Lock is FIFO)."""
        lock, users = self._key_locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._key_locks[key]


def _compare(key: bytes, target: int, result: int, revision: int) -> rpc.Compare:
    if target == _Compare.CREATE:
        return rpc.Compare(key=key, target=target, result=result, create_revision=revision)
    return rpc.Compare(key=key, target=target, result=result, mod_revision=revision)


def _put(key: bytes, value: bytes, *, lease: int | None = None) -> rpc.RequestOp:
    """A put with ``lease`` (0: none) for a new key; without one, an update that keeps
    whatever lease (TTL) the key was created with (``ignore_lease``)."""
    if lease is None:
        return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, ignore_lease=True))
    return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, lease=lease))
