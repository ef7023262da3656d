"""The audit log of a real server process: one valid ResponseComplete Event line per
request — rejected, streamed and proxied ones included — and, before it, a RequestReceived
line for a request that may change something, whose auditID is the response's Audit-Id, no
credential in any line, bodies only at the levels that ask for them, every acknowledged
request's line surviving ``kill -9``, and rotation at the size limit."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kubegate.auth import pki
from serverkit import ServerProcess, serve_command, start_server_process

PASSWORD = "hunter2-" + uuid.uuid4().hex
WRONG_PASSWORD = "wrong-" + uuid.uuid4().hex
STATIC_TOKEN = "static-" + uuid.uuid4().hex
BAD_TOKEN = "not-a-token-" + uuid.uuid4().hex
COOKIE = "cookie-" + uuid.uuid4().hex
QUERY_TOKEN = "qtoken-" + uuid.uuid4().hex
READY_TIMEOUT = 30.0


@dataclass
class Reply:
    status: int
    audit_id: str
    body: bytes


class Client:
    """Plain HTTPS to one server: admin client certificate, another user's, or none."""

    def __init__(self, srv: ServerProcess) -> None:
        url = urlsplit(srv.url)
        self.host, self.port = url.hostname or "", url.port or 0
        self.data_dir = srv.data_dir
        self.admin_token = (srv.data_dir / "admin.token").read_text().strip()

    def tls(self, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.data_dir / "ca.crt"))
        if cert is not None:
            context.load_cert_chain(*cert)
        return context

    @property
    def admin(self) -> tuple[Path, Path]:
        return self.data_dir / "admin.crt", self.data_dir / "admin.key"

    def connect(self, cert: tuple[Path, Path] | None = None) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.tls(cert), timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        cert: tuple[Path, Path] | None = None,
        headers: dict[str, str] | None = None,
        conn: http.client.HTTPSConnection | None = None,
    ) -> Reply:
        own = conn is None
        conn = conn or self.connect(cert)
        try:
            data = json.dumps(body) if body is not None else None
            conn.request(
                method,
                path,
                body=data,
                headers={"Content-Type": "application/json", **(headers or {})},
            )
            response = conn.getresponse()
            return Reply(response.status, response.headers.get("Audit-Id", ""), response.read())
        finally:
            if own:
                conn.close()

    def until_ok(self, path: str, cert: tuple[Path, Path]) -> Reply:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            reply = self.request("GET", path, cert=cert)
            if reply.status == 200 or time.monotonic() > deadline:
                return reply
            time.sleep(0.1)


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def records(path: Path) -> list[dict[str, Any]]:
    """Every line of the log and its backups, each of which must parse."""
    lines = []
    for file in sorted(path.parent.glob(f"{path.stem}*{path.suffix}")):
        for raw in file.read_bytes().splitlines():
            lines.append(json.loads(raw))
    return lines


def by_id(path: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in records(path):
        found.setdefault(record["auditID"], []).append(record)
    return found


def user_cert(data_dir: Path, tmp: Path, user: str) -> tuple[Path, Path]:
    cert, key = pki.issue_client_cert(
        (data_dir / "ca.crt").read_bytes(),
        (data_dir / "ca.key").read_bytes(),
        user=user,
        groups=["dev"],
    )
    (tmp / f"{user}.crt").write_bytes(cert)
    (tmp / f"{user}.key").write_bytes(key)
    return tmp / f"{user}.crt", tmp / f"{user}.key"


@dataclass
class Audited:
    srv: ServerProcess
    client: Client
    log: Path
    replies: dict[str, Reply]  # what was sent -> the reply


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    """A --demo server with an audit log, and one request of every kind sent to it."""
    tmp = tmp_path_factory.mktemp("audit")
    log = tmp / "logs" / "audit.log"
    (tmp / "basic.csv").write_text(f'{PASSWORD},alice,1001,"dev"\n')
    (tmp / "tokens.csv").write_text(f'{STATIC_TOKEN},bob,1002,"dev"\n')
    srv = start_server_process(
        tmp / "data",
        "--demo",
        "--audit-log-path",
        str(log),
        "--basic-auth-file",
        str(tmp / "basic.csv"),
        "--token-auth-file",
        str(tmp / "tokens.csv"),
    )
    try:
        client = Client(srv)
        admin = client.admin
        echo = "/api/v1/namespaces/kube-system/services/echo:http/proxy/hello"
        assert client.until_ok(echo, admin).status == 200, "the demo echo service never came up"
        basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        wrong = base64.b64encode(f"alice:{WRONG_PASSWORD}".encode()).decode()
        replies = {
            "list": client.request("GET", "/api/v1/namespaces/default/configmaps", cert=admin),
            "create": client.request(
                "POST", "/api/v1/namespaces/default/configmaps", configmap("audited"), cert=admin
            ),
            "bad path": client.request("GET", "/api/v1/namespaces/%2e%2e/services", cert=admin),
            "no credential": client.request("GET", "/api/v1/namespaces"),
            "bad bearer": client.request(
                "GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {BAD_TOKEN}"}
            ),
            "basic auth": client.request(
                "GET", "/api", headers={"Authorization": f"Basic {basic}"}
            ),
            "wrong password": client.request(
                "GET", "/api", headers={"Authorization": f"Basic {wrong}"}
            ),
            "static token": client.request(
                "GET", "/api", headers={"Authorization": f"Bearer {STATIC_TOKEN}"}
            ),
            "admin token": client.request(
                "GET",
                "/api/v1/namespaces/default",
                headers={"Authorization": f"Bearer {client.admin_token}"},
            ),
            "forbidden": client.request(
                "GET",
                "/api/v1/namespaces/default/configmaps",
                cert=user_cert(srv.data_dir, tmp, "jane"),
            ),
            "not found": client.request(
                "GET", "/api/v1/namespaces/default/configmaps/missing", cert=admin
            ),
            "watch": client.request(
                "GET", "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1", cert=admin
            ),
            "proxy": client.request(
                "GET",
                f"{echo}?access_token={QUERY_TOKEN}&q=1",
                cert=admin,
                headers={"Cookie": f"session={COOKIE}"},
            ),
        }
        yield Audited(srv, client, log, replies)
    finally:
        srv.stop()


