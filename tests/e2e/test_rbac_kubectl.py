"""RBAC end to end: the real kubectl as the admin (system:masters) and as ``alice``, a user
with a client certificate and a Role granting only ``get services/proxy`` on one service port
in kube-system. What alice may reach, the 403s she gets (kube's exact wording), and what
``kubectl auth can-i`` answers must all agree."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kubegate.auth.pki import issue_client_cert
from kubegate.server.datadir_kubeconfig import write_kubeconfig
from serverkit import Kubectl, ServerProcess, start_server_process

pytestmark = pytest.mark.e2e

ECHO = "/api/v1/namespaces/kube-system/services/echo:http/proxy/"


def forbidden(resource: str, name: str, verb: str, full: str, where: str) -> str:
    """kubectl's rendering of kube's 403 Status message."""
    subject = f'{resource} "{name}"' if name else resource
    return (
        f"Error from server (Forbidden): {subject} is forbidden: "
        f'User "alice" cannot {verb} resource "{full}" in API group "" {where}'
    )


def eventually(check: Callable[[], None], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A fresh server with the demo services, RBAC on (the default)."""
    server = start_server_process(tmp_path_factory.mktemp("rbac-e2e"), "--demo")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(srv: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(srv.kubeconfig, tmp_path_factory.mktemp("cache-admin"))


@pytest.fixture(scope="module")
def alice_files(srv: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """alice's client certificate, key and kubeconfig, issued by the data dir's CA."""
    home = tmp_path_factory.mktemp("alice")
    ca_cert = (srv.data_dir / "ca.crt").read_bytes()
    cert, key = issue_client_cert(ca_cert, (srv.data_dir / "ca.key").read_bytes(), user="alice")
    (home / "alice.crt").write_bytes(cert)
    (home / "alice.key").write_bytes(key)
    kubeconfig = write_kubeconfig(
        home / "alice.kubeconfig",
        server_url=srv.url,
        ca_cert_pem=ca_cert,
        client_cert_pem=cert,
        client_key_pem=key,
        user="alice",
    )
    return {"cert": home / "alice.crt", "key": home / "alice.key", "kubeconfig": kubeconfig}


@pytest.fixture(scope="module")
def alice(
    admin: Kubectl, alice_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Kubectl:
    """alice, bound to a Role allowing only ``get`` on ``services/proxy`` of ``echo:http``."""
    admin.run(
        "create", "role", "proxy-echo", "-n", "kube-system", "--verb=get",
        "--resource=services/proxy", "--resource-name=echo:http",
    )  # fmt: skip
    admin.run(
        "create", "rolebinding", "alice-proxy-echo", "-n", "kube-system",
        "--role=proxy-echo", "--user=alice",
    )  # fmt: skip
    user = Kubectl(str(alice_files["kubeconfig"]), tmp_path_factory.mktemp("cache-alice"))

    def bound() -> None:
        result = user.run("get", "--raw", ECHO, check=False)
        assert result.returncode == 0, result.stderr

    eventually(bound)
    return user


def test_alice_reaches_the_granted_service_port(alice: Kubectl) -> None:
    """The Role's one service port is reachable through the API server proxy."""
    body = alice.run("get", "--raw", ECHO).stdout
    assert '"service": "echo"' in body


def test_alice_is_forbidden_another_service(alice: Kubectl) -> None:
    """Another service in the same namespace is 403, in kube's words."""
    result = alice.run(
        "get",
        "--raw",
        "/api/v1/namespaces/kube-system/services/webapp:http-web/proxy/",
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == forbidden(
        "services", "webapp:http-web", "get", "services/proxy", 'in the namespace "kube-system"'
    )


def test_alice_is_forbidden_the_same_name_in_another_namespace(alice: Kubectl) -> None:
    """The same service id in another namespace is 403: a Role grants in its namespace only."""
    result = alice.run(
        "get", "--raw", "/api/v1/namespaces/default/services/echo:http/proxy/", check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == forbidden(
        "services", "echo:http", "get", "services/proxy", 'in the namespace "default"'
    )


def test_alice_is_forbidden_other_forms_of_the_same_service(alice: Kubectl) -> None:
    """resourceNames match the whole id: the bare name or another port of echo is 403."""
    result = alice.run(
        "get", "--raw", "/api/v1/namespaces/kube-system/services/echo/proxy/", check=False
    )
    assert result.stderr.strip() == forbidden(
        "services", "echo", "get", "services/proxy", 'in the namespace "kube-system"'
    )


@pytest.mark.parametrize(
    ("target", "namespace", "answer"),
    [
        ("services/echo:http", "kube-system", "yes"),
        ("services/webapp:http-web", "kube-system", "no"),
        ("services/echo:http", "default", "no"),
    ],
    ids=["granted", "other-service", "other-namespace"],
)
def test_can_i_agrees_with_the_proxy(
    alice: Kubectl, target: str, namespace: str, answer: str
) -> None:
    """`kubectl auth can-i get services/NAME --subresource=proxy` answers as the proxy decides."""
    result = alice.run(
        "auth", "can-i", "get", target, "--subresource=proxy", "-n", namespace, check=False
    )
    assert result.stdout.strip() == answer
    assert result.returncode == (0 if answer == "yes" else 1)


def test_can_i_list_shows_the_rule(alice: Kubectl) -> None:
    """`kubectl auth can-i --list` (a SelfSubjectRulesReview) shows the Role's rule."""
    rows = [
        line.split()
        for line in alice.run("auth", "can-i", "--list", "-n", "kube-system").stdout.splitlines()
    ]
    assert ["services/proxy", "[]", "[echo:http]", "[get]"] in rows
    assert ["selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows


def test_can_i_list_elsewhere_omits_the_rule(alice: Kubectl) -> None:
    """In a namespace without bindings the list holds only the cluster-wide defaults."""
    out = alice.run("auth", "can-i", "--list", "-n", "default").stdout
    assert "services/proxy" not in out
    assert "[/healthz]" in out


def test_alice_cannot_list_secrets(alice: Kubectl) -> None:
    """Listing secrets is 403 with kube's message, and can-i agrees."""
    result = alice.run("get", "secrets", "-n", "kube-system", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == forbidden(
        "secrets", "", "list", "secrets", 'in the namespace "kube-system"'
    )
    assert (
        alice.run(
            "auth", "can-i", "list", "secrets", "-n", "kube-system", check=False
        ).stdout.strip()
        == "no"
    )


def test_alice_can_see_who_she_is(alice: Kubectl) -> None:
    """`kubectl auth whoami` works for an ordinary user (system:basic-user)."""
    out = alice.run("auth", "whoami").stdout
    assert "alice" in out
    assert "system:authenticated" in out


def test_admin_can_do_anything(admin: Kubectl) -> None:
    """The system:masters admin may do everything, and can-i says so."""
    assert admin.run("auth", "can-i", "*", "*", "--all-namespaces").stdout.strip() == "yes"
    assert (
        admin.run("auth", "can-i", "get", "services/proxy", "-n", "kube-system").stdout.strip()
        == "yes"
    )
    admin.run("get", "secrets", "-A")
    admin.run("get", "--raw", ECHO)


def test_bootstrap_roles_are_served(admin: Kubectl) -> None:
    """The default ClusterRoles and bindings exist and carry kube's rbac-defaults label."""
    names = admin.run(
        "get", "clusterroles", "-l", "kubernetes.io/bootstrapping=rbac-defaults", "-o", "name"
    ).stdout.split()
    for role in (
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:public-info-viewer",
    ):
        assert f"clusterrole.rbac.authorization.k8s.io/{role}" in names
    binding = admin.json("get", "clusterrolebinding", "cluster-admin")
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
    ]


def test_subject_access_review_answers_for_alice(admin: Kubectl) -> None:
    """A SubjectAccessReview evaluates the user named in its spec."""
    review = """{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
      "spec": {"user": "alice", "groups": ["system:authenticated"],
        "resourceAttributes": {"namespace": "kube-system", "verb": "get", "resource": "services",
          "subresource": "proxy", "name": "echo:http"}}}"""
    # --validate=false: kubectl looks for CRDs to validate kinds without a PATCH operation,
    # and kubegate serves no apiextensions API.
    out = admin.run("create", "--validate=false", "-f", "-", "-o", "json", input=review).stdout
    assert json.loads(out)["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "alice-proxy-echo/kube-system" of Role '
        '"proxy-echo" to User "alice"',
    }


def test_can_i_resource_slash_name_is_a_name_not_a_subresource(alice: Kubectl) -> None:
    """`can-i get services/proxy` asks about a Service *named* proxy (kubectl splits
    RESOURCE/NAME), so alice's subresource grant does not make it "yes"."""
    result = alice.run("auth", "can-i", "get", "services/proxy", "-n", "kube-system", check=False)
    assert result.stdout.strip() == "no"


# -- WebSocket upgrades to node proxies need "create" as well (stricter than kube) -------------


def upgrade_status(srv: ServerProcess, files: dict[str, Path], path: str) -> tuple[int, str]:
    """Send a WebSocket upgrade as alice; return the status code and the Status message (or
    the response head when there is no JSON body)."""
    url = urlsplit(srv.url)
    context = ssl.create_default_context(cafile=str(srv.data_dir / "ca.crt"))
    context.load_cert_chain(files["cert"], files["key"])
    with socket.create_connection((url.hostname, url.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=url.hostname) as tls:
            tls.sendall(
                (
                    f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                ).encode()
            )
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            try:
                data += tls.recv(4096)
            except (TimeoutError, ssl.SSLError):
                pass
    text = data.decode("latin-1")
    head, _, body = text.partition("\r\n\r\n")
    status = int(head.split(" ", 2)[1])
    if "{" not in body:
        return status, head
    return status, json.loads(body[body.index("{") : body.rindex("}") + 1]).get("message", "")


def test_node_proxy_upgrade_needs_create(
    srv: ServerProcess, admin: Kubectl, alice: Kubectl, alice_files: dict[str, Path]
) -> None:
    """With only `get nodes/proxy` a WebSocket upgrade to a node proxy is 403 (it would be
    command execution on the node); granting `create` too lets it past authorization."""
    admin.run("create", "clusterrole", "node-proxy", "--verb=get", "--resource=nodes/proxy")
    admin.run(
        "create",
        "clusterrolebinding",
        "alice-node-proxy",
        "--clusterrole=node-proxy",
        "--user=alice",
    )
    path = "/api/v1/nodes/n1/proxy/exec"
    eventually(lambda: _assert_can_i(alice, "get", "nodes/n1", "yes"))
    status, message = upgrade_status(srv, alice_files, path)
    assert (status, message) == (
        403,
        'nodes "n1" is forbidden: User "alice" cannot create resource "nodes/proxy" '
        'in API group "" at the cluster scope',
    )
    plain_get = alice.run("get", "--raw", path, check=False)
    assert "Forbidden" not in plain_get.stderr  # without an upgrade, get suffices

    admin.run(
        "create", "clusterrole", "node-proxy-create", "--verb=create", "--resource=nodes/proxy"
    )
    admin.run(
        "create", "clusterrolebinding", "alice-node-proxy-create",
        "--clusterrole=node-proxy-create", "--user=alice",
    )  # fmt: skip
    eventually(lambda: _assert_can_i(alice, "create", "nodes/n1", "yes"))
    status, text = upgrade_status(srv, alice_files, path)
    assert status != 403, text


def _assert_can_i(user: Kubectl, verb: str, target: str, answer: str) -> None:
    result = user.run("auth", "can-i", verb, target, "--subresource=proxy", check=False)
    assert result.stdout.strip() == answer
