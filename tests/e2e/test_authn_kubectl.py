"""The real kubectl (pinned 1.37.1) with kubegate's authentication: `kubectl create token`,
using that token, revocation by deleting the account, and `--as` impersonation."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jwt
import pytest
import yaml

from serverkit import Kubectl, ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def ns(kubectl: Kubectl):
    """A fresh namespace per test, deleted afterwards."""
    name = f"authn-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def anonymous_kubectl(server: ServerProcess, tmp_path: Path) -> Kubectl:
    """kubectl with a kubeconfig that trusts the server but carries no credential, so
    `--token` is the only one sent (a client certificate would win, as in kube)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kg",
                "cluster": {
                    "server": server.url,
                    "certificate-authority": str(server.data_dir / "ca.crt"),
                },
            }
        ],
        "users": [{"name": "nobody", "user": {}}],
        "contexts": [{"name": "kg", "context": {"cluster": "kg", "user": "nobody"}}],
        "current-context": "kg",
    }
    path = tmp_path / "token.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return Kubectl(str(path), tmp_path / "cache")


def whoami(kubectl: Kubectl, *args: str) -> dict:
    return json.loads(kubectl.run("auth", "whoami", "-o", "json", *args).stdout)["status"][
        "userInfo"
    ]


def test_created_token_authenticates_as_the_service_account(
    kubectl: Kubectl, anonymous_kubectl: Kubectl, ns: str
) -> None:
    """`kubectl create token` (a protobuf TokenRequest) yields a token that is the account."""
    kubectl.run("create", "serviceaccount", "robot", "-n", ns)
    token = kubectl.run("create", "token", "robot", "-n", ns).stdout.strip()
    user = whoami(anonymous_kubectl, f"--token={token}")
    assert user["username"] == f"system:serviceaccount:{ns}:robot"
    assert f"system:serviceaccounts:{ns}" in user["groups"]


def test_token_duration_and_audience_are_honoured(kubectl: Kubectl, ns: str) -> None:
    """--duration and --audience reach the token's exp and aud."""
    kubectl.run("create", "serviceaccount", "robot", "-n", ns)
    token = kubectl.run(
        "create", "token", "robot", "-n", ns, "--duration=20m", "--audience=vault"
    ).stdout.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == ["vault"]
    assert claims["exp"] - claims["iat"] == 1200


def test_deleted_account_token_is_rejected(
    kubectl: Kubectl, anonymous_kubectl: Kubectl, ns: str
) -> None:
    """After `kubectl delete serviceaccount` its token is Unauthorized."""
    kubectl.run("create", "serviceaccount", "robot", "-n", ns)
    token = kubectl.run("create", "token", "robot", "-n", ns).stdout.strip()
    whoami(anonymous_kubectl, f"--token={token}")
    kubectl.run("delete", "serviceaccount", "robot", "-n", ns)
    deadline = time.monotonic() + 10
    while True:
        result = anonymous_kubectl.run("auth", "whoami", f"--token={token}", check=False)
        if result.returncode != 0:
            break
        assert time.monotonic() < deadline, "token still accepted"
        time.sleep(0.1)
    assert "Unauthorized" in result.stderr


def test_token_for_a_missing_account_fails(kubectl: Kubectl, ns: str) -> None:
    """`kubectl create token` for an account that does not exist reports it."""
    result = kubectl.run("create", "token", "ghost", "-n", ns, check=False)
    assert result.returncode != 0
    assert 'serviceaccounts "ghost" not found' in result.stderr


def test_admin_impersonates_with_as(kubectl: Kubectl) -> None:
    """The admin (system:masters) may `--as=bob --as-group=g`; whoami shows bob in g."""
    user = whoami(kubectl, "--as=bob", "--as-group=g")
    assert user["username"] == "bob"
    assert user["groups"] == ["g", "system:authenticated"]


def test_admin_impersonates_a_service_account(kubectl: Kubectl) -> None:
    """`--as=system:serviceaccount:NS:NAME` gets the account's groups."""
    user = whoami(kubectl, "--as=system:serviceaccount:team:robot")
    assert user["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:team",
        "system:authenticated",
    ]


def test_ordinary_user_cannot_impersonate(
    kubectl: Kubectl, anonymous_kubectl: Kubectl, ns: str
) -> None:
    """A service account without the impersonate verb gets 403 for `--as`."""
    kubectl.run("create", "serviceaccount", "robot", "-n", ns)
    token = kubectl.run("create", "token", "robot", "-n", ns).stdout.strip()
    # A typed command: kubectl prints the Status message (discovery-based ones say "unknown").
    result = anonymous_kubectl.run(
        "create", "configmap", "cm", "-n", ns, f"--token={token}", "--as=bob", check=False
    )
    assert result.returncode != 0
    assert (
        f'users "bob" is forbidden: User "system:serviceaccount:{ns}:robot" cannot impersonate '
        'resource "users" in API group "" at the cluster scope'
    ) in result.stderr
