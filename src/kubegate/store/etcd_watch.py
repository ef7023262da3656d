"""One etcd watch per store, fanned out in process: kube-apiserver's watch cache in miniature.

``WatchFeeder`` follows every key under the store's prefix with a single etcd watch (with
``prev_kv``, so a deletion carries the object's last state) and publishes each change to a
WatchHub, which gives every Store watcher its bounded buffer (WatchTooSlow), a resume window
of recent events (``history``), and read-only shared event objects decoded once per change,
not once per watcher. A thousand watchers on a replica cost etcd one watch.

Resume: when the etcd watch breaks (etcd restarted, connection lost, endpoint down), the
feeder opens a new one from the revision after the last event it published, with backoff,
on the next endpoint; Store watchers see nothing but a pause. If etcd compacted that history
in the meantime, the events in between are lost for good: the feeder starts a fresh hub at the
compaction revision and every open watcher ends with Expired (the API answers 410 Gone and
clients relist), exactly once.

Like kube-apiserver's watch cache, resuming from a revision older than this replica's
history is Expired even if etcd still has it; the history starts when the store starts.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging

import grpc
from aetcd import rpc

from kubegate.store import etcd_codec
from kubegate.store.base import EventType, Expired, StoreUnavailable, WatchEvent
from kubegate.store.etcd_client import EtcdClient, translate
from kubegate.store.watchhub import Watch, WatchHub

log = logging.getLogger(__name__)

_MIN_DELAY, _MAX_DELAY = 0.1, 2.0
_PUT = rpc.Event.EventType.PUT


class _Compacted(Exception):
    def __init__(self, revision: int) -> None:
        super().__init__(f"etcd compacted the watched history up to revision {revision}")
        self.revision = revision


class WatchFeeder:
    """Keeps ``hub`` fed from one etcd watch on ``[start, end)`` until closed."""

    def __init__(
        self,
        client: EtcdClient,
        keys: etcd_codec.KeyCodec,
        revision: int,
        *,
        history: int,
        queue_size: int,
    ) -> None:
        self._client = client
        self._keys = keys
        self._history = history
        self._queue_size = queue_size
        self.hub = WatchHub(revision, history=history, queue_size=queue_size)
        self.connected = asyncio.Event()  # an etcd watch is established right now
        self.closed = False
        self.latest = revision  # the newest revision any etcd response reported
        self._task: asyncio.Task[None] | None = None
        # Writers waiting until their own change has been published: (revision, seq, future).
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._sequence = itertools.count()

    def start(self) -> None:
        self._task = asyncio.create_task(
            self._run(), name=f"kubegate-etcd-watch:{self._keys.prefix}"
        )

    async def close(self) -> None:
        """Stop following etcd and end every watch cleanly."""
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.connected.clear()
        self._release(None)
        self.hub.close()

    def watch(self, prefix: str, from_revision: int) -> EtcdWatch:
        return EtcdWatch(self, self.hub.watch(prefix, from_revision))

    async def published(self, revision: int) -> None:
        """Wait until the change at ``revision`` has reached the hub, so that after a write
        returns every watcher on this replica has it, as with the local backends. Returns at
        once while the etcd watch is down (the write has succeeded either way); callers bound
        the wait."""
        if self.hub.revision >= revision or not self.connected.is_set():
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (revision, next(self._sequence), waiter))
        await waiter

    def _release(self, revision: int | None) -> None:
        """Wake writers waiting for ``revision`` or older (None: all of them)."""
        waiters = self._waiters
        while waiters and (revision is None or waiters[0][0] <= revision):
            waiter = heapq.heappop(waiters)[2]
            if not waiter.done():
                waiter.set_result(None)

    # -- the etcd side -----------------------------------------------------------------------

    async def _run(self) -> None:
        delay = _MIN_DELAY
        while True:
            endpoint = self._client.endpoint
            try:
                await self._follow(endpoint)
            except _Compacted as exc:
                log.warning("etcd watch lost its place (%s); open watches end with Expired", exc)
                self._restart_at(exc.revision)
                delay = _MIN_DELAY
                continue
            except StoreUnavailable as exc:
                if self.connected.is_set():
                    delay = _MIN_DELAY  # it had worked: retry soon
                log.warning("etcd watch broke (%s); resuming in %.1fs", exc, delay)
            except Exception:  # a bug must not silently end every watch of the replica
                log.exception("etcd watch failed; resuming in %.1fs", delay)
            finally:
                self.connected.clear()
                self._release(None)
            self._client.fail_over(endpoint)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY)

    async def _follow(self, endpoint: str) -> None:
        start, end = self._keys.range_after(etcd_codec.STORE_ROOT + "/", "")
        create = rpc.WatchCreateRequest(
            key=start,
            range_end=end,
            start_revision=self.hub.revision + 1,
            prev_kv=True,
            progress_notify=True,
        )
        call = self._client.open_watch()
        try:
            async with asyncio.timeout(self._client.timeout):
                await call.write(rpc.WatchRequest(create_request=create))
                response = await call.read()
            while True:
                if response is grpc.aio.EOF:
                    raise StoreUnavailable(f"etcd at {endpoint} ended the watch")
                self._handle(response)
                if response.created:
                    self.connected.set()
                response = await call.read()
        except grpc.aio.AioRpcError as exc:
            raise translate(exc, f"watch on {endpoint}") from exc
        except TimeoutError:
            raise StoreUnavailable(f"etcd at {endpoint} did not start a watch in time") from None
        finally:
            call.cancel()

    def _handle(self, response: rpc.WatchResponse) -> None:
        if response.compact_revision:
            raise _Compacted(response.compact_revision)
        if response.canceled:
            raise StoreUnavailable(f"etcd cancelled the watch: {response.cancel_reason}")
        hub = self.hub
        for event in response.events:
            revision = event.kv.mod_revision
            if revision <= hub.revision:
                # Only a multi-key transaction by another etcd client makes two changes share
                # a revision; kubegate never writes one.
                log.warning("skipping a second change at revision %d (%r)", revision, event.kv.key)
                continue
            published = self._event(event, revision)
            if published is not None:
                hub.publish(published)
        self.latest = max(self.latest, response.header.revision, hub.revision)
        caught_up = hub.revision
        if not response.events and not response.created:
            # A progress notification: everything up to its revision has been sent.
            caught_up = max(caught_up, response.header.revision)
        self._release(caught_up)

    def _event(self, event: rpc.Event, revision: int) -> WatchEvent | None:
        key = self._keys.from_etcd(event.kv.key)
        type_: EventType
        if event.type == _PUT:
            type_ = "ADDED" if event.kv.create_revision == revision else "MODIFIED"
            value = event.kv.value
        else:
            type_ = "DELETED"
            value = event.prev_kv.value
            if not event.HasField("prev_kv"):  # its history was compacted already
                log.warning("deletion of %s at %d came without its last state", key, revision)
                value = _skeleton(key)
        try:
            raw = etcd_codec.stamp(value, revision)
            return WatchEvent(type_, key, json.loads(raw), revision, raw)
        except (ValueError, TypeError, AttributeError) as exc:  # not written by kubegate
            log.warning("skipping %s at %d: value is not JSON (%s)", key, revision, exc)
            return None

    def _restart_at(self, compacted: int) -> None:
        """Continue from etcd's oldest revision with a fresh hub; old watchers get Expired."""
        old, self.hub = (
            self.hub,
            WatchHub(compacted - 1, history=self._history, queue_size=self._queue_size),
        )
        old.close()
        self._release(compacted - 1)


