"""RBAC privilege-escalation prevention against a server process: ``alice`` holds the ``admin``
ClusterRole in a few namespaces (a RoleBinding each), and may grant through Roles and bindings
only what she holds — unless she may ``bind`` or ``escalate``; the admin (system:masters) may
grant anything."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from integration.cert_client import CertClient, admin_client, user_client
from serverkit import ServerProcess, start_server_process

RBAC = "rbac.authorization.k8s.io"
RBAC_API = f"/apis/{RBAC}/v1"
TEAM, BINDER, ESCALATOR = "team", "binder", "escalator"
ALICE_HOLDS = 'user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'


def role(name: str, *rules: dict[str, Any], namespace: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "Role" if namespace else "ClusterRole",
        "metadata": meta,
        "rules": list(rules),
    }


def binding(
    name: str, role_kind: str, role_name: str, user: str, *, namespace: str = ""
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}],
    }


def rule(verbs: list[str], resources: list[str], group: str = "", **extra: Any) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs, **extra}


def roles_in(ns: str) -> str:
    return f"{RBAC_API}/namespaces/{ns}/roles"


def bindings_in(ns: str) -> str:
    return f"{RBAC_API}/namespaces/{ns}/rolebindings"


def wait_allowed(client: CertClient, attributes: dict[str, str], within: float = 10.0) -> None:
    """Poll a SelfSubjectAccessReview until the authorizer's caches have the new bindings."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }
    deadline = time.monotonic() + within
    while True:
        status, body = client.create(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review
        )
        assert status == 201, body
        if body["status"]["allowed"]:
            return
        assert time.monotonic() < deadline, f"never allowed: {attributes}"
        time.sleep(0.02)