EXPECTED_STATUS = {
    "list": 200,
    "create": 201,
    "bad path": 400,
    "no credential": 401,
    "bad bearer": 401,
    "basic auth": 200,
    "wrong password": 401,
    "static token": 200,
    "admin token": 200,
    "forbidden": 403,
    "not found": 404,
    "watch": 200,
    "proxy": 200,
}


def test_requests_got_the_expected_answers(audited: Audited):
    """The scenario is what it claims: each kind of request got its status and an Audit-Id."""
    assert {k: r.status for k, r in audited.replies.items()} == EXPECTED_STATUS
    ids = [r.audit_id for r in audited.replies.values()]
    assert all(ids) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("kind", list(EXPECTED_STATUS))
def test_each_request_has_exactly_one_complete_record_with_its_audit_id(
    audited: Audited, kind: str
):
    """Allowed, rejected, streamed and proxied requests alike get one ResponseComplete record
    whose auditID is the Audit-Id header and whose code is the status sent; only the write
    (the create) has a RequestReceived record, before it."""
    reply = audited.replies[kind]
    records = by_id(audited.log)[reply.audit_id]
    stages = [record["stage"] for record in records]
    writes = kind == "create"
    assert stages == (["RequestReceived", "ResponseComplete"] if writes else ["ResponseComplete"])
    assert records[-1]["responseStatus"]["code"] == reply.status


def test_every_line_is_a_valid_metadata_event(audited: Audited):
    """Every line parses as an audit.k8s.io/v1 Event with kube's required fields."""
    lines = records(audited.log)
    assert len(lines) >= len(EXPECTED_STATUS)
    for record in lines:
        assert record["kind"] == "Event" and record["apiVersion"] == "audit.k8s.io/v1"
        assert record["level"] == "Metadata"
        assert {"auditID", "requestURI", "verb", "user", "sourceIPs", "stageTimestamp"} <= set(
            record
        )
        assert "requestObject" not in record and "responseObject" not in record


def test_no_credential_appears_in_the_log(audited: Audited):
    """Neither the admin token, a static or unknown bearer token, a right or wrong basic-auth
    password, a cookie nor a credential query parameter sent by a client is in any line."""
    text = b"".join(f.read_bytes() for f in audited.log.parent.iterdir()).decode()
    secrets = (audited.client.admin_token, STATIC_TOKEN, BAD_TOKEN, PASSWORD, WRONG_PASSWORD)
    for secret in (*secrets, COOKIE, QUERY_TOKEN):
        assert secret not in text
    proxy = by_id(audited.log)[audited.replies["proxy"].audit_id][0]
    assert proxy["requestURI"].endswith("?access_token=REDACTED&q=1")


