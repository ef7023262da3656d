"""RBACAuthorizer over a real MemoryStore: decisions follow the stored Roles and bindings, and
evaluation looks only at the bindings that can apply to the asking user."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import kubegate.core.rbac as core_rbac
from kubegate.auth.rbac import RBACAuthorizer
from kubegate.auth.types import Attributes, UserInfo
from kubegate.store.base import Store, object_key
from kubegate.store.memory import MemoryStore

JSON = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
ALICE = UserInfo("alice", groups=("system:authenticated",))


async def eventually(check: Callable[[], None], within: float = 5.0) -> None:
    """Poll ``check`` until it stops raising AssertionError (or the timeout passes)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            check()
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.01)


def role(name: str, ns: str, *rules: JSON) -> JSON:
    meta: JSON = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"kind": "Role" if ns else "ClusterRole", "metadata": meta, "rules": list(rules)}


def binding(name: str, ns: str, role_kind: str, role_name: str, *users: str) -> JSON:
    meta: JSON = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {
        "kind": "RoleBinding" if ns else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": [{"apiGroup": RBAC, "kind": "User", "name": u} for u in users],
    }


async def put(store: Store, resource: str, obj: JSON) -> None:
    meta = obj["metadata"]
    await store.create(object_key(resource, meta.get("namespace", ""), meta["name"]), obj)


def get_proxy(name: str, ns: str, user: UserInfo = ALICE) -> Attributes:
    return Attributes(
        user, "get", True, namespace=ns, resource="services", subresource="proxy", name=name
    )


PROXY_ECHO = {
    "apiGroups": [""],
    "resources": ["services/proxy"],
    "resourceNames": ["echo:http"],
    "verbs": ["get"],
}


@pytest.fixture
async def authz(store: MemoryStore) -> AsyncIterator[RBACAuthorizer]:
    authorizer = RBACAuthorizer(store)
    authorizer.start()
    assert await authorizer.wait_synced(5)
    yield authorizer
    await authorizer.stop()


async def test_binding_created_then_deleted_changes_the_decision(
    store: MemoryStore, authz: RBACAuthorizer
) -> None:
    """A new RoleBinding allows the request soon after it is stored; deleting it denies again."""
    await put(store, "roles", role("proxy-echo", "kube-system", PROXY_ECHO))
    assert not authz.authorize(get_proxy("echo:http", "kube-system")).allowed
    await put(store, "rolebindings", binding("alice", "kube-system", "Role", "proxy-echo", "alice"))
    await eventually(lambda: assert_allowed(authz, get_proxy("echo:http", "kube-system")))
    await store.delete(object_key("rolebindings", "kube-system", "alice"))
    await eventually(lambda: assert_denied(authz, get_proxy("echo:http", "kube-system")))


async def test_role_edit_changes_the_decision(store: MemoryStore, authz: RBACAuthorizer) -> None:
    """Editing the bound Role's rules changes what the binding allows."""
    await put(store, "roles", role("proxy-echo", "kube-system", PROXY_ECHO))
    await put(store, "rolebindings", binding("alice", "kube-system", "Role", "proxy-echo", "alice"))
    await eventually(lambda: assert_allowed(authz, get_proxy("echo:http", "kube-system")))

    def narrow(obj: JSON) -> JSON:
        obj["rules"][0]["resourceNames"] = ["webapp:http-web"]
        return obj

    await store.guaranteed_update(object_key("roles", "kube-system", "proxy-echo"), narrow)
    await eventually(lambda: assert_denied(authz, get_proxy("echo:http", "kube-system")))
    assert authz.authorize(get_proxy("webapp:http-web", "kube-system")).allowed


