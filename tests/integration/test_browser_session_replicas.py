"""Two ``kubegate serve`` replicas on one etcd (and one data dir, so one CA and one set of
users) share browser sessions: a sign-in on one works on the other, and a sign-out on either
ends the session on both, through the store's watch.

(Replicas share state through etcd, the HA store; a SQLite file belongs to one process — see
docs/ha.md — so two processes on one SQLite file would not see each other's writes.)"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdkit import ETCD, MISSING, EtcdServer
from integration.login_kit import Browser, grant_edit, write_user_files
from integration.proxy.cluster import start_server_process
from integration.proxy.harness import (
    Kubegate,
    Port,
    Response,
    backends_fixture,
    eventually,
    new_cluster,
)

pytestmark = pytest.mark.skipif(ETCD is None, reason=MISSING)

backends = backends_fixture()


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("sessions-etcd") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(
    etcd: EtcdServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Kubegate, Kubegate]]:
    passwords, _ = write_user_files(tmp_path_factory.mktemp("replica-users"))
    flags = (
        "--shutdown-grace=2",
        "--proxy-allow-cidrs=127.0.0.0/8",
        f"--basic-auth-file={passwords}",
    )
    with tempfile.TemporaryDirectory(prefix="kubegate-replicas-") as tmp:
        store = etcd.url("/kubegate-sessions")
        first = start_server_process(Path(tmp), *flags, store=store)
        try:
            second = start_server_process(Path(tmp), *flags, store=store)
        except BaseException:
            first.stop()
            raise
        try:
            yield Kubegate(first), Kubegate(second)
        finally:
            second.stop()
            first.stop()


@pytest.fixture
async def target(replicas: tuple[Kubegate, Kubegate], backends) -> str:
    """An echo Service alice may use, reachable through both replicas."""
    a, b = replicas
    cluster = await new_cluster(a, "replica")
    await grant_edit(cluster, "alice")
    backend = await backends.http()
    await cluster.serve("web", Port(backend))
    path = cluster.path("services", "web:http", "/")
    seen = await eventually(lambda: b.request("GET", path), lambda r: r.status == 200)
    assert seen.status == 200, seen  # replica b's proxy cache knows the Service too
    return path


async def test_session_created_on_one_replica_works_on_the_other(
    replicas: tuple[Kubegate, Kubegate], target: str
) -> None:
    """The cookie from replica a is accepted by replica b."""
    a, b = replicas
    on_a = Browser(a)
    await on_a.login()
    on_b = Browser(b, session=on_a.session)
    response = await eventually(
        lambda: on_b.request("GET", target), lambda r: r.status == 200, within=10
    )
    assert response.status == 200, response


async def test_logout_on_one_replica_ends_the_session_on_the_other(
    replicas: tuple[Kubegate, Kubegate], target: str
) -> None:
    """After signing out through replica b, replica a refuses the old cookie."""
    a, b = replicas
    on_a = Browser(a)
    await on_a.login()
    secret = on_a.session
    assert (await on_a.request("GET", target)).status == 200
    on_b = Browser(b, session=secret)
    ready: Response = await eventually(
        lambda: on_b.request("GET", target), lambda r: r.status == 200, within=10
    )
    assert ready.status == 200
    await on_b.logout()
    stale = Browser(a, session=secret)
    response = await eventually(
        lambda: stale.request("GET", target), lambda r: r.status == 401, within=10
    )
    assert response.status == 401, response
