"""Requests the HTTP layer refuses before the filter chain (malformed heads, 414, 431,
header timeouts) still get an audit record and an ``Audit-Id`` answer header, and are
counted in /metrics (security.md §4 rule 10, A40)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration.proxy.cluster import ServerProcess, start_server_process
from kubegate.auth.audit_file import AuditFile
from kubegate.auth.audit_policy import DEFAULT_POLICY
from kubegate.http.limits import Limits
from kubegate.http.server import HTTPServer
from kubegate.server.audit_log import FileAuditor
from kubegate.server.http_rejects import RejectedRequests

IO_TIMEOUT = 10.0


@dataclass
class Audited:
    server: ServerProcess
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        url = urlsplit(self.server.url)
        return url.hostname or "", url.port or 0

    def raw(self, data: bytes) -> bytes:
        """Send ``data`` on a fresh TLS connection; everything the server answers."""
        context = ssl.create_default_context(cafile=str(self.server.data_dir / "ca.crt"))
        with (
            socket.create_connection(self.address, timeout=IO_TIMEOUT) as sock,
            context.wrap_socket(sock, server_hostname=self.address[0]) as tls,
        ):
            tls.sendall(data)
            received = b""
            while chunk := tls.recv(65536):
                received += chunk
            return received

    def record(self, audit_id: str) -> dict[str, Any]:
        """The audit record with ``audit_id`` (polled: it is written before the answer)."""
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            for line in self.log.read_text().splitlines():
                event = json.loads(line)
                if event["auditID"] == audit_id:
                    return event
            assert time.monotonic() < deadline, f"no audit record {audit_id}"
            time.sleep(0.05)


def status_and_audit_id(answer: bytes) -> tuple[int, str]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), headers.get("Audit-Id", "")


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    tmp = tmp_path_factory.mktemp("audit-rejects")
    log = tmp / "audit.log"
    server = start_server_process(tmp / "data", "--audit-log-path", str(log))
    yield Audited(server, log)
    server.stop()


REFUSED = {
    "odd content-length": (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1_0\r\n\r\n", 400),
    "CL and TE": (
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
        400,
    ),
    "long URL": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    "too many headers": (
        b"GET / HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-%d: v\r\n" % i for i in range(101))
        + b"\r\n",
        431,
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_refused_request_gets_an_audit_id_and_a_record(audited: Audited, case: str) -> None:
    """The refusal carries an Audit-Id whose record names the status, the source IP and no
    user or URI (nothing was parsed that could be trusted)."""
    data, expected = REFUSED[case]
    status, audit_id = status_and_audit_id(audited.raw(data))
    assert status == expected
    assert audit_id
    event = audited.record(audit_id)
    assert event["stage"] == "ResponseComplete"
    assert event["responseStatus"]["code"] == expected
    assert event["sourceIPs"] == ["127.0.0.1"]
    assert event["user"] == {}
    assert event["requestURI"] == ""
    assert event["annotations"]["kubegate.io/refused-by"] == "http"


def test_refusals_are_counted_in_metrics(audited: Audited) -> None:
    """kubegate_http_rejected_requests_total counts refusals by status code."""
    audited.raw(REFUSED["odd content-length"][0])
    token = (audited.server.data_dir / "admin.token").read_text().strip()
    answer = audited.raw(
        b"GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
    )
    body = answer.split(b"\r\n\r\n", 1)[1].decode()
    counts = {
        sample.labels["code"]: sample.value
        for family in text_string_to_metric_families(body)
        if family.name == "kubegate_http_rejected_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    assert counts.get("400", 0) >= 1


async def test_header_timeout_is_audited(tmp_path: Path) -> None:
    """A client that starts a head and stalls (slowloris) gets 408 with an Audit-Id, and the
    record is in the log (an in-process server with a short header timeout)."""
    sink = AuditFile(tmp_path / "audit.log")
    sink.open()
    rejects = RejectedRequests(FileAuditor(DEFAULT_POLICY, sink))

    async def never_called(request: Any, response: Any) -> None:
        raise AssertionError("no request should reach the application")

    server = HTTPServer(never_called, Limits(header_timeout=0.3))
    server.on_reject = rejects
    try:
        [(host, port)] = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        answer = await asyncio.wait_for(reader.read(), IO_TIMEOUT)
        writer.close()
        status, audit_id = status_and_audit_id(answer)
        assert status == 408 and audit_id
        records = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
        assert [(r["auditID"], r["responseStatus"]["code"]) for r in records] == [(audit_id, 408)]
        assert rejects.by_status == {408: 1}
    finally:
        await server.shutdown(1.0)
        sink.close()
