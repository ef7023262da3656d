"""Three ``kubegate serve`` replicas on one real etcd behave as one server: shared
credentials, cross-replica list/watch/proxy/browser sessions, one controller leader that
fails over when killed and hands over when stopped, no acknowledged write lost when a
replica dies, and quick 503s while etcd is down.

The replicas run with a fast leader election (3 s lease) so the bounded tests stay short;
``test_failover_with_default_timing_is_within_15_seconds`` (slow) uses the defaults."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from etcdkit import ETCD, MISSING, EtcdServer
from integration.proxy.backends import READY_PATH, Backends
from integration.proxy.client import request_bytes
from integration.proxy.cluster import Cluster, Kubegate, new_cluster
from integration.replicas_harness import (
    CONNECTION_ERRORS,
    FAST_ELECTION,
    ReplicaSet,
    api_json,
    leaders,
    poll,
    the_leader,
)

pytestmark = pytest.mark.skipif(ETCD is None, reason=MISSING)

FAILOVER_BOUND = 15.0  # issue 7: the controller fails over within 15 s
USER, PASSWORD = "ada", "correct-horse-battery"


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("etcd-replicas") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(etcd: EtcdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    """Three replicas started at once on one data dir, with a 2 s etcd deadline and one
    basic-auth user for the browser sign-in."""
    root = tmp_path_factory.mktemp("replicas")
    passwords = root / "basic-auth.csv"  # kube's CSV: password,user,uid,"groups"
    passwords.write_text(f'{PASSWORD},{USER},uid-{USER},"system:masters"\n')
    url = etcd.url(f"/kg-{uuid.uuid4().hex[:6]}", timeout="2")
    flags = (*FAST_ELECTION, "--basic-auth-file", str(passwords))
    replica_set = ReplicaSet(url, root / "shared", *flags).start(3)
    yield replica_set
    replica_set.stop()


@pytest.fixture
def whole(replicas: ReplicaSet, etcd: EtcdServer) -> Iterator[ReplicaSet]:
    """The replica set, made whole again after a test that killed members or etcd."""
    yield replicas
    if etcd.proc is None:
        etcd.restart()
    replicas.heal()


@pytest.fixture
async def backends() -> Any:
    started = Backends()
    yield started
    await started.close()


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def watch_events(kg: Kubegate, path: str, wanted: int, within: float = 10.0) -> list[Any]:
    """Open a watch on ``kg`` and return its first ``wanted`` events."""
    events: list[Any] = []
    conn = await kg.connect()
    try:
        async with asyncio.timeout(within):
            await conn.send(request_bytes("GET", path, kg.netloc, [kg.bearer]))
            head = await conn.read_head()
            assert head.status == 200, head
            buffered = b""
            async for piece in conn.iter_body(head):
                buffered += piece
                *lines, buffered = buffered.split(b"\n")
                events += [json.loads(line) for line in lines if line.strip()]
                if len(events) >= wanted:
                    return events
    finally:
        await conn.close()
    return events


async def slice_endpoints(kg: Kubegate, namespace: str, service: str) -> list[str]:
    """Addresses in the controller-made EndpointSlices of ``service``, read through ``kg``."""
    path = (
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
        f"?labelSelector=kubernetes.io/service-name%3D{service}"
    )
    slices = (await api_json(kg, "GET", path))["items"]
    return [a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]]


async def publish(cluster: Cluster, name: str, port: int, ip: str = "127.0.0.1") -> None:
    """A Pod at ``ip`` serving ``port`` and a Service selecting it, created through ``cluster``."""
    await cluster.pod(f"{name}-pod", [("http", port)], labels={"app": name}, ip=ip)
    await cluster.service(
        name, [{"name": "http", "port": 80, "targetPort": "http"}], selector={"app": name}
    )


# -- one server ---------------------------------------------------------------------------------


async def test_concurrent_starts_share_one_ca_and_every_replica_accepts_every_credential(
    replicas: ReplicaSet,
) -> None:
    """The three replicas started together minted one CA; the admin token and the admin
    client certificate from the shared data dir work on each, over TLS verified by that CA."""
    data_dir = replicas.data_dir
    assert sorted(p.name for p in data_dir.glob("ca.*")) == ["ca.crt", "ca.key"]
    for kg in replicas.alive():
        by_token = await kg.request("GET", "/api/v1/namespaces/default")
        by_cert = await kg.request("GET", "/api/v1/namespaces/default", auth="cert")
        assert (by_token.status, by_cert.status) == (200, 200)


async def test_a_write_through_a_is_listed_by_b_and_watched_by_c(replicas: ReplicaSet) -> None:
    """A ConfigMap created through A is in B's list and arrives on a watch opened on C, with
    the same resourceVersion everywhere (the etcd revision)."""
    a, b, c = replicas[0], replicas[1], replicas[2]
    namespace = (await new_cluster(a, "xr")).namespace
    collection = f"/api/v1/namespaces/{namespace}/configmaps"
    since = (await api_json(c, "GET", collection))["metadata"]["resourceVersion"]
    watching = asyncio.create_task(
        watch_events(c, f"{collection}?watch=1&resourceVersion={since}", wanted=1)
    )
    created = await api_json(a, "POST", collection, configmap("shared", k="v"))
    listed = (await api_json(b, "GET", collection))["items"]
    [event] = await watching
    assert [i["metadata"]["name"] for i in listed] == ["shared"]
    version = created["metadata"]["resourceVersion"]
    assert listed[0]["metadata"]["resourceVersion"] == version
    assert event["type"] == "ADDED" and event["object"]["metadata"]["resourceVersion"] == version


async def test_proxy_through_b_reaches_a_backend_published_through_a(
    replicas: ReplicaSet, backends: Backends
) -> None:
    """Pod and Service created through A; the leader (whichever replica it is) makes the
    EndpointSlice; B's proxy reaches the backend through it."""
    a, b = replicas[0], replicas[1]
    backend = await backends.http()
    cluster = await new_cluster(a, "xp")
    await publish(cluster, "web", backend.port)
    on_b = Cluster(b, cluster.namespace)
    await on_b.wait_ready("services", "web:http")
    response = await on_b.get("services", "web:http", "/hello")
    assert response.status == 200 and response.json()["target"] == "/hello"
    assert await slice_endpoints(b, cluster.namespace, "web") == ["127.0.0.1"]
    assert [r.target for r in backend.requests if r.target != READY_PATH] == ["/hello"]


