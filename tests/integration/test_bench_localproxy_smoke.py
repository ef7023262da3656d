"""``python -m bench localproxy --quick`` runs end to end: both local proxies pass bytes intact,
and the judged kubegate/kubectl ratio is printed with a number and a verdict."""

from __future__ import annotations

import math
import re

import pytest

from integration.bench_kit import QuickRun, needs_nginx_and_wrk, run_bench

QUICK_ARGS = ("--quick", "--duration", "1", "--file-mib", "2", "--transfer-runs", "1")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    needs_nginx_and_wrk,
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """One short run (1 s wrk runs, 2 MiB downloads), shared by the tests below."""
    results = tmp_path_factory.mktemp("bench-results")
    return run_bench(
        ["localproxy", *QUICK_ARGS], results, result_glob="*-localproxy.json", timeout=200
    )


def test_quick_run_exits_zero(quick_run: QuickRun) -> None:
    """The harness exits 0 after a complete run, whatever the numbers."""
    assert quick_run.process.returncode == 0, quick_run.process.stdout + quick_run.process.stderr


@pytest.mark.parametrize("subject", ["kubectl", "kubegate"])
def test_each_proxy_passed_bytes_intact(quick_run: QuickRun, subject: str) -> None:
    """Both proxies served the small body and the large file intact, and wrk saw no errors."""
    result = quick_run.document["subjects"][subject]
    assert result["check"]["ok"], result["check"]["problems"]
    assert result["c50"]["median"]["errors"] == 0
    assert result["c50"]["median"]["non_2xx_3xx"] == 0


def test_rps_ratio_row_has_a_number_and_a_verdict(quick_run: QuickRun) -> None:
    """The judged c50 ratio is printed as ``N.NNx (a / b req/s)`` with PASS or FAIL."""
    line = next((x for x in quick_run.process.stdout.splitlines() if "proxy rps c50" in x), None)
    assert line is not None, quick_run.process.stdout
    assert re.search(r"\d+\.\d\dx \([\d,]+ / [\d,]+ req/s\)", line), line
    assert line.rstrip().endswith(("PASS", "FAIL")), line


def test_json_holds_both_rps_numbers(quick_run: QuickRun) -> None:
    """The results file holds each proxy's c50 and c1 rps as finite positive numbers."""
    subjects = quick_run.document["subjects"]
    numbers = [subjects[s][f"c{c}"]["median"]["rps"] for s in subjects for c in (50, 1)]
    assert len(numbers) == 4 and all(math.isfinite(n) and n > 0 for n in numbers), numbers
