"""EtcdStore beyond the shared contract, on a real etcd: several stores on one etcd, compaction,
outages and recovery, leases, TLS.

The contract itself runs on etcd in tests/unit/store. This module owns its etcd (it freezes,
kills and restarts it); each test uses its own key prefix.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aetcd
import pytest

from etcdkit import ETCD, MISSING, EtcdServer, EtcdTLS, free_port
from kubegate.store.base import (
    Expired,
    KeyNotFound,
    StoreUnavailable,
    VersionConflict,
    collection_prefix,
    object_key,
)
from kubegate.store.etcd import EtcdStore
from kubegate.store.etcd_config import EtcdConfig, TLSFiles

pytestmark = pytest.mark.skipif(ETCD is None, reason=MISSING)

DEFAULT = collection_prefix("configmaps", "default")
KEY_A = object_key("configmaps", "default", "a")
KEY_B = object_key("configmaps", "default", "b")
TIMEOUT = 1.0  # per etcd request, so outage tests stay short
_prefixes = itertools.count()
OpenStore = Callable[..., Awaitable[EtcdStore]]


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": data,
    }


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


async def take(stream: Any, count: int, within: float = 10.0) -> list[Any]:
    async with asyncio.timeout(within):
        return [await anext(stream) for _ in range(count)]


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("etcd-integration") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def running_etcd(etcd: EtcdServer) -> Iterator[EtcdServer]:
    """The module's etcd, brought back to running after a test that froze or stopped it."""
    yield etcd
    if etcd.proc is None:
        etcd.restart()
    else:
        etcd.thaw()


@pytest.fixture
async def open_store(etcd: EtcdServer) -> AsyncIterator[OpenStore]:
    """Start EtcdStores on one fresh prefix (so they share state); all closed at the end."""
    prefix = f"/it-{next(_prefixes)}"
    opened: list[EtcdStore] = []

    async def start(endpoint: str | None = None, **options: Any) -> EtcdStore:
        config = EtcdConfig((endpoint or etcd.endpoint,), prefix=prefix, timeout=TIMEOUT)
        store = EtcdStore(config, **options)
        await store.start()
        opened.append(store)
        return store

    yield start
    for store in opened:
        await store.close()


async def compact(etcd: EtcdServer, revision: int) -> None:
    """Compact etcd's history below ``revision``, as an operator's etcd would."""
    host, port = etcd.endpoint.split(":")
    async with aetcd.Client(host, int(port), timeout=5) as client:
        await client.compact(revision, physical=True)


# -- several stores, one etcd ----------------------------------------------------------------


async def test_a_write_through_one_store_is_seen_by_anothers_get_list_and_watch(
    open_store: OpenStore,
) -> None:
    """Two stores on one etcd and prefix behave as one store."""
    a, b = await open_store(), await open_store()
    watch = b.watch(DEFAULT, 0)
    created = await a.create(KEY_A, configmap("a", k="v"))
    assert await b.get(KEY_A) == created
    assert (await b.list(DEFAULT)).items == [created]
    [event] = await take(watch, 1)
    assert (event.type, event.object) == ("ADDED", created)


async def test_optimistic_concurrency_holds_across_stores(open_store: OpenStore) -> None:
    """An update through B makes A's copy stale: A's update with it is a VersionConflict."""
    a, b = await open_store(), await open_store()
    created = await a.create(KEY_A, configmap("a", k="v1"))
    await b.update(KEY_A, configmap("a", k="v2"), rv(created))
    with pytest.raises(VersionConflict):
        await a.update(KEY_A, configmap("a", k="v3"), rv(created))
    assert (await a.get(KEY_A))["data"] == {"k": "v2"}


async def test_resource_version_is_the_etcd_mod_revision(
    open_store: OpenStore, etcd: EtcdServer
) -> None:
    """What the store reports is etcd's own revision of the key, read by a plain etcd client."""
    store = await open_store()
    created = await store.create(KEY_A, configmap("a"))
    host, port = etcd.endpoint.split(":")
    async with aetcd.Client(host, int(port), timeout=5) as client:
        raw = await client.get(store.config.prefix.encode() + b"/configmaps/default/a")
    assert raw is not None and raw.mod_revision == rv(created)
    assert b"resourceVersion" not in raw.value  # kube's layout: the revision lives in etcd