async def test_exactly_one_replica_leads_and_the_lease_names_it(replicas: ReplicaSet) -> None:
    """One replica reports leader_election_master_status 1, and `kubectl get lease` (here:
    the Lease through another replica) names the identity that replica logged."""
    leader = await the_leader(replicas.alive())
    other = next(kg for kg in replicas.alive() if kg is not leader)
    lease = await api_json(
        other,
        "GET",
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kubegate-controller-manager",
    )
    holder = lease["spec"]["holderIdentity"]
    assert f"this replica ({holder}) now runs the controllers" in "".join(leader.process.output)
    assert len(await leaders(replicas.alive())) == 1


async def sign_in(kg: Kubegate) -> str:
    """POST the sign-in form to ``kg`` (same-origin); the session cookie's value."""
    form = urlencode({"method": "password", "username": USER, "password": PASSWORD})
    headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", f"https://{kg.netloc}"),
    ]
    response = await kg.request("POST", "/login", headers=headers, body=form.encode(), auth=None)
    assert response.status == 303, response
    [cookie] = [
        v for v in response.values("set-cookie") if v.startswith("__Host-kubegate_session=")
    ]
    return cookie.split(";", 1)[0].split("=", 1)[1]


async def with_cookie(kg: Kubegate, secret: str, path: str) -> int:
    """The status of a GET of ``path`` on ``kg`` authenticated by the session cookie alone."""
    cookie = [("Cookie", f"__Host-kubegate_session={secret}")]
    return (await kg.request("GET", path, headers=cookie, auth=None)).status