async def test_role_binding_to_cluster_role_grants_only_in_its_namespace(
    store: MemoryStore, authz: RBACAuthorizer
) -> None:
    """A RoleBinding to a ClusterRole applies the role's rules in the binding's namespace only."""
    await put(store, "clusterroles", role("proxy-echo", "", PROXY_ECHO))
    await put(
        store, "rolebindings", binding("b", "kube-system", "ClusterRole", "proxy-echo", "alice")
    )
    await eventually(lambda: assert_allowed(authz, get_proxy("echo:http", "kube-system")))
    decision = authz.authorize(get_proxy("echo:http", "kube-system"))
    assert decision.reason == (
        'RBAC: allowed by RoleBinding "b/kube-system" of ClusterRole "proxy-echo" to User "alice"'
    )
    assert not authz.authorize(get_proxy("echo:http", "default")).allowed


async def test_binding_to_missing_role_denies_with_reason_until_the_role_appears(
    store: MemoryStore, authz: RBACAuthorizer
) -> None:
    """A ClusterRoleBinding to a role not (yet) stored denies, saying so; creating the role
    then allows."""
    await put(store, "clusterrolebindings", binding("b", "", "ClusterRole", "later", "alice"))
    request = get_proxy("echo:http", "kube-system")
    await eventually(
        lambda: assert_reason(
            authz, request, 'RBAC: clusterrole.rbac.authorization.k8s.io "later" not found'
        )
    )
    await put(store, "clusterroles", role("later", "", PROXY_ECHO))
    await eventually(lambda: assert_allowed(authz, request))


async def test_masters_are_allowed_without_bindings(authz: RBACAuthorizer) -> None:
    """system:masters members may do anything, with no binding stored."""
    root = UserInfo("root", groups=("system:masters",))
    assert authz.authorize(Attributes(root, "delete", True, resource="nodes", name="n")).allowed


async def test_rules_for_lists_the_bound_rules(store: MemoryStore, authz: RBACAuthorizer) -> None:
    """rules_for returns the rules of the bindings applying to the user in that namespace."""
    await put(store, "roles", role("proxy-echo", "kube-system", PROXY_ECHO))
    await put(store, "rolebindings", binding("alice", "kube-system", "Role", "proxy-echo", "alice"))

    def check() -> None:
        rules, errors = authz.rules_for(ALICE, "kube-system")
        assert [r.to_json() for r in rules] == [PROXY_ECHO]
        assert errors == []

    await eventually(check)
    assert authz.rules_for(ALICE, "default") == ([], [])


# -- cost does not grow with other users' bindings --------------------------------------------


async def _bind_many(store: Store, count: int) -> None:
    await put(store, "roles", role("proxy-echo", "kube-system", PROXY_ECHO))
    await put(store, "rolebindings", binding("alice", "kube-system", "Role", "proxy-echo", "alice"))
    for i in range(count):
        await put(
            store,
            "rolebindings",
            binding(f"other-{i}", "kube-system", "Role", "proxy-echo", f"user-{i}"),
        )


