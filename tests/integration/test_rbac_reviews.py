"""The review APIs and --authorization-mode against a server process, over raw HTTPS as the
admin (system:masters) and as ``alice`` (a client certificate with no bindings)."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kubegate.auth.pki import issue_client_cert
from serverkit import ServerProcess, start_server_process

AUTHZ = "/apis/authorization.k8s.io/v1"


class Client:
    def __init__(self, srv: ServerProcess, cert: Path, key: Path) -> None:
        url = urlsplit(srv.url)
        self.host, self.port = url.hostname or "", url.port or 0
        self.context = ssl.create_default_context(cafile=str(srv.data_dir / "ca.crt"))
        self.context.load_cert_chain(cert, key)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=30)
        try:
            conn.request(
                method,
                path,
                body=None if body is None else json.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()


def user_client(srv: ServerProcess, name: str, home: Path) -> Client:
    cert, key = issue_client_cert(
        (srv.data_dir / "ca.crt").read_bytes(), (srv.data_dir / "ca.key").read_bytes(), user=name
    )
    (home / f"{name}.crt").write_bytes(cert)
    (home / f"{name}.key").write_bytes(key)
    return Client(srv, home / f"{name}.crt", home / f"{name}.key")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server_process(tmp_path_factory.mktemp("rbac-reviews"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(srv: ServerProcess) -> Client:
    return Client(srv, srv.data_dir / "admin.crt", srv.data_dir / "admin.key")


@pytest.fixture(scope="module")
def alice(srv: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Client:
    return user_client(srv, "alice", tmp_path_factory.mktemp("alice"))


def sar(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def test_subject_access_review_denies_alice_listing_secrets(admin: Client) -> None:
    """The admin asks whether alice may list secrets: no, with no reason."""
    status, body = admin.request(
        "POST",
        f"{AUTHZ}/subjectaccessreviews",
        sar({"user": "alice", "resourceAttributes": {"verb": "list", "resource": "secrets"}}),
    )
    assert status == 201
    assert body["status"] == {"allowed": False}


def test_subject_access_review_uses_the_groups_given(admin: Client) -> None:
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


def test_subject_access_review_without_a_subject_is_invalid(admin: Client) -> None:
    """A review naming neither user nor group is 422, as kube's validation says."""
    status, body = admin.request(
        "POST", f"{AUTHZ}/subjectaccessreviews", sar({"resourceAttributes": {"verb": "get"}})
    )
    assert status == 422
    assert body["message"] == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
        "at least one of user or group must be specified"
    )


def test_alice_may_not_create_subject_access_reviews(alice: Client) -> None:
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


def test_self_subject_rules_review_lists_the_default_rules(alice: Client) -> None:
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


def test_self_subject_rules_review_needs_a_namespace(alice: Client) -> None:
    """Without spec.namespace the review is 400, as kube answers."""
    status, body = alice.request(
        "POST", f"{AUTHZ}/selfsubjectrulesreviews", {"kind": "SelfSubjectRulesReview", "spec": {}}
    )
    assert (status, body["message"]) == (400, "no namespace on request")


def test_alice_may_read_discovery_but_not_objects(alice: Client) -> None:
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
