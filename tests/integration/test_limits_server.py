"""Admission limits of a real server process: the long-running cap and per-user rate limits
answer 429 TooManyRequests with Retry-After, for the excess only (security.md A39)."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kubegate.auth import pki
from serverkit import ServerProcess, start_server_process

TOO_MANY = "Too many requests, please try again later."
WATCH = "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=60"
LIST = "/api/v1/namespaces/default/configmaps"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
READY_TIMEOUT = 30.0


class Client:
    def __init__(self, srv: ServerProcess, tmp: Path) -> None:
        url = urlsplit(srv.url)
        self.host, self.port = url.hostname or "", url.port or 0
        self.data_dir = srv.data_dir
        self.tmp = tmp
        self.admin = (srv.data_dir / "admin.crt", srv.data_dir / "admin.key")

    def connect(self, cert: tuple[Path, Path]) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.data_dir / "ca.crt"))
        context.load_cert_chain(*cert)
        return http.client.HTTPSConnection(self.host, self.port, context=context, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        cert: tuple[Path, Path],
        body: Any = None,
        conn: http.client.HTTPSConnection | None = None,
    ) -> http.client.HTTPResponse:
        """One request; the body is read (keep-alive ``conn`` can be reused)."""
        own = conn is None
        conn = conn or self.connect(cert)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None)
            response = conn.getresponse()
            response.data = response.read()  # type: ignore[attr-defined]
            return response
        finally:
            if own:
                conn.close()

    def open_watch(self, stack: ExitStack, cert: tuple[Path, Path]) -> http.client.HTTPResponse:
        """Start a watch and leave it open (closed when ``stack`` unwinds)."""
        conn = stack.enter_context(closing(self.connect(cert)))
        conn.request("GET", WATCH)
        return conn.getresponse()

    def user(self, name: str, groups: tuple[str, ...] = ()) -> tuple[Path, Path]:
        cert, key = pki.issue_client_cert(
            (self.data_dir / "ca.crt").read_bytes(),
            (self.data_dir / "ca.key").read_bytes(),
            user=name,
            groups=list(groups),
        )
        (self.tmp / f"{name}.crt").write_bytes(cert)
        (self.tmp / f"{name}.key").write_bytes(key)
        return self.tmp / f"{name}.crt", self.tmp / f"{name}.key"

    def grant_cluster_admin(self, user: str) -> None:
        """Bind ``user`` to cluster-admin (not system:masters: subject to the caps)."""
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{user}-admin"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
        reply = self.request("POST", f"{RBAC}/clusterrolebindings", self.admin, binding)
        assert reply.status == 201, reply.data  # type: ignore[attr-defined]


def assert_too_many(response: http.client.HTTPResponse, retry_after: int | None = None) -> None:
    assert response.status == 429
    status = json.loads(response.data)  # type: ignore[attr-defined]
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "TooManyRequests", 429)
    assert status["message"] == TOO_MANY
    seconds = int(response.headers["Retry-After"])
    assert seconds >= 1 and status["details"]["retryAfterSeconds"] == seconds
    if retry_after is not None:
        assert seconds == retry_after
    assert response.headers["Audit-Id"]


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Client]]:
    tmp = tmp_path_factory.mktemp("limits")
    srv = start_server_process(tmp / "data", "--max-long-running-requests", "2")
    try:
        client = Client(srv, tmp)
        client.grant_cluster_admin("carol")
        yield srv, client
    finally:
        srv.stop()


def wait_allowed(client: Client, cert: tuple[Path, Path]) -> None:
    """Until the new binding is in the authorizer's cache."""
    deadline = time.monotonic() + READY_TIMEOUT
    while client.request("GET", LIST, cert).status == 403:
        assert time.monotonic() < deadline, "the binding never took effect"
        time.sleep(0.05)


def test_long_running_requests_beyond_the_cap_get_429(capped):
    """Two open watches fill --max-long-running-requests 2: a third gets 429 with
    Retry-After 1 while a plain GET still works; closing one lets a new watch in."""
    _, client = capped
    carol = client.user("carol")
    wait_allowed(client, carol)
    with ExitStack() as stack:
        first = client.open_watch(stack, carol)
        second = client.open_watch(stack, carol)
        assert (first.status, second.status) == (200, 200)
        assert_too_many(client.request("GET", WATCH, carol), retry_after=1)
        assert client.request("GET", LIST, carol).status == 200
        # system:masters are exempt, as kube exempts them from max-in-flight
        with ExitStack() as admin_stack:
            assert client.open_watch(admin_stack, client.admin).status == 200
    # both watches closed: their slots come back (the server sees the close shortly after)
    deadline = time.monotonic() + 10
    with ExitStack() as stack:
        while (third := client.open_watch(stack, carol)).status == 429:
            assert time.monotonic() < deadline, "closed watches never gave their slots back"
            third.read()
            time.sleep(0.05)
        assert third.status == 200


def test_rejections_show_in_metrics(capped):
    """The refused watch is counted under its limit in /metrics."""
    _, client = capped
    body = client.request("GET", "/metrics", client.admin).data  # type: ignore[attr-defined]
    lines = body.decode().splitlines()
    assert any(
        line.startswith('kubegate_rejected_requests_total{limit="longRunning"}')
        and float(line.split()[-1]) >= 1
        for line in lines
    )


@pytest.fixture(scope="module")
def rate_limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    tmp = tmp_path_factory.mktemp("rate")
    # 1/s refill: six requests in a row can only all pass if they took over a second.
    srv = start_server_process(tmp / "data", "--user-rate-limit", "1", "--user-rate-burst", "5")
    try:
        yield Client(srv, tmp)
    finally:
        srv.stop()


def test_a_user_past_its_burst_gets_429(rate_limited: Client):
    """The sixth rapid request of one user is refused, with Retry-After from its bucket."""
    client = rate_limited
    with closing(client.connect(client.admin)) as conn:
        started = time.monotonic()
        replies = [client.request("GET", LIST, client.admin, conn=conn) for _ in range(6)]
        elapsed = time.monotonic() - started
    assert elapsed < 1.0, "too slow to tell (the bucket refilled meanwhile)"
    assert [r.status for r in replies[:5]] == [200] * 5
    assert_too_many(replies[5], retry_after=1)


def test_another_user_is_not_limited_by_the_first(rate_limited: Client):
    """Bob (system:masters as well) has his own bucket: the admin's empty one does not
    stop him."""
    client = rate_limited
    bob = client.user("bob", ("system:masters",))
    with closing(client.connect(client.admin)) as conn:
        for _ in range(6):
            client.request("GET", LIST, client.admin, conn=conn)
        assert client.request("GET", LIST, client.admin, conn=conn).status == 429
    assert client.request("GET", LIST, bob).status == 200
