"""A via-apiserver mirror refuses local ServiceAccounts and their tokens: its proxy acts
upstream as the local user, so a local ``system:serviceaccount:NS:NAME`` would act there as
the upstream's ServiceAccount of that name (docs/mirror.md). Both refusals are kube's
405 MethodNotAllowed Status, after authorization; other local objects stay writable."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from integration.proxy.harness import Kubegate
from serverkit import Kubectl

SERVICEACCOUNTS = "/api/v1/namespaces/default/serviceaccounts"


@pytest.fixture
def kubectl(mirror: Kubegate, tmp_path: Path) -> Kubectl:
    return Kubectl(mirror.process.kubeconfig, tmp_path / "kubectl-cache")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_creating_a_serviceaccount_is_method_not_allowed(mirror: Kubegate) -> None:
    """POST serviceaccounts answers a 405 Status that says why, and nothing is stored."""
    name = unique("deployer")
    response = await mirror.api("POST", SERVICEACCOUNTS, {"metadata": {"name": name}})
    assert response.status == 405, response
    status = response.json()
    assert status["kind"] == "Status" and status["reason"] == "MethodNotAllowed"
    assert "serviceaccounts are not created here" in status["message"]
    assert "--mirror-proxy via-apiserver" in status["message"]
    assert status["details"]["kind"] == "serviceaccounts"
    assert (await mirror.api("GET", f"{SERVICEACCOUNTS}/{name}")).status == 404


async def test_kubectl_create_serviceaccount_prints_the_refusal(kubectl: Kubectl) -> None:
    """``kubectl create serviceaccount`` fails and prints the reason."""
    result = await asyncio.to_thread(
        kubectl.run, "create", "serviceaccount", unique("ci"), "-n", "default", check=False
    )
    assert result.returncode != 0
    assert "failed to create serviceaccount: serviceaccounts are not created here" in result.stderr
    assert "would act in" in result.stderr


async def test_token_requests_are_method_not_allowed(mirror: Kubegate) -> None:
    """``serviceaccounts/NAME/token`` issues no token: 405, whatever the account."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    response = await mirror.api("POST", f"{SERVICEACCOUNTS}/default/token", body)
    assert response.status == 405, response
    status = response.json()
    assert status["reason"] == "MethodNotAllowed"
    assert "tokens for serviceaccounts are not issued here" in status["message"]
    assert "token" not in (status.get("status") or {})


async def test_other_local_objects_stay_writable(mirror: Kubegate) -> None:
    """The refusal is narrow: a ConfigMap (not mirrored, not an identity) is still created."""
    configmap = {"metadata": {"name": unique("settings")}, "data": {"a": "1"}}
    response = await mirror.api("POST", "/api/v1/namespaces/default/configmaps", configmap)
    assert response.status == 201, response