async def test_a_sign_in_on_a_works_on_c_and_a_sign_out_on_b_ends_it_everywhere(
    replicas: ReplicaSet, backends: Backends
) -> None:
    """Browser sessions live in etcd: the cookie from replica A reaches a proxied backend
    through C, and after signing out through B neither A nor C accepts it."""
    a, b, c = replicas[0], replicas[1], replicas[2]
    backend = await backends.http()
    cluster = await new_cluster(a, "ss")
    await publish(cluster, "app", backend.port)
    await Cluster(c, cluster.namespace).wait_ready("services", "app:http")
    path = cluster.path("services", "app:http", "/page")
    secret = await sign_in(a)
    assert await poll(lambda: _is(with_cookie(c, secret, path), 200), within=5)
    headers = [("Cookie", f"__Host-kubegate_session={secret}"), ("Origin", f"https://{b.netloc}")]
    signed_out = await b.request("POST", "/logout", headers=headers, auth=None)
    assert signed_out.status == 303, signed_out
    for kg in (a, c):
        assert await poll(lambda kg=kg: _is(with_cookie(kg, secret, path), 401), within=5)


async def _is(status: Any, expected: int) -> bool:
    return await status == expected


# -- failures ---------------------------------------------------------------------------------


async def test_killing_the_leader_fails_over_and_the_controller_keeps_reconciling(
    whole: ReplicaSet, backends: Backends
) -> None:
    """kill -9 the leader: another replica takes the Lease and a Service+Pod created after
    the kill gets its EndpointSlice within 15 s."""
    leader = await the_leader(whole.alive())
    survivor = next(kg for kg in whole.alive() if kg is not leader)
    cluster = await new_cluster(survivor, "fo")
    backend = await backends.http()
    whole.kill(leader)
    killed = time.monotonic()
    await publish(cluster, "after-kill", backend.port)
    await poll(
        lambda: slice_endpoints(survivor, cluster.namespace, "after-kill"), within=FAILOVER_BOUND
    )
    elapsed = time.monotonic() - killed
    new_leader = await the_leader(whole.alive(), within=1)
    assert new_leader is not leader and elapsed < FAILOVER_BOUND


async def test_a_leader_stopped_with_sigterm_releases_the_lease_to_a_successor(
    whole: ReplicaSet,
) -> None:
    """SIGTERM: the leader exits cleanly having released the Lease, and the successor took
    a lease with no holder (not an expired one), well before the lease duration."""
    leader = await the_leader(whole.alive())
    others = [kg for kg in whole.alive() if kg is not leader]
    stopping = asyncio.create_task(asyncio.to_thread(leader.process.stop))
    started = time.monotonic()
    successor = await the_leader(others, within=10)
    elapsed = time.monotonic() - started
    assert await stopping == 0
    assert "released lease kube-system/kubegate-controller-manager" in "".join(
        leader.process.output
    )

    async def took_a_released_lease() -> bool:  # the log line may trail the gauge a little
        acquired = [line for line in successor.process.output if "acquired lease" in line]
        return bool(acquired) and acquired[-1].rstrip().endswith("(previous holder: none)")

    assert await poll(took_a_released_lease, within=2)
    assert elapsed < 3.0  # the lease duration of FAST_ELECTION: no waiting for expiry