def created(result: tuple[int, Any]) -> Any:
    status, body = result
    assert status == 201, body
    return body


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server_process(tmp_path_factory.mktemp("rbac-escalation"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(srv: ServerProcess) -> CertClient:
    return admin_client(srv)


@pytest.fixture(scope="module")
def alice(
    srv: ServerProcess, admin: CertClient, tmp_path_factory: pytest.TempPathFactory
) -> CertClient:
    """alice: admin in every test namespace; may also bind cluster-admin in BINDER and
    escalate Roles in ESCALATOR."""
    client = user_client(srv, "alice", tmp_path_factory.mktemp("alice"))
    bind_cluster_admin = rule(["bind"], ["clusterroles"], RBAC, resourceNames=["cluster-admin"])
    created(
        admin.create(f"{RBAC_API}/clusterroles", role("bind-cluster-admin", bind_cluster_admin))
    )
    created(
        admin.create(
            f"{RBAC_API}/clusterroles", role("escalate-roles", rule(["escalate"], ["roles"], RBAC))
        )
    )
    for ns in (TEAM, BINDER, ESCALATOR):
        created(admin.create("/api/v1/namespaces", {"metadata": {"name": ns}}))
        created(
            admin.create(
                bindings_in(ns),
                binding("alice-admin", "ClusterRole", "admin", "alice", namespace=ns),
            )
        )
        wait_allowed(
            client, {"verb": "create", "group": RBAC, "resource": "roles", "namespace": ns}
        )
    created(
        admin.create(
            bindings_in(BINDER),
            binding("alice-bind", "ClusterRole", "bind-cluster-admin", "alice", namespace=BINDER),
        )
    )
    created(
        admin.create(
            bindings_in(ESCALATOR),
            binding(
                "alice-escalate", "ClusterRole", "escalate-roles", "alice", namespace=ESCALATOR
            ),
        )
    )
    wait_allowed(
        client,
        {
            "verb": "bind",
            "group": RBAC,
            "resource": "clusterroles",
            "name": "cluster-admin",
            "namespace": BINDER,
        },
    )
    wait_allowed(
        client, {"verb": "escalate", "group": RBAC, "resource": "roles", "namespace": ESCALATOR}
    )
    return client


NODE_READER = rule(["get", "list"], ["nodes"])
CLUSTER_ADMIN_MISSING = (
    '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}'
)


def test_alice_may_bind_a_role_whose_permissions_she_holds(alice: CertClient) -> None:
    """edit is part of admin, so alice may grant it in her namespace."""
    created(
        alice.create(
            bindings_in(TEAM), binding("bob-edit", "ClusterRole", "edit", "bob", namespace=TEAM)
        )
    )


def test_alice_may_not_bind_cluster_admin(alice: CertClient) -> None:
    """Binding cluster-admin grants wildcards alice lacks: 403 with kube's message."""
    status, body = alice.create(
        bindings_in(TEAM),
        binding("bob-root", "ClusterRole", "cluster-admin", "bob", namespace=TEAM),
    )
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["details"] == {"name": "bob-root", "group": RBAC, "kind": "rolebindings"}
    assert body["message"] == (
        f'rolebindings.{RBAC} "bob-root" is forbidden: {ALICE_HOLDS}{CLUSTER_ADMIN_MISSING}'
    )


def test_alice_may_not_create_a_role_granting_what_admin_lacks(alice: CertClient) -> None:
    """admin has no nodes, so a Role reading nodes is refused, naming the missing rule."""
    status, body = alice.create(roles_in(TEAM), role("node-reader", NODE_READER, namespace=TEAM))
    assert status == 403
    assert body["message"] == (
        f'roles.{RBAC} "node-reader" is forbidden: {ALICE_HOLDS}'
        '{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}'
    )


def test_alice_may_create_a_role_within_her_permissions(alice: CertClient) -> None:
    """admin has secrets in her namespace, so a Role reading them is allowed."""
    reader = role("secret-reader", rule(["get", "list"], ["secrets"]), namespace=TEAM)
    created(alice.create(roles_in(TEAM), reader))


def test_dry_run_is_checked_too(alice: CertClient) -> None:
    """A dry-run create is refused just as a real one would be."""
    status, body = alice.create(
        roles_in(TEAM) + "?dryRun=All", role("node-dry", NODE_READER, namespace=TEAM)
    )
    assert status == 403
    assert "is attempting to grant RBAC permissions not currently held" in body["message"]


def test_patch_that_adds_a_missing_permission_is_refused(
    alice: CertClient, admin: CertClient
) -> None:
    """Patching a Role to grant nodes is refused and leaves the Role as it was."""
    created(alice.create(roles_in(TEAM), role("grows", rule(["get"], ["pods"]), namespace=TEAM)))
    status, body = alice.request(
        "PATCH",
        f"{roles_in(TEAM)}/grows",
        {"rules": [rule(["get"], ["pods"]), NODE_READER]},
        content_type="application/merge-patch+json",
    )
    assert status == 403, body
    assert body["message"].startswith(f'roles.{RBAC} "grows" is forbidden: {ALICE_HOLDS}')
    _, stored = admin.request("GET", f"{roles_in(TEAM)}/grows")
    assert stored["rules"] == [rule(["get"], ["pods"])]


def test_update_that_adds_a_missing_permission_is_refused(alice: CertClient) -> None:
    """A PUT adding nodes to a Role is refused like a create."""
    body = created(
        alice.create(roles_in(TEAM), role("replaced", rule(["get"], ["pods"]), namespace=TEAM))
    )
    body["rules"].append(NODE_READER)
    status, refused = alice.request("PUT", f"{roles_in(TEAM)}/replaced", body)
    assert status == 403, refused
    assert refused["message"].startswith(f'roles.{RBAC} "replaced" is forbidden: {ALICE_HOLDS}')


def test_update_within_her_permissions_is_allowed(alice: CertClient) -> None:
    """Adding a subject to a binding of a role alice holds is an ordinary update."""
    body = created(
        alice.create(
            bindings_in(TEAM), binding("eve-edit", "ClusterRole", "edit", "eve", namespace=TEAM)
        )
    )
    body["subjects"].append({"apiGroup": RBAC, "kind": "User", "name": "dave"})
    status, updated = alice.request("PUT", f"{bindings_in(TEAM)}/eve-edit", body)
    assert status == 200, updated
    assert [s["name"] for s in updated["subjects"]] == ["eve", "dave"]


def test_binding_to_a_missing_role_is_not_found(alice: CertClient) -> None:
    """With no bind permission, the referenced role must exist to be compared."""
    status, body = alice.create(
        bindings_in(TEAM), binding("ghost", "ClusterRole", "no-such-role", "bob", namespace=TEAM)
    )
    assert status == 404
    assert body["message"] == f'clusterroles.{RBAC} "no-such-role" not found'


def test_bind_permission_lets_alice_bind_cluster_admin(alice: CertClient) -> None:
    """With bind on clusterroles/cluster-admin in BINDER, alice may bind it there."""
    created(
        alice.create(
            bindings_in(BINDER),
            binding("bob-root", "ClusterRole", "cluster-admin", "bob", namespace=BINDER),
        )
    )


def test_bind_permission_is_only_for_the_named_role(alice: CertClient) -> None:
    """bind on cluster-admin does not extend to other roles alice lacks."""
    status, _ = alice.create(
        bindings_in(BINDER),
        binding("bob-nodes", "ClusterRole", "system:kubelet-api-admin", "bob", namespace=BINDER),
    )
    assert status == 403


def test_escalate_permission_lets_alice_create_a_broader_role(alice: CertClient) -> None:
    """With escalate on roles in ESCALATOR, alice may create a Role granting nodes there."""
    created(
        alice.create(roles_in(ESCALATOR), role("node-reader", NODE_READER, namespace=ESCALATOR))
    )


def test_escalate_permission_does_not_cover_bindings(alice: CertClient) -> None:
    """escalate is for roles; binding cluster-admin in ESCALATOR is still refused."""
    status, _ = alice.create(
        bindings_in(ESCALATOR),
        binding("bob-root", "ClusterRole", "cluster-admin", "bob", namespace=ESCALATOR),
    )
    assert status == 403


def test_impersonated_user_is_the_one_checked(admin: CertClient, alice: CertClient) -> None:
    """The admin acting as alice is held to alice's permissions."""
    status, body = admin.create(
        bindings_in(TEAM),
        binding("bob-root-2", "ClusterRole", "cluster-admin", "bob", namespace=TEAM),
        headers={"Impersonate-User": "alice"},
    )
    assert status == 403, body
    assert 'user "alice"' in body["message"]


def test_system_masters_may_grant_anything(admin: CertClient) -> None:
    """The admin grants cluster-admin cluster-wide and creates any Role or ClusterRole."""
    created(
        admin.create(
            f"{RBAC_API}/clusterrolebindings",
            binding("bob-root", "ClusterRole", "cluster-admin", "bob"),
        )
    )
    created(admin.create(roles_in(TEAM), role("admin-node-reader", NODE_READER, namespace=TEAM)))
    created(admin.create(f"{RBAC_API}/clusterroles", role("everything", rule(["*"], ["*"], "*"))))


@pytest.fixture(scope="module")
def carol(
    srv: ServerProcess, admin: CertClient, tmp_path_factory: pytest.TempPathFactory
) -> CertClient:
    """carol: may create ClusterRoles and read configmaps, everywhere."""
    client = user_client(srv, "carol", tmp_path_factory.mktemp("carol"))
    writer = role(
        "clusterrole-writer",
        rule(["create"], ["clusterroles"], RBAC),
        rule(["get"], ["configmaps"]),
    )
    created(admin.create(f"{RBAC_API}/clusterroles", writer))
    created(
        admin.create(
            f"{RBAC_API}/clusterrolebindings",
            binding("carol-writer", "ClusterRole", "clusterrole-writer", "carol"),
        )
    )
    wait_allowed(client, {"verb": "create", "group": RBAC, "resource": "clusterroles"})
    return client


def test_cluster_role_within_cluster_wide_rules_is_allowed(carol: CertClient) -> None:
    """carol reads configmaps everywhere, so she may create a ClusterRole reading them."""
    created(
        carol.create(f"{RBAC_API}/clusterroles", role("cm-reader", rule(["get"], ["configmaps"])))
    )


def test_cluster_role_beyond_cluster_wide_rules_is_refused(carol: CertClient) -> None:
    """A ClusterRole is compared with cluster-wide rules only: secrets are refused."""
    status, body = carol.create(
        f"{RBAC_API}/clusterroles", role("secret-reader", rule(["get"], ["secrets"]))
    )
    assert status == 403
    assert body["message"] == (
        f'clusterroles.{RBAC} "secret-reader" is forbidden: user "carol" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    )


def test_aggregation_rule_needs_full_authority(carol: CertClient) -> None:
    """An aggregated ClusterRole can gather anything, so only a cluster admin may write one."""
    aggregated = role("gatherer")
    aggregated["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}
    status, body = carol.create(f"{RBAC_API}/clusterroles", aggregated)
    assert status == 403
    assert body["message"] == (
        f'clusterroles.{RBAC} "gatherer" is forbidden: '
        "must have cluster-admin privileges to use the aggregationRule"
    )


def test_garbage_collector_fields_may_change_without_holding_the_rules(
    admin: CertClient, alice: CertClient
) -> None:
    """alice may add a finalizer to a Role granting nodes, but not relabel it."""
    created(admin.create(roles_in(TEAM), role("gc-owned", NODE_READER, namespace=TEAM)))
    path = f"{roles_in(TEAM)}/gc-owned"
    merge = "application/merge-patch+json"
    finalizer = {"metadata": {"finalizers": ["example.com/keep"]}}
    status, body = alice.request("PATCH", path, finalizer, content_type=merge)
    assert status == 200, body
    label = {"metadata": {"labels": {"team": "a"}}}
    status, body = alice.request("PATCH", path, label, content_type=merge)
    assert status == 403, body
