"""Fixtures of the mirror suite: one upstream kubegate (the "real cluster", with an audit log
and RBAC for the test users), a relay to it, and one via-apiserver mirror behind the relay
whose users come from a token file. Tests work in a fresh upstream namespace each."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.mirror.kit import (
    USERS,
    Relay,
    running_mirror,
    upstream_kubeconfig,
    wait_ready_sync,
)
from integration.proxy.harness import Kubegate, backends_fixture, cluster_fixture, running_kubegate

PROXY_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "mirror-test-proxy"},
    "rules": [
        {"apiGroups": [""], "resources": ["services", "services/proxy"], "verbs": ["*"]},
    ],
}


def binding(name: str, subjects: list[dict[str, str]]) -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": PROXY_ROLE["metadata"]["name"],  # type: ignore[index]
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", **s} for s in subjects],
    }


async def _create(kg: Kubegate, path: str, obj: dict[str, object]) -> None:
    response = await kg.api("POST", path, obj)
    assert response.status == 201, response


@pytest.fixture(scope="session")
def upstream_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mirror-upstream-audit") / "audit.log"


@pytest.fixture(scope="session")
def upstream(upstream_audit: Path) -> Iterator[Kubegate]:
    """The "real cluster": may proxy to loopback backends; alice (a user) and team-c (a
    group) may use services/proxy there, bob may not."""
    with running_kubegate(
        "--proxy-allow-cidrs", "127.0.0.0/8", "--audit-log-path", str(upstream_audit)
    ) as kg:
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        subjects = [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "team-c"}]
        asyncio.run(_create(kg, f"{rbac}/clusterroles", PROXY_ROLE))
        asyncio.run(_create(kg, f"{rbac}/clusterrolebindings", binding("upstream", subjects)))
        yield kg


@pytest.fixture(scope="session")
def relay(upstream: Kubegate) -> Iterator[Relay]:
    relay = Relay(upstream.port)
    yield relay
    relay.close()


@pytest.fixture(scope="session")
def mirror(
    upstream: Kubegate, relay: Relay, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubegate]:
    """A via-apiserver mirror of ``upstream`` through ``relay``. Locally every
    authenticated user may use services/proxy, so that the upstream's RBAC is what
    tells alice and bob apart."""
    files = tmp_path_factory.mktemp("mirror-files")
    kubeconfig = upstream_kubeconfig(upstream, relay.url, files / "upstream.kubeconfig")
    tokens = files / "tokens.csv"
    tokens.write_text(
        "".join(f'{tok},{name},{uid},"{groups}"\n' for name, (tok, uid, groups) in USERS.items())
    )
    with running_mirror(
        kubeconfig, "--mirror-proxy", "via-apiserver", f"--token-auth-file={tokens}"
    ) as kg:
        wait_ready_sync(kg)
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        everyone = [{"kind": "Group", "name": "system:authenticated"}]
        asyncio.run(_create(kg, f"{rbac}/clusterroles", PROXY_ROLE))
        asyncio.run(_create(kg, f"{rbac}/clusterrolebindings", binding("local", everyone)))
        yield kg


cluster = cluster_fixture("upstream")  # a fresh namespace upstream, per test
backends = backends_fixture()
