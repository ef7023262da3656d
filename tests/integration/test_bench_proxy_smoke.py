"""``python -m bench proxy --quick`` runs end to end and reports every ratio with a number."""

from __future__ import annotations

import math
import re

import pytest

from integration.bench_kit import QuickRun, needs_nginx_and_wrk, run_bench

SUBJECTS = (
    "direct",
    "nginx",
    "nginx-tls",
    "kubectl",
    "kubectl-pooled",
    "kubegate",
    "kubegate-mt",
    "kubegate-allow",
    "python-floor",
    "python-floor-tls",
)
JUDGED_RATIOS = (
    "kubegate / kubectl rps c50",
    "kubegate / nginx rps c50",
    "kubegate / nginx p99 c50",
    "kubegate / nginx download",
    "kubegate / nginx upload",
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(420),
    needs_nginx_and_wrk,
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """One ``--quick`` run of every subject, shared by the tests below."""
    results = tmp_path_factory.mktemp("bench-results")
    return run_bench(["proxy", "--quick"], results, result_glob="*-proxy.json", timeout=400)


def _lines(run: QuickRun, section: str) -> list[str]:
    return [line for line in run.process.stdout.splitlines() if line.startswith(section + " ")]


def test_quick_run_exits_zero(quick_run: QuickRun) -> None:
    """The harness exits 0 after a complete run, whatever the numbers."""
    assert quick_run.process.returncode == 0, quick_run.process.stdout + quick_run.process.stderr


@pytest.mark.parametrize("ratio", JUDGED_RATIOS)
def test_ratio_line_has_a_number_and_a_verdict(quick_run: QuickRun, ratio: str) -> None:
    """Each judged ratio is printed as ``N.NNx (a / b unit)`` with PASS or FAIL."""
    line = next((x for x in _lines(quick_run, "ratio") if ratio in x), None)
    assert line is not None, quick_run.process.stdout
    assert re.search(rf"{re.escape(ratio)}\s+\d+\.\d\dx \([\d,.]+ / [\d,.]+ ", line), line
    assert line.rstrip().endswith(("PASS", "FAIL")), line


def test_rss_growth_line_has_a_number_and_a_verdict(quick_run: QuickRun) -> None:
    """The kubegate RSS growth while streaming is a signed MiB number with PASS or FAIL."""
    line = next(x for x in _lines(quick_run, "ratio") if "kubegate RSS growth" in x)
    assert re.search(r"[+-]\d+\.\d MiB over \d+\.\d MiB idle", line), line
    assert line.rstrip().endswith(("PASS", "FAIL")), line


@pytest.mark.parametrize("subject", SUBJECTS)
def test_every_subject_ran_and_passed_bytes_intact(quick_run: QuickRun, subject: str) -> None:
    """Each subject served the small body, the large file and the upload intact."""
    result = quick_run.document["subjects"][subject]
    assert "error" not in result, result.get("error")
    assert result["check"]["ok"], result["check"]["problems"]


def test_json_holds_the_ratios_as_numbers(quick_run: QuickRun) -> None:
    """The results file holds every judged ratio as a finite positive number."""
    ratios = quick_run.document["ratios"]
    assert all(math.isfinite(ratios[r]) and ratios[r] > 0 for r in JUDGED_RATIOS), ratios


def test_floor_rows_have_numbers(quick_run: QuickRun) -> None:
    """The floor subjects are compared with kubectl proxy and nginx, as finite ratios."""
    ratios = quick_run.document["ratios"]
    for metric in ("python-floor-tls / kubectl rps c50", "python-floor-tls / nginx rps c50"):
        assert math.isfinite(ratios[metric]) and ratios[metric] > 0, ratios
    assert any(line.startswith("floor ") for line in quick_run.process.stdout.splitlines())


def test_authz_pair_alternates_and_is_judged(quick_run: QuickRun) -> None:
    """The authn+authz cost is judged on alternating rounds of both servers, with a verdict."""
    pair = quick_run.document["authz_pair"]
    assert len(pair["rounds_us"]) == len(pair["ratios"]) >= 3, pair
    assert math.isfinite(pair["median_ratio"]) and pair["median_ratio"] > 0, pair
    line = next(x for x in _lines(quick_run, "ratio") if "alternating (authn+authz cost)" in x)
    assert line.rstrip().endswith(("PASS", "FAIL")), line
