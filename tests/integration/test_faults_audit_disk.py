"""Disk full for the audit log: the server's audit log lives on a tiny tmpfs mounted in a
mount namespace of its own (``unshare -m``), which the test fills through
``/proc/<pid>/root``. With ``--audit-log-mode=blocking-strict`` (the default) nothing is
served unaudited — reads get 503 instead of their data, writes are refused before they
happen — /readyz fails and the server serves again once there is room; with ``blocking``
requests are served and the lost records counted (docs/operations.md)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration.api_kit import Api
from integration.proxy.cluster import ServerProcess, start_server_process

AUDIT_DIR = "/tmp/kubegate-audit-fs"  # the mount point, inside the server's namespace only
TMPFS_SIZE = "256k"
FAST = 2.0  # seconds: a refusal must be this quick
WITHIN = 15.0


def can_mount_tmpfs() -> str | None:
    """Why a private tmpfs cannot be mounted here, or None if it can."""
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    os.makedirs(AUDIT_DIR, exist_ok=True)
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {AUDIT_DIR}"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a private mount namespace: {probe.stderr.strip()}"
    return None


pytestmark = pytest.mark.skipif((reason := can_mount_tmpfs()) is not None, reason=reason or "")


@dataclass
class DiskServer:
    process: ServerProcess

    @property
    def audit_dir(self) -> Path:
        """The tmpfs as this process can reach it: through the server's own root."""
        return Path(f"/proc/{self.process.proc.pid}/root{AUDIT_DIR}")

    def fill(self) -> None:
        """Take every free byte of the tmpfs with a filler file."""
        fd = os.open(self.audit_dir / "filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def free(self) -> None:
        (self.audit_dir / "filler").unlink()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any] | str]:
        reply = Api(self.process).as_admin_token(method, path, body)
        return reply.status, reply.parsed()

    def fill_until_refused(self) -> tuple[int, Any]:
        """Fill the disk, then read until a record no longer fits (the audit log's last
        page may still hold a few); the first answer that is not 200."""
        self.fill()
        for _ in range(50):
            status, body = self.call("GET", "/api/v1/namespaces/default/configmaps")
            if status != 200:
                return status, body
        raise AssertionError("the audit log never ran out of space")

    def log_mentions(self, text: str) -> bool:
        return any(text in line for line in list(self.process.output))


def start(tmp_path: Path, *flags: str) -> DiskServer:
    mount = f'mount -t tmpfs -o size={TMPFS_SIZE} tmpfs "$0" && exec "$@"'
    process = start_server_process(
        tmp_path / "data",
        "--audit-log-path",
        f"{AUDIT_DIR}/audit.log",
        *flags,
        wrapper=("unshare", "-m", "sh", "-c", mount, AUDIT_DIR),
    )
    return DiskServer(process)


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[DiskServer]:
    server = start(tmp_path)
    yield server
    server.process.stop()


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def test_read_whose_record_cannot_be_written_gets_503_not_its_data(strict: DiskServer) -> None:
    """The first read whose record does not fit is answered 503 ServiceUnavailable with a
    message naming the audit log, instead of the list."""
    assert strict.call("GET", "/api/v1/namespaces")[0] == 200
    status, body = strict.fill_until_refused()
    assert status == 503
    assert isinstance(body, dict) and body["reason"] == "ServiceUnavailable"
    assert "audit" in body["message"]
    assert "items" not in body


def test_write_is_refused_before_it_happens_while_the_log_is_full(strict: DiskServer) -> None:
    """While records cannot be written, a create is refused fast with 503 and the object is
    not created (checked once the disk has room again)."""
    strict.fill_until_refused()
    started = time.monotonic()
    status, _ = strict.call("POST", "/api/v1/namespaces/default/configmaps", configmap("ghost"))
    assert status == 503
    assert time.monotonic() - started < FAST
    strict.free()
    deadline = time.monotonic() + WITHIN
    while strict.call("GET", "/api/v1/namespaces/default/configmaps")[0] != 200:
        assert time.monotonic() < deadline, "the server did not serve again"
        time.sleep(0.05)
    assert strict.call("GET", "/api/v1/namespaces/default/configmaps/ghost")[0] == 404


def test_readiness_fails_and_liveness_holds_while_the_log_is_full(strict: DiskServer) -> None:
    """/readyz turns 503 (load balancers move traffic away) while /livez stays 200 (a restart
    would not free the disk)."""
    strict.fill_until_refused()
    assert strict.call("GET", "/readyz")[0] == 503
    assert strict.call("GET", "/livez")[0] == 200
    strict.free()
    deadline = time.monotonic() + WITHIN
    while strict.call("GET", "/readyz")[0] != 200:
        strict.call("GET", "/api")  # a request's record is the probe that notices the room
        assert time.monotonic() < deadline, "readiness did not come back"
        time.sleep(0.05)


def test_loss_is_logged_and_counted(strict: DiskServer) -> None:
    """The server log says why, and apiserver_audit_error_total counts the lost records."""
    strict.fill_until_refused()
    for _ in range(3):
        strict.call("GET", "/api")
    strict.free()
    deadline = time.monotonic() + WITHIN
    while (scrape := strict.call("GET", "/metrics"))[0] != 200:
        assert time.monotonic() < deadline, "the server did not serve again"
        time.sleep(0.05)
    errors = [
        sample.value
        for family in text_string_to_metric_families(str(scrape[1]))
        if family.name == "apiserver_audit_error"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels == {"plugin": "log"}
    ]
    assert errors and errors[0] >= 4
    assert strict.log_mentions("audit log write failed")
    assert strict.log_mentions("audit record lost")


def test_blocking_mode_keeps_serving_and_counts_the_loss(tmp_path: Path) -> None:
    """With --audit-log-mode=blocking a full disk loses records but requests are served."""
    server = start(tmp_path, "--audit-log-mode", "blocking")
    try:
        server.fill()
        statuses = [server.call("GET", "/api/v1/namespaces")[0] for _ in range(20)]
        assert statuses == [200] * 20
        assert server.log_mentions("audit record lost")
    finally:
        server.process.stop()