def test_forbidden_request_records_the_user_and_the_decision(audited: Audited):
    """A 403 names who was refused and carries the authorization decision annotation."""
    (record,) = by_id(audited.log)[audited.replies["forbidden"].audit_id]
    assert record["user"]["username"] == "jane"
    assert record["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert record["responseStatus"]["reason"] == "Forbidden"


def test_unauthenticated_request_records_an_empty_user(audited: Audited):
    """A 401 is recorded with ``user: {}`` and the Unauthorized status."""
    (record,) = by_id(audited.log)[audited.replies["no credential"].audit_id]
    assert record["user"] == {}
    assert record["responseStatus"]["reason"] == "Unauthorized"


def test_resource_request_records_its_object_ref(audited: Audited):
    """A create's records (both stages) name the resource, namespace and version it wrote."""
    for record in by_id(audited.log)[audited.replies["create"].audit_id]:
        assert record["verb"] == "create"
        assert record["objectRef"] == {
            "resource": "configmaps",
            "namespace": "default",
            "apiVersion": "v1",
        }


POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: Request
    resources: [{group: "", resources: [configmaps]}]
    verbs: [create]
  - level: Metadata
"""


def test_request_level_logs_the_request_object(tmp_path: Path):
    """With a policy putting configmap creates at Request, their ResponseComplete record
    holds the object sent (the RequestReceived one, written before the body is read, does
    not); other requests stay at Metadata."""
    log = tmp_path / "audit.log"
    (tmp_path / "policy.yaml").write_text(POLICY)
    srv = start_server_process(
        tmp_path / "data",
        "--audit-log-path",
        str(log),
        "--audit-policy-file",
        str(tmp_path / "policy.yaml"),
    )
    try:
        client = Client(srv)
        created = client.request(
            "POST", "/api/v1/namespaces/default/configmaps", configmap("logged"), cert=client.admin
        )
        listed = client.request("GET", "/api/v1/namespaces/default/configmaps", cert=client.admin)
    finally:
        srv.stop()
    found = by_id(log)
    received, create = found[created.audit_id]
    assert received["stage"] == "RequestReceived" and "requestObject" not in received
    assert create["level"] == "Request"
    assert create["requestObject"]["metadata"]["name"] == "logged"
    assert create["requestObject"]["data"] == {"k": "v"}
    assert "responseObject" not in create
    (listing,) = found[listed.audit_id]
    assert listing["level"] == "Metadata" and "requestObject" not in listing


def test_acknowledged_requests_survive_sigkill(tmp_path: Path):
    """Killed with SIGKILL right after a burst, the log holds a whole, parsable line for every
    request whose response the clients received."""
    log = tmp_path / "audit.log"
    srv = start_server_process(tmp_path / "data", "--audit-log-path", str(log))
    client = Client(srv)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def hammer(n: int) -> None:
        conn = client.connect(client.admin)
        try:
            i = 0
            while not stop.is_set():
                i += 1
                reply = client.request(
                    "POST",
                    "/api/v1/namespaces/default/configmaps",
                    configmap(f"burst-{n}-{i}"),
                    conn=conn,
                )
                with lock:
                    acknowledged.append(reply.audit_id)
        except (OSError, http.client.HTTPException):
            pass  # the server died under us: that request was never acknowledged
        finally:
            conn.close()

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGKILL)  # while the burst is still running
    stop.set()
    for t in threads:
        t.join(10)
    srv.stop()
    with lock:
        done = list(acknowledged)
    assert len(done) >= 200
    # The kill may land inside the write of a record nobody was answered for yet (SIGKILL
    # stops a write between pages): only the file's last line may be cut short, and only
    # until the server opens the log again.
    text = log.read_bytes()
    whole, _, torn = text.rpartition(b"\n")
    found: dict[str, list[dict[str, Any]]] = {}
    for raw in whole.splitlines():
        record = json.loads(raw)
        found.setdefault(record["auditID"], []).append(record)
    missing = [audit_id for audit_id in done if audit_id not in found]
    assert missing == []
    if torn:
        restarted = start_server_process(tmp_path / "data", "--audit-log-path", str(log))
        restarted.stop()
        assert log.read_bytes().startswith(whole + b"\n")
        records(log)  # every line parses once it was reopened


def test_log_rotates_at_the_size_limit(tmp_path: Path):
    """Past --audit-log-maxsize the log is renamed to a timestamped backup, at most
    --audit-log-maxbackups of which are kept; no record is lost or split."""
    log = tmp_path / "audit.log"
    srv = start_server_process(
        tmp_path / "data",
        "--audit-log-path",
        str(log),
        "--audit-log-maxsize-bytes",
        "4096",
        "--audit-log-maxbackups",
        "3",
    )
    try:
        client = Client(srv)
        conn = client.connect(client.admin)
        ids = [
            client.request("GET", "/api/v1/namespaces/default/configmaps", conn=conn).audit_id
            for _ in range(60)
        ]
        conn.close()
    finally:
        srv.stop()
    backups = sorted(tmp_path.glob("audit-*.log"))
    assert len(backups) == 3
    for file in [log, *backups]:
        assert 0 < file.stat().st_size <= 4096
    found = by_id(log)
    recent = [i for i in ids if i in found]
    assert recent and recent == ids[-len(recent) :]  # the newest records are all kept


def test_audit_log_can_go_to_standard_output(tmp_path: Path):
    """``--audit-log-path -`` writes the records to standard output."""
    srv = start_server_process(tmp_path / "data", "--audit-log-path", "-")
    try:
        client = Client(srv)
        reply = client.request("GET", "/version")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(reply.audit_id in o for o in srv.output):
            time.sleep(0.05)
    finally:
        srv.stop()
    (line,) = [o for o in srv.output if reply.audit_id in o]
    assert json.loads(line)["requestURI"] == "/version"


def test_invalid_policy_file_stops_the_server_from_starting(tmp_path: Path):
    """A policy with a misspelt field is refused at start with exit code 2."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("verbs:", "verb:"))
    result = subprocess.run(
        serve_command(
            tmp_path / "data",
            "--audit-log-path",
            str(tmp_path / "audit.log"),
            "--audit-policy-file",
            str(policy),
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown field 'verb'" in result.stderr
