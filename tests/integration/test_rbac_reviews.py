"""The review APIs and --authorization-mode against a server process, over raw HTTPS as the
admin (system:masters) and as ``alice`` (a client certificate with no bindings)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.cert_client import CertClient, admin_client, user_client
from serverkit import ServerProcess, start_server_process

AUTHZ = "/apis/authorization.k8s.io/v1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server_process(tmp_path_factory.mktemp("rbac-reviews"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(srv: ServerProcess) -> CertClient:
    return admin_client(srv)


@pytest.fixture(scope="module")
def alice(srv: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> CertClient:
    return user_client(srv, "alice", tmp_path_factory.mktemp("alice"))


def sar(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def test_subject_access_review_denies_alice_listing_secrets(admin: CertClient) -> None:
    """The admin asks whether alice may list secrets: no, with no reason."""
    status, body = admin.request(
        "POST",
        f"{AUTHZ}/subjectaccessreviews",
        sar({"user": "alice", "resourceAttributes": {"verb": "list", "resource": "secrets"}}),
    )
    assert status == 201
    assert body["status"] == {"allowed": False}


def test_subject_access_review_uses_the_groups_given(admin: CertClient) -> None:
    """Groups in the spec count: system:masters may do anything."""
    status, body = admin.request(
        "POST",
        f"{AUTHZ}/subjectaccessreviews",
        sar(
            {
                "user": "x",
                "groups": ["system:masters"],
                "nonResourceAttributes": {"verb": "get", "path": "/metrics"},
            }
        ),
    )
    assert (status, body["status"]["allowed"]) == (201, True)


def test_subject_access_review_without_a_subject_is_invalid(admin: CertClient) -> None:
    """A review naming neither user nor group is 422, as kube's validation says."""
    status, body = admin.request(
        "POST", f"{AUTHZ}/subjectaccessreviews", sar({"resourceAttributes": {"verb": "get"}})
    )
    assert status == 422
    assert body["message"] == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
        "at least one of user or group must be specified"
    )


def test_alice_may_not_create_subject_access_reviews(alice: CertClient) -> None:
    """Asking about others needs `create subjectaccessreviews`, which plain users lack."""
    status, body = alice.request(
        "POST",
        f"{AUTHZ}/subjectaccessreviews",
        sar({"user": "bob", "resourceAttributes": {"verb": "get", "resource": "pods"}}),
    )
    assert status == 403
    assert body["message"] == (
        'subjectaccessreviews.authorization.k8s.io is forbidden: User "alice" cannot create '
        'resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope'
    )


def test_self_subject_rules_review_lists_the_default_rules(alice: CertClient) -> None:
    """A user with no bindings gets the rules every authenticated user has."""
    status, body = alice.request(
        "POST",
        f"{AUTHZ}/selfsubjectrulesreviews",
        {
            "kind": "SelfSubjectRulesReview",
            "apiVersion": "authorization.k8s.io/v1",
            "spec": {"namespace": "default"},
        },
    )
    assert status == 201
    assert body["status"]["incomplete"] is False
    assert {
        "verbs": ["create"],
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["selfsubjectreviews"],
    } in body["status"]["resourceRules"]
    assert any("/apis/*" in r["nonResourceURLs"] for r in body["status"]["nonResourceRules"])


def test_self_subject_rules_review_needs_a_namespace(alice: CertClient) -> None:
    """Without spec.namespace the review is 400, as kube answers."""
    status, body = alice.request(
        "POST", f"{AUTHZ}/selfsubjectrulesreviews", {"kind": "SelfSubjectRulesReview", "spec": {}}
    )
    assert (status, body["message"]) == (400, "no namespace on request")


def test_alice_may_read_discovery_but_not_objects(alice: CertClient) -> None:
    """system:discovery lets every authenticated user read /apis; listing objects is 403."""
    assert alice.request("GET", "/apis")[0] == 200
    status, body = alice.request("GET", "/api/v1/namespaces/default/configmaps")
    assert status == 403
    assert body["message"] == (
        'configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" '
        'in the namespace "default"'
    )


def test_always_allow_mode_allows_everyone_and_says_so(tmp_path: Path) -> None:
    """--authorization-mode AlwaysAllow lets any authenticated user do anything, with a warning."""
    server = start_server_process(tmp_path / "data", "--authorization-mode", "AlwaysAllow")
    try:
        bob = user_client(server, "bob", tmp_path)
        assert bob.request("GET", "/api/v1/namespaces/default/secrets")[0] == 200
        assert any("WARNING: --authorization-mode AlwaysAllow" in line for line in server.output)
    finally:
        server.stop()
