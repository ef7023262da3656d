"""``/metrics`` and the structured logs of a real server process.

One ``--demo --log-format json --access-log`` server: /metrics is authorized like kube's
(the admin or an RBAC grant on the nonResourceURL; 401 without a credential, 403 without
the grant), counts API and proxied requests with kube's names and only bounded labels, and
every log line is JSON carrying the Audit-Id of the request it was logged in — with no
credential anywhere in the output."""

from __future__ import annotations

import http.client
import json
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubegate.auth import pki
from serverkit import ServerProcess, start_server_process

ECHO = "/api/v1/namespaces/kube-system/services/echo:http/proxy/hello"
SECURE_ECHO = "/api/v1/namespaces/kube-system/services/https:secure-echo:443/proxy/"
QUERY_SECRET = "qsecret-" + uuid.uuid4().hex
PROBE_NAMESPACE = "probe-ns-" + uuid.uuid4().hex[:8]
# What kubegate prints (not logs) on standard output while starting and stopping.
PRINTED = ("kubegate API server listening on", "Admin kubeconfig:", "Try: kubectl", "Shutting down")
READY_TIMEOUT = 30.0


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def audit_id(self) -> str:
        return self.headers.get("Audit-Id", "")


class Client:
    def __init__(self, srv: ServerProcess) -> None:
        url = urlsplit(srv.url)
        self.host, self.port = url.hostname or "", url.port or 0
        self.data_dir = srv.data_dir
        self.admin = (srv.data_dir / "admin.crt", srv.data_dir / "admin.key")
        self.admin_token = (srv.data_dir / "admin.token").read_text().strip()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        cert: tuple[Path, Path] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        context = ssl.create_default_context(cafile=str(self.data_dir / "ca.crt"))
        if cert is not None:
            context.load_cert_chain(*cert)
        conn = http.client.HTTPSConnection(self.host, self.port, context=context, timeout=30)
        try:
            data = json.dumps(body) if body is not None else None
            conn.request(
                method,
                path,
                body=data,
                headers={"Content-Type": "application/json", **(headers or {})},
            )
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def user_cert(self, tmp: Path, user: str, groups: tuple[str, ...] = ()) -> tuple[Path, Path]:
        cert, key = pki.issue_client_cert(
            (self.data_dir / "ca.crt").read_bytes(),
            (self.data_dir / "ca.key").read_bytes(),
            user=user,
            groups=list(groups),
        )
        (tmp / f"{user}.crt").write_bytes(cert)
        (tmp / f"{user}.key").write_bytes(key)
        return tmp / f"{user}.crt", tmp / f"{user}.key"

    def scrape(self, cert: tuple[Path, Path] | None = None) -> dict[str, list[Any]]:
        reply = self.request("GET", "/metrics", cert=cert or self.admin)
        assert reply.status == 200, reply.body
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        found: dict[str, list[Any]] = {}
        for family in text_string_to_metric_families(reply.body.decode()):
            for sample in family.samples:
                found.setdefault(sample.name, []).append(sample)
        return found


def total(scraped: dict[str, list[Any]], name: str, **labels: str) -> float:
    return sum(s.value for s in scraped.get(name, []) if labels.items() <= s.labels.items())


@dataclass
class Scenario:
    srv: ServerProcess
    client: Client
    before: dict[str, list[Any]]
    after: dict[str, list[Any]]
    replies: dict[str, Reply]
    tmp: Path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """A scrape, then a list, proxied requests and refused ones, then a second scrape."""
    tmp = tmp_path_factory.mktemp("metrics")
    srv = start_server_process(tmp / "data", "--demo", "--log-format", "json", "--access-log")
    try:
        client = Client(srv)
        deadline = time.monotonic() + READY_TIMEOUT
        while client.request("GET", ECHO, cert=client.admin).status != 200:
            assert time.monotonic() < deadline, "the demo echo service never came up"
            time.sleep(0.1)
        before = client.scrape()
        replies = {
            "list": client.request(
                "GET", f"/api/v1/namespaces/{PROBE_NAMESPACE}/configmaps", cert=client.admin
            ),
            "proxy": client.request(
                "GET",
                f"{ECHO}?access_token={QUERY_SECRET}",
                headers={"Authorization": f"Bearer {client.admin_token}"},
            ),
            "secure proxy": client.request("GET", SECURE_ECHO, cert=client.admin),
            "no credential": client.request("GET", "/metrics"),
            "not granted": client.request(
                "GET", "/metrics", cert=client.user_cert(tmp, "jane", ("dev",))
            ),
        }
        after = client.scrape()
        yield Scenario(srv, client, before, after, replies, tmp)
    finally:
        srv.stop()


def test_requests_got_the_expected_answers(scenario: Scenario):
    """The scenario is what it claims to be."""
    assert {k: r.status for k, r in scenario.replies.items()} == {
        "list": 200,
        "proxy": 200,
        "secure proxy": 200,
        "no credential": 401,
        "not granted": 403,
    }


def test_a_list_is_counted(scenario: Scenario):
    """The LIST of configmaps adds one to its apiserver_request_total series, code 200."""
    labels = {"verb": "LIST", "resource": "configmaps", "scope": "namespace", "code": "200"}
    name = "apiserver_request_total"
    assert total(scenario.after, name, **labels) - total(scenario.before, name, **labels) == 1


