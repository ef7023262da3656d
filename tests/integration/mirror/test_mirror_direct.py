"""A mirror with ``--mirror-proxy direct --mirror-rbac``: its own proxy dials the endpoints
of the mirrored EndpointSlices, and the upstream's Roles and bindings are what its
authorizer decides with (and are read-only there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.mirror.kit import (
    USERS,
    bearer,
    running_mirror,
    token,
    upstream_kubeconfig,
    wait_for,
    wait_ready_sync,
)
from integration.proxy.harness import Cluster, Kubegate, Port, resolution_pending

RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture(scope="module")
def direct_mirror(
    upstream: Kubegate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubegate]:
    files = tmp_path_factory.mktemp("direct-mirror")
    kubeconfig = upstream_kubeconfig(
        upstream, f"https://127.0.0.1:{upstream.port}", files / "upstream.kubeconfig"
    )
    tokens = files / "tokens.csv"
    tokens.write_text("".join(f"{t},{name},{uid},{g}\n" for name, (t, uid, g) in USERS.items()))
    with running_mirror(
        Path(kubeconfig),
        "--mirror-proxy",
        "direct",
        "--mirror-rbac",
        "--proxy-allow-cidrs",
        "127.0.0.1/32",
        f"--token-auth-file={tokens}",
    ) as kg:
        wait_ready_sync(kg)
        yield kg


async def test_direct_mode_dials_the_endpoint_of_the_mirrored_slice(
    cluster: Cluster, backends, direct_mirror: Kubegate
):
    """The mirror's own proxy reaches a loopback backend listed in an upstream EndpointSlice."""
    backend = await backends.http()
    await cluster.serve("web", Port(backend))
    backend.reset()
    path = cluster.path("services", "web:http", "/direct")
    response = await wait_for(direct_mirror, path, lambda r: not resolution_pending(r))
    assert response.status == 200, response
    (received,) = backend.requests
    assert received.target == "/direct"
    # Our own proxy composed the request: the Host the client used is the mirror's.
    assert received.header("x-forwarded-host") == direct_mirror.netloc


async def test_upstream_rbac_decides_on_the_mirror(cluster: Cluster, direct_mirror: Kubegate):
    """alice may not list ConfigMaps on the mirror until an upstream RoleBinding lets her."""
    path = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    alice = bearer(token("alice"))
    ready = await wait_for(
        direct_mirror, f"/api/v1/namespaces/{cluster.namespace}", lambda r: r.status == 200
    )
    assert ready.status == 200, ready
    denied = await direct_mirror.request("GET", path, headers=alice, auth=None)
    assert denied.status == 403, denied
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "cm-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    ns_rbac = f"{RBAC}/namespaces/{cluster.namespace}"
    await cluster.create(f"{ns_rbac}/roles", role)
    await cluster.create(f"{ns_rbac}/rolebindings", binding)
    allowed = await wait_for(
        direct_mirror, path, lambda r: r.status == 200, headers=alice, auth=None
    )
    assert allowed.status == 200, allowed
    bob = await direct_mirror.request("GET", path, headers=bearer(token("bob")), auth=None)
    assert bob.status == 403, bob


async def test_rbac_objects_are_read_only_with_mirror_rbac(cluster: Cluster, direct_mirror):
    """With --mirror-rbac a RoleBinding cannot be created on the mirror (405)."""
    await wait_for(
        direct_mirror, f"/api/v1/namespaces/{cluster.namespace}", lambda r: r.status == 200
    )
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "local"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}],
    }
    path = f"{RBAC}/namespaces/{cluster.namespace}/rolebindings"
    response = await direct_mirror.api("POST", path, binding)
    assert response.status == 405, response


async def test_direct_mode_keeps_local_serviceaccounts_and_tokens(cluster: Cluster, direct_mirror):
    """Only via-apiserver refuses them: here a ServiceAccount is created and gets a token."""
    namespace = f"/api/v1/namespaces/{cluster.namespace}"
    await wait_for(direct_mirror, namespace, lambda r: r.status == 200)
    created = await direct_mirror.api(
        "POST", f"{namespace}/serviceaccounts", {"metadata": {"name": "robot"}}
    )
    assert created.status == 201, created
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    issued = await direct_mirror.api("POST", f"{namespace}/serviceaccounts/robot/token", request)
    assert issued.status == 201, issued
    assert issued.json()["status"]["token"]
