"""A real ``kubegate serve`` started with a low soft open-file limit (``prlimit``) runs with
its hard limit, logs the limit it runs with, and exposes it in /metrics as kube's
``process_max_fds``."""

from __future__ import annotations

import http.client
import resource
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serverkit import ServerProcess, start_server_process

HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
STARTED_WITH = 512

pytestmark = pytest.mark.skipif(
    shutil.which("prlimit") is None or HARD <= STARTED_WITH,
    reason="needs prlimit(1) and a hard open-file limit above 512",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server_process(
        tmp_path_factory.mktemp("nofile") / "data",
        wrapper=("prlimit", f"--nofile={STARTED_WITH}:", "--"),
    )
    yield srv
    srv.stop()


def soft_limit_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no 'Max open files' line")


def scrape(srv: ServerProcess) -> dict[str, float]:
    url = urlsplit(srv.url)
    context = ssl.create_default_context(cafile=str(srv.data_dir / "ca.crt"))
    context.load_cert_chain(srv.data_dir / "admin.crt", srv.data_dir / "admin.key")
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read().decode()
    finally:
        conn.close()
    assert response.status == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_soft_limit_is_raised_to_the_hard_limit(server: ServerProcess) -> None:
    """Started with a soft limit of 512, the server runs with the hard limit."""
    assert soft_limit_of(server.proc.pid) == HARD


def test_the_limit_is_logged_at_start(server: ServerProcess) -> None:
    """The start-up log says which limit the server runs with and what it was raised from."""
    line = f"open-file limit {HARD} (hard limit {HARD}, raised from {STARTED_WITH})"
    assert any(line in entry for entry in list(server.output))


def test_the_limit_is_in_metrics(server: ServerProcess) -> None:
    """/metrics has process_max_fds (the limit in force) and process_open_fds."""
    scraped = scrape(server)
    assert scraped["process_max_fds"] == HARD
    assert 0 < scraped["process_open_fds"] < HARD