def _skeleton(key: str) -> bytes:
    """A minimal last state for a deletion whose object etcd no longer has."""
    parts = key.split("/")  # "", "registry", resource, [namespace,] name
    metadata = {"name": parts[-1]}
    if len(parts) == 5:
        metadata["namespace"] = parts[3]
    return json.dumps({"metadata": metadata}).encode()


class EtcdWatch:
    """A Store watch stream: a hub watch that ends with Expired if the feeder lost history."""

    __slots__ = ("_done", "_feeder", "_hub", "_inner")

    def __init__(self, feeder: WatchFeeder, inner: Watch) -> None:
        self._feeder = feeder
        self._hub = feeder.hub
        self._inner = inner
        self._done = False

    @property
    def revision(self) -> int:
        return self._inner.revision

    def __aiter__(self) -> EtcdWatch:
        return self

    async def __anext__(self) -> WatchEvent:
        try:
            return await self._inner.__anext__()
        except StopAsyncIteration:
            if self._done or self._feeder.closed or self._feeder.hub is self._hub:
                raise
            self._done = True
            raise Expired(
                f"etcd compacted history this watch had not seen yet (at {self._inner.revision})"
            ) from None
        except Exception:  # Expired or WatchTooSlow from the hub: the stream is over
            self._done = True
            raise

    async def aclose(self) -> None:
        self._done = True
        await self._inner.aclose()