async def test_evaluation_visits_only_the_users_bindings(
    store: MemoryStore, authz: RBACAuthorizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 5,000 RoleBindings for other users in the same namespace, a decision for alice
    examines only alice's binding (counted at the subject check every examined binding passes)."""
    await _bind_many(store, 5000)
    await eventually(lambda: assert_allowed(authz, get_proxy("echo:http", "kube-system")))
    examined: list[str] = []
    real = core_rbac.applying_subject

    def counting(user: Any, b: core_rbac.Binding) -> core_rbac.Subject | None:
        examined.append(b.name)
        return real(user, b)

    monkeypatch.setattr(core_rbac, "applying_subject", counting)
    assert authz.authorize(get_proxy("webapp:http-web", "kube-system")).allowed is False
    assert examined == ["alice"]


@pytest.mark.slow
async def test_5000_other_bindings_cost_little_time(store: MemoryStore) -> None:
    """Time per authorize() with 5,000 other users' RoleBindings stays close to the time
    with 10 (the bound is generous to avoid flakiness; the ratio is printed)."""

    async def per_call(count: int) -> float:
        fresh = MemoryStore()
        await fresh.start()
        await _bind_many(fresh, count)
        authz = RBACAuthorizer(fresh)
        authz.start()
        try:
            await authz.wait_synced(10)
            await eventually(lambda: assert_allowed(authz, get_proxy("echo:http", "kube-system")))
            request = get_proxy("echo:http", "kube-system")
            best = float("inf")
            for _ in range(7):
                start = time.perf_counter()
                for _ in range(2000):
                    authz.authorize(request)
                best = min(best, time.perf_counter() - start)
            return best / 2000
        finally:
            await authz.stop()
            await fresh.close()

    small, large = await per_call(10), await per_call(5000)
    ratio = large / small
    print(
        f"authorize(): {small * 1e6:.2f}µs with 10 bindings, {large * 1e6:.2f}µs with 5,000 ({ratio:.2f}x)"
    )
    assert ratio < 1.5


def assert_allowed(authz: RBACAuthorizer, attrs: Attributes) -> None:
    assert authz.authorize(attrs).allowed


def assert_denied(authz: RBACAuthorizer, attrs: Attributes) -> None:
    assert not authz.authorize(attrs).allowed


def assert_reason(authz: RBACAuthorizer, attrs: Attributes, reason: str) -> None:
    decision = authz.authorize(attrs)
    assert not decision.allowed
    assert decision.reason == reason


# -- memoised decisions -----------------------------------------------------------------------


async def test_repeated_question_is_evaluated_once(
    store: MemoryStore, authz: RBACAuthorizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asking the same question again (any proxy sub-path) answers from the memo."""
    await put(store, "roles", role("proxy-echo", "kube-system", PROXY_ECHO))
    await put(store, "rolebindings", binding("alice", "kube-system", "Role", "proxy-echo", "alice"))
    await eventually(lambda: assert_allowed(authz, get_proxy("echo:http", "kube-system")))
    evaluations: list[str] = []
    real = core_rbac.evaluate

    def counting(*args: Any) -> tuple[bool, str]:
        evaluations.append("x")
        return real(*args)

    monkeypatch.setattr("kubegate.auth.rbac.evaluate", counting)
    for subpath in ("/a", "/b", "/c"):
        attrs = Attributes(
            ALICE,
            "get",
            True,
            path=f"/api/v1/x{subpath}",
            namespace="kube-system",
            resource="services",
            subresource="proxy",
            name="echo:http",
        )
        assert authz.authorize(attrs).allowed
    assert evaluations == []


async def test_binding_change_drops_memoised_decisions(
    store: MemoryStore, authz: RBACAuthorizer
) -> None:
    """An allow remembered while a binding existed does not outlive the binding."""
    await put(store, "roles", role("proxy-echo", "kube-system", PROXY_ECHO))
    await put(store, "rolebindings", binding("alice", "kube-system", "Role", "proxy-echo", "alice"))
    request = get_proxy("echo:http", "kube-system")
    await eventually(lambda: assert_allowed(authz, request))  # remembered now
    await store.delete(object_key("rolebindings", "kube-system", "alice"))
    await eventually(lambda: assert_denied(authz, request))


async def test_other_groups_are_another_question(store: MemoryStore, authz: RBACAuthorizer) -> None:
    """A remembered decision for a user is not reused when the same name comes with other
    groups (a group binding applies only to members)."""
    await put(store, "roles", role("proxy-echo", "kube-system", PROXY_ECHO))
    group_binding = binding("ops", "kube-system", "Role", "proxy-echo")
    group_binding["subjects"] = [{"apiGroup": RBAC, "kind": "Group", "name": "ops"}]
    await put(store, "rolebindings", group_binding)
    member = UserInfo("alice", groups=("system:authenticated", "ops"))
    await eventually(lambda: assert_allowed(authz, get_proxy("echo:http", "kube-system", member)))
    assert not authz.authorize(get_proxy("echo:http", "kube-system", ALICE)).allowed