async def test_a_dead_endpoint_in_the_list_is_passed_over(etcd: EtcdServer) -> None:
    """With several endpoints, the store finds the one that answers."""
    dead = f"127.0.0.1:{free_port()}"
    store = EtcdStore(EtcdConfig((dead, etcd.endpoint), prefix="/failover", timeout=TIMEOUT))
    await store.start()
    try:
        watch = store.watch(DEFAULT, 0)
        created = await store.create(KEY_A, configmap("a"))
        assert await store.get(KEY_A) == created
        assert [e.object for e in await take(watch, 1)] == [created]
    finally:
        await store.close()


# -- compaction ------------------------------------------------------------------------------


class Gate:
    """A TCP relay in front of etcd that a test can cut, to cut one store off etcd."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.open = True
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Drop every connection and refuse new ones until ``reopen``."""
        self.open = False
        for writer in self._writers:
            writer.transport.abort()

    def reopen(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_pump(reader, up_writer), name="gate-up")
                group.create_task(_pump(up_reader, writer), name="gate-down")
        except* OSError:
            pass
        finally:
            self._writers -= {writer, up_writer}
            for each in (writer, up_writer):
                each.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.transport.abort()


@pytest.fixture
async def gate(etcd: EtcdServer) -> AsyncIterator[Gate]:
    relay = Gate(etcd.client_port)
    await relay.start()
    yield relay
    await relay.close()


async def test_watching_from_before_the_stores_history_is_expired(open_store: OpenStore) -> None:
    """A store's history starts when it starts: resuming from before that is Expired."""
    a = await open_store()
    old = rv(await a.create(KEY_A, configmap("a")))
    b = await open_store()
    with pytest.raises(Expired):
        await anext(b.watch(DEFAULT, old - 1))


async def test_compaction_while_a_store_was_cut_off_expires_its_watches(
    open_store: OpenStore, gate: Gate, etcd: EtcdServer
) -> None:
    """Changes a store missed and etcd compacted away end its watches with Expired; the store
    itself recovers and new watches work."""
    a = await open_store()
    b = await open_store(f"127.0.0.1:{gate.port}")
    watch = b.watch(DEFAULT, 0)
    await a.create(KEY_A, configmap("a"))
    await take(watch, 1)
    gate.cut()
    await a.create(KEY_B, configmap("b"))
    await a.update(KEY_B, configmap("b", k="v"))
    await compact(etcd, a.revision)  # b still needs the create
    gate.reopen()
    with pytest.raises(Expired):
        await take(watch, 1)
    fresh = b.watch(DEFAULT, 0)
    await a.update(KEY_A, configmap("a", k="after"))
    [event] = await take(fresh, 1)
    assert event.object is not None and event.object["data"] == {"k": "after"}


async def test_a_watch_survives_a_dropped_connection(open_store: OpenStore, gate: Gate) -> None:
    """After a transient disconnect the store resumes its etcd watch where it was: nothing
    written meanwhile is lost."""
    a = await open_store()
    b = await open_store(f"127.0.0.1:{gate.port}")
    watch = b.watch(DEFAULT, 0)
    gate.cut()
    await a.create(KEY_A, configmap("a"))
    gate.reopen()
    await a.create(KEY_B, configmap("b"))
    assert [e.key for e in await take(watch, 2)] == [KEY_A, KEY_B]


# -- outages ---------------------------------------------------------------------------------


async def fails_fast(operation: Awaitable[Any], within: float = TIMEOUT + 4) -> None:
    """The operation raises StoreUnavailable near its 1 s deadline (slack for a loaded CI
    machine), not after a hang."""
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(operation, within + 5)  # the guard against a hang
    assert time.monotonic() - started < within


async def eventually(operation: Callable[[], Awaitable[Any]], within: float = 15) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            return await operation()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_frozen_etcd_fails_requests_within_the_timeout(
    open_store: OpenStore, running_etcd: EtcdServer
) -> None:
    """SIGSTOP keeps connections open but silent: reads and writes give up at the deadline."""
    store = await open_store()
    running_etcd.freeze()
    await fails_fast(store.get(KEY_A))
    await fails_fast(store.create(KEY_A, configmap("a")))
    await fails_fast(store.list(DEFAULT))
    await fails_fast(open_store())


async def test_the_store_works_again_when_a_frozen_etcd_thaws(
    open_store: OpenStore, running_etcd: EtcdServer
) -> None:
    """No restart needed: the next request after SIGCONT succeeds."""
    store = await open_store()
    running_etcd.freeze()
    await fails_fast(store.get(KEY_A))
    running_etcd.thaw()
    created = await eventually(lambda: store.create(KEY_A, configmap("a")))
    assert await store.get(KEY_A) == created