async def test_killing_a_replica_mid_load_loses_no_acknowledged_write(
    whole: ReplicaSet,
) -> None:
    """Writers load one replica, which is killed mid-way; they retry the failed writes on
    the others. Every write that was acknowledged (201) is there afterwards, and every
    retried one succeeded elsewhere."""
    victim, *others = whole.alive()
    namespace = (await new_cluster(others[0], "ld")).namespace
    collection = f"/api/v1/namespaces/{namespace}/configmaps"
    acknowledged: set[str] = set()
    retried: set[str] = set()
    counter = itertools.count()
    dead = asyncio.Event()

    async def write(name: str) -> None:
        targets = [victim, *others] if not dead.is_set() else others
        for attempt, kg in enumerate(itertools.islice(itertools.cycle(targets), 6)):
            try:
                response = await kg.api("POST", collection, configmap(name, n=name))
            except CONNECTION_ERRORS:
                retried.add(name)
                continue
            if response.status == 201:
                acknowledged.add(name)
                return
            # 409 after a retry: the first attempt was applied, its answer lost with the replica.
            assert response.status == 409 and attempt > 0, response
            return
        raise AssertionError(f"{name} failed on every replica")

    async def writer() -> None:
        while len(acknowledged) < 120:
            await write(f"cm-{next(counter)}")

    async def killer() -> None:
        await poll(lambda: _true(len(acknowledged) >= 40), within=30, interval=0.01)
        whole.kill(victim)
        dead.set()

    await asyncio.gather(*(writer() for _ in range(4)), killer())
    stored = {
        i["metadata"]["name"] for i in (await api_json(others[1], "GET", collection))["items"]
    }
    assert acknowledged <= stored
    assert retried, "the kill interrupted no write; the test proved nothing"
    assert retried <= stored


async def _true(value: bool) -> bool:
    return value


async def test_with_etcd_stopped_requests_fail_fast_with_503_and_replicas_recover(
    whole: ReplicaSet, etcd: EtcdServer, backends: Backends
) -> None:
    """etcd down: every replica answers reads and writes with a 503 Status within 10 s (no
    hang). etcd back: they serve again without a restart, and a leader reconciles again."""
    cluster = await new_cluster(whole[0], "et")
    collection = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    etcd.stop()
    try:
        for kg in whole.alive():
            for method, body in (("GET", None), ("POST", configmap("during-outage"))):
                started = time.monotonic()
                response = await kg.api(method, collection, body)
                elapsed = time.monotonic() - started
                assert response.status in (503, 504), response
                assert response.json()["kind"] == "Status" and elapsed < 10
    finally:
        etcd.restart()
    for kg in whole.alive():
        await poll(lambda kg=kg: _ok(kg, collection), within=20)
    backend = await backends.http()
    await publish(cluster, "after-outage", backend.port)
    addresses = await poll(
        lambda: slice_endpoints(whole[2], cluster.namespace, "after-outage"), within=20
    )
    assert addresses == ["127.0.0.1"]


async def _ok(kg: Kubegate, path: str) -> bool:
    return (await kg.request("GET", path, within=5)).status == 200


@pytest.mark.slow
async def test_failover_with_default_timing_is_within_15_seconds(
    etcd: EtcdServer, tmp_path: Path, backends: Backends
) -> None:
    """With the default election durations (8 s lease, 1 s retry), a Service created right
    after kill -9 of the leader gets its EndpointSlice within 15 s."""
    url = etcd.url(f"/kg-{uuid.uuid4().hex[:6]}", timeout="2")
    replica_set = ReplicaSet(url, tmp_path / "defaults").start(2)
    try:
        leader = await the_leader(replica_set.alive())
        survivor = next(kg for kg in replica_set.alive() if kg is not leader)
        cluster = await new_cluster(survivor, "fd")
        backend = await backends.http()
        await asyncio.sleep(1.5)  # let the standby see at least one renewal: the worst case
        replica_set.kill(leader)
        killed = time.monotonic()
        await publish(cluster, "after-kill", backend.port)
        await poll(
            lambda: slice_endpoints(survivor, cluster.namespace, "after-kill"),
            within=FAILOVER_BOUND,
        )
        assert time.monotonic() - killed < FAILOVER_BOUND
    finally:
        replica_set.stop()
