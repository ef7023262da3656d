"""A via-apiserver mirror refuses to impersonate upstream the identities on its deny list —
``system:masters`` (the mirror's own admin) by default, and the users and groups of
``--mirror-impersonation-deny-*`` — with a 403 Status, a log line without credentials,
and nothing sent upstream; an emptied group list lets the admin through."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from integration.mirror.kit import (
    USERS,
    audit_events,
    bearer,
    running_mirror,
    status_reason,
    token,
    upstream_kubeconfig,
    wait_ready_sync,
)
from integration.proxy.harness import Backends, Cluster, Kubegate, Port

LOCAL_PROXY_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "everyone-proxies"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cluster-admin",
    },
    "subjects": [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}
    ],
}


async def served(cluster: Cluster, backends: Backends) -> Any:
    backend = await backends.http()
    await cluster.serve("echo", Port(backend))
    backend.reset()
    return backend


async def until_logged(kg: Kubegate, text: str, within: float = 5.0) -> str:
    """The first line of the server's output containing ``text`` (polled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        lines = [line for line in list(kg.process.output) if text in line]
        if lines or loop.time() > deadline:
            return lines[0] if lines else ""
        await asyncio.sleep(0.05)


async def test_the_mirrors_admin_is_not_impersonated_upstream(
    cluster, backends, mirror, upstream_audit
):
    """The mirror's admin (system:masters) gets a 403 Forbidden Status naming the group;
    the upstream never sees the request and the backend gets nothing."""
    backend = await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/as-admin")
    response = await mirror.request("GET", path)  # the admin token
    assert response.status == 403, response
    assert status_reason(response.body) == "Forbidden"
    assert '"system:masters"' in response.message
    assert "--mirror-impersonation-deny-groups" in response.message
    assert response.json()["details"] == {"name": "system:masters", "kind": "groups"}
    assert backend.requests == []
    assert not [e for e in audit_events(upstream_audit) if e["requestURI"] == path]


async def test_a_refusal_is_logged_without_credentials(cluster, backends, mirror):
    """The mirror logs who was refused and why, and never the token that was presented."""
    await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/logged")
    assert (await mirror.request("GET", path)).status == 403
    line = await until_logged(mirror, "refused to impersonate 'kubegate-admin' upstream")
    assert "system:masters" in line, mirror.process.output[-5:]
    assert mirror.token not in "".join(mirror.process.output)


@pytest.fixture(scope="module")
def configured_mirror(
    upstream: Kubegate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubegate]:
    """A via-apiserver mirror that denies the user alice and no group at all."""
    files = tmp_path_factory.mktemp("mirror-deny")
    kubeconfig = upstream_kubeconfig(upstream, upstream.process.url, files / "up.kubeconfig")
    tokens = files / "tokens.csv"
    tokens.write_text(
        "".join(f'{tok},{name},{uid},"{groups}"\n' for name, (tok, uid, groups) in USERS.items())
    )
    with running_mirror(
        kubeconfig,
        "--mirror-proxy",
        "via-apiserver",
        f"--token-auth-file={tokens}",
        "--mirror-impersonation-deny-users=alice",
        "--mirror-impersonation-deny-groups=",
    ) as kg:
        wait_ready_sync(kg)
        rbac = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
        created = asyncio.run(kg.api("POST", rbac, LOCAL_PROXY_ROLE))
        assert created.status == 201, created
        yield kg


async def test_a_denied_user_is_refused_even_where_the_upstream_allows_them(
    cluster, backends, configured_mirror
):
    """alice, whom the upstream allows, is on the deny list: 403 from the mirror, while
    carol (allowed upstream through her group) still reaches the backend."""
    backend = await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/deny")
    refused = await configured_mirror.request(
        "GET", path, headers=bearer(token("alice")), auth=None
    )
    assert refused.status == 403, refused
    assert '"alice"' in refused.message and "--mirror-impersonation-deny-users" in refused.message
    allowed = await configured_mirror.request(
        "GET", path, headers=bearer(token("carol")), auth=None
    )
    assert allowed.status == 200, allowed
    assert len(backend.requests) == 1


async def test_an_empty_group_list_lets_the_admin_through(cluster, backends, configured_mirror):
    """With --mirror-impersonation-deny-groups= the admin is impersonated as any user and
    the upstream (which grants its system:masters everything) lets it reach the backend."""
    backend = await served(cluster, backends)
    path = cluster.path("services", "echo:http", "/admin")
    response = await configured_mirror.request("GET", path)
    assert response.status == 200, response
    assert len(backend.requests) == 1