async def test_a_stopped_etcd_fails_requests_at_once_and_recovery_needs_no_restart(
    open_store: OpenStore, running_etcd: EtcdServer
) -> None:
    """With etcd gone, requests fail fast; once it is back on its data dir the same store
    reads what was there, writes again, and its open watch resumes."""
    store = await open_store()
    before = await store.create(KEY_A, configmap("a"))
    watch = store.watch(DEFAULT, 0)
    running_etcd.stop()
    await fails_fast(store.get(KEY_A))
    await fails_fast(store.create(KEY_B, configmap("b")))
    running_etcd.restart()
    assert await eventually(lambda: store.get(KEY_A)) == before
    created = await eventually(lambda: store.create(KEY_B, configmap("b")))
    [event] = await take(watch, 1, within=15)
    assert (event.type, event.object) == ("ADDED", created)


async def test_a_store_cannot_start_without_etcd(running_etcd: EtcdServer) -> None:
    """start() fails with StoreUnavailable when nothing listens, rather than hanging."""
    running_etcd.stop()
    store = EtcdStore(EtcdConfig((running_etcd.endpoint,), timeout=TIMEOUT))
    await fails_fast(store.start())
    await store.close()


# -- leases ----------------------------------------------------------------------------------


async def test_an_object_created_with_a_ttl_is_deleted_by_etcd(open_store: OpenStore) -> None:
    """etcd removes a leased object when its TTL runs out, and watchers see it go."""
    store = await open_store()
    watch = store.watch(DEFAULT, 0)
    created = await store.create(KEY_A, configmap("a"), ttl_seconds=1)
    kept = await store.update(KEY_A, configmap("a", k="updated"))  # keeps the lease
    events = await take(watch, 3, within=15)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[2].object is not None and events[2].object["data"] == kept["data"]
    assert rv(events[2].object) > rv(created)
    with pytest.raises(KeyNotFound):
        await store.get(KEY_A)


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """An etcd serving TLS that requires client certificates."""
    trustme = pytest.importorskip("trustme")
    directory = tmp_path_factory.mktemp("etcd-tls")
    ca = trustme.CA()
    files = EtcdTLS(*(directory / name for name in ("ca", "srv", "srv-key", "cli", "cli-key")))
    ca.cert_pem.write_to_path(str(files.ca))
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    server_cert.cert_chain_pems[0].write_to_path(str(files.server_cert))
    server_cert.private_key_pem.write_to_path(str(files.server_key))
    client_cert = ca.issue_cert("kubegate")
    client_cert.cert_chain_pems[0].write_to_path(str(files.client_cert))
    client_cert.private_key_pem.write_to_path(str(files.client_key))
    server = EtcdServer(directory / "data", tls=files)
    server.start()
    yield server
    server.stop()


async def test_etcds_with_a_client_certificate_works(tls_etcd: EtcdServer) -> None:
    """The CA and client certificate from the URL options get a working TLS connection."""
    tls = tls_etcd.tls
    assert tls is not None
    url = tls_etcd.url(cacert=str(tls.ca), cert=str(tls.client_cert), key=str(tls.client_key))
    store = EtcdStore(EtcdConfig.from_url(url))
    await store.start()
    try:
        created = await store.create(KEY_A, configmap("a"))
        assert await store.get(KEY_A) == created
    finally:
        await store.close()


async def test_etcds_without_the_client_certificate_is_refused(tls_etcd: EtcdServer) -> None:
    """etcd's --client-cert-auth turns a store without a certificate away: StoreUnavailable."""
    tls = tls_etcd.tls
    assert tls is not None
    config = EtcdConfig((tls_etcd.endpoint,), tls=TLSFiles(cacert=str(tls.ca)), timeout=TIMEOUT)
    store = EtcdStore(config)
    with pytest.raises(StoreUnavailable):
        await store.start()
    await store.close()


async def test_tls_files_that_cannot_be_read_stop_the_start(tmp_path: Path) -> None:
    """A wrong certificate path is reported as such, before any connection is tried."""
    config = EtcdConfig(("127.0.0.1:1",), tls=TLSFiles(cacert=str(tmp_path / "missing.pem")))
    store = EtcdStore(config)
    with pytest.raises(StoreUnavailable, match=r"missing\.pem"):
        await store.start()
    await store.close()
