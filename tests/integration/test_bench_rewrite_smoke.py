"""``python -m bench rewrite --quick`` runs end to end: the rewritten page is checked, and the
judged time ratio and memory rows are printed with a number and a verdict."""

from __future__ import annotations

import re

import pytest

from integration.bench_kit import QuickRun, needs_nginx_and_wrk, run_bench

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    needs_nginx_and_wrk,
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """One short run (1 s wrk runs), shared by the tests below."""
    results = tmp_path_factory.mktemp("bench-results")
    return run_bench(
        ["rewrite", "--quick", "--duration", "1"],
        results,
        result_glob="*-rewrite.json",
        timeout=280,
    )


def test_exits_zero_and_writes_results(quick_run: QuickRun) -> None:
    """The harness finishes with exit code 0 and one results file."""
    assert quick_run.process.returncode == 0, quick_run.process.stderr[-2000:]
    assert quick_run.document.get("suite") == "rewrite"


def test_rewritten_page_checked(quick_run: QuickRun) -> None:
    """The plain page arrived intact and every link of the rewritten one got the prefix."""
    line = next(x for x in quick_run.process.stdout.splitlines() if x.startswith("check "))
    assert line.rstrip().endswith("PASS"), line


@pytest.mark.parametrize(
    "metric", ["time per request, rewritten / plain", "10 MiB page: peak RSS growth"]
)
def test_judged_rows_have_numbers(quick_run: QuickRun, metric: str) -> None:
    """The judged rows carry a number and a PASS or FAIL verdict."""
    line = next(x for x in quick_run.process.stdout.splitlines() if metric in x)
    assert re.search(r"\d", line) and re.search(r"(PASS|FAIL)\s*$", line), line
