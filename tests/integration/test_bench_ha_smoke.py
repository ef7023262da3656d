"""``python -m bench ha --quick`` runs end to end: every subject measured without errors,
the ratio judged, and every watch delivery accounted for."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(420),
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in ("nginx", "wrk", "haproxy", "etcd")),
        reason="needs nginx, wrk, haproxy and etcd (scripts/apt-deps nginx wrk haproxy etcd-server)",
    ),
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    results = tmp_path_factory.mktemp("bench-results")
    process = subprocess.run(
        [sys.executable, "-m", "bench", "ha", "--quick", "--results-dir", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-2000:]
    [result] = results.glob("*-ha.json")
    return process.stdout, json.loads(result.read_text())


def test_every_proxy_subject_was_measured_without_errors(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    """Direct, one behind HAProxy and two behind HAProxy all served requests, none failed."""
    _, document = quick_run
    proxy = document["proxy"]
    assert set(proxy) == {"one_replica", "balancer_one", "balancer_two"}
    assert all(subject["rps"] > 0 and subject["errors"] == 0 for subject in proxy.values())


def test_the_ratio_and_the_watch_latency_are_judged(quick_run: tuple[str, dict[str, Any]]) -> None:
    """The report judges the replica ratio and the watch p99, and no delivery went missing."""
    stdout, document = quick_run
    judged = [line for line in stdout.splitlines() if line.rstrip().endswith(("PASS", "FAIL"))]
    assert any("2 replicas / 1 replica" in line for line in judged)
    assert any("delivery p99" in line for line in judged)
    watch = document["watch"]
    assert watch["deliveries"] == watch["expected_deliveries"] > 0