def test_proxied_requests_are_counted(scenario: Scenario):
    """Proxied requests count as CONNECT services/proxy and in the proxy's own counters."""
    before, after = scenario.before, scenario.after
    labels = {"verb": "CONNECT", "resource": "services", "subresource": "proxy", "code": "200"}
    name = "apiserver_request_total"
    assert total(after, name, **labels) - total(before, name, **labels) == 2
    proxied = "kubegate_proxy_requests_total"
    assert (
        total(after, proxied, kind="services", code="200")
        - total(before, proxied, kind="services", code="200")
        == 2
    )
    sent = "kubegate_proxy_bytes_total"
    assert total(after, sent, direction="response") > total(before, sent, direction="response")
    assert total(after, "kubegate_proxy_upstream_connections_opened_total") >= 2


def test_refused_requests_are_counted(scenario: Scenario):
    """The 401 and the 403 show in the request counter and the auth counters."""
    after = scenario.after
    assert total(after, "apiserver_request_total", code="401") >= 1
    assert total(after, "apiserver_request_total", code="403") >= 1
    assert total(after, "authentication_attempts_total", result="failure") >= 1
    assert total(after, "apiserver_authorization_decisions_total", decision="denied") >= 1


def test_latency_and_size_histograms_are_there(scenario: Scenario):
    """The LIST also lands in the duration and response-size histograms."""
    after = scenario.after
    labels = {"verb": "LIST", "resource": "configmaps", "le": "+Inf"}
    assert total(after, "apiserver_request_duration_seconds_bucket", **labels) >= 1
    assert total(after, "apiserver_response_sizes_bucket", **labels) >= 1


def test_no_label_names_a_namespace_user_or_path(scenario: Scenario):
    """No series carries a namespace, a service, a user or a path (CVE-2020-8552)."""
    forbidden = (
        PROBE_NAMESPACE,
        "kube-system",
        "default",
        "echo",
        "kubegate-admin",
        "jane",
        "/hello",
        QUERY_SECRET,
        "python",
    )  # python: http.client's user agent
    for samples in scenario.after.values():
        for sample in samples:
            for value in sample.labels.values():
                assert not any(f in value for f in forbidden), sample


def test_metrics_needs_a_credential(scenario: Scenario):
    """Without a credential /metrics is 401, like every non-public path."""
    reply = scenario.replies["no credential"]
    assert json.loads(reply.body)["reason"] == "Unauthorized"


def test_metrics_needs_an_rbac_grant(scenario: Scenario):
    """A user is refused until a ClusterRole grants get on the /metrics nonResourceURL."""
    client = scenario.client
    reply = scenario.replies["not granted"]
    assert json.loads(reply.body)["message"].startswith(
        'forbidden: User "jane" cannot get path "/metrics"'
    )
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "metrics-reader"},
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "prometheus-metrics-reader"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "metrics-reader",
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "prometheus"}
        ],
    }
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    assert client.request("POST", f"{rbac}/clusterroles", role, cert=client.admin).status == 201
    assert (
        client.request("POST", f"{rbac}/clusterrolebindings", binding, cert=client.admin).status
        == 201
    )
    prometheus = client.user_cert(scenario.tmp, "prometheus")
    deadline = time.monotonic() + READY_TIMEOUT
    while (status := client.request("GET", "/metrics", cert=prometheus).status) == 403:
        assert time.monotonic() < deadline, "the grant never took effect"
        time.sleep(0.05)
    assert status == 200
    assert client.request("GET", "/api/v1/namespaces", cert=prometheus).status == 403


# -- logs ----------------------------------------------------------------------------------


def log_lines(scenario: Scenario, until: str) -> list[str]:
    """The server's output so far, once it contains ``until`` (output is drained by a thread)."""
    deadline = time.monotonic() + 10
    while True:
        text = "".join(scenario.srv.output)
        if until in text or time.monotonic() > deadline:
            return text.splitlines()
        time.sleep(0.05)


def test_every_log_line_is_json(scenario: Scenario):
    """With --log-format json every line is one JSON object (the printed banner aside)."""
    lines = log_lines(scenario, scenario.replies["not granted"].audit_id)
    logged = [line for line in lines if not line.startswith(PRINTED)]
    assert len(logged) > len(scenario.replies)
    for line in logged:
        doc = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(doc)


def test_access_line_carries_the_audit_id(scenario: Scenario):
    """The proxied request's access line names its Audit-Id, path (no query) and status."""
    reply = scenario.replies["proxy"]
    lines = log_lines(scenario, reply.audit_id)
    (access,) = [
        json.loads(x)
        for x in lines
        if reply.audit_id in x and json.loads(x)["logger"] == "kubegate.access"
    ]
    assert access["auditID"] == reply.audit_id
    assert (access["method"], access["path"], access["status"]) == ("GET", ECHO, 200)
    assert access["user"] == "kubegate-admin" and access["bytes"] > 0


def test_a_line_logged_inside_a_request_carries_its_audit_id(scenario: Scenario):
    """The proxy's warning about an unverified https backend names the request it came from."""
    reply = scenario.replies["secure proxy"]
    lines = log_lines(scenario, reply.audit_id)
    warnings = [
        json.loads(x)
        for x in lines
        if x.startswith("{") and json.loads(x)["logger"] == "kubegate.proxy"
    ]
    (warning,) = [w for w in warnings if "without verifying" in w["message"]]
    assert warning["auditID"] == reply.audit_id and warning["level"] == "WARNING"


def test_no_credential_in_the_logs(scenario: Scenario):
    """Neither the bearer token nor a credential query parameter reaches the output."""
    text = "\n".join(log_lines(scenario, scenario.replies["not granted"].audit_id))
    assert scenario.client.admin_token not in text
    assert QUERY_SECRET not in text and "access_token" not in text
