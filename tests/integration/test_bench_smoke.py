"""``python -m bench --quick`` runs end to end against a real server and reports every section."""

from __future__ import annotations

import math
import re

import pytest

from integration.bench_kit import QuickRun, run_bench

SECTIONS = ("create", "list", "watch", "memory")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """One ``--quick`` run (200 services, 5 watchers, 50 writes), shared by the tests below."""
    results = tmp_path_factory.mktemp("bench-results")
    return run_bench(["--quick"], results, result_glob="*.json", timeout=100)


def test_quick_run_exits_zero(quick_run: QuickRun) -> None:
    """The harness exits 0 after a complete run, whatever the numbers."""
    assert quick_run.process.returncode == 0, quick_run.process.stdout + quick_run.process.stderr


@pytest.mark.parametrize("section", SECTIONS)
def test_table_has_numbered_rows_for_each_section(quick_run: QuickRun, section: str) -> None:
    """Every section appears in the stdout table with a number in its rows."""
    rows = [
        line for line in quick_run.process.stdout.splitlines() if line.startswith(section + " ")
    ]
    assert rows, quick_run.process.stdout
    assert all(re.search(r"\d", line) for line in rows)


def test_table_marks_targets_pass_or_fail(quick_run: QuickRun) -> None:
    """List, watch and memory targets are printed with PASS or FAIL next to the number."""
    judged = [
        line
        for line in quick_run.process.stdout.splitlines()
        if line.rstrip().endswith(("PASS", "FAIL"))
    ]
    assert {line.split()[0] for line in judged} >= {"list", "watch", "memory"}


def test_json_holds_the_headline_numbers(quick_run: QuickRun) -> None:
    """The results file holds creates/s, list medians, watch p99 and server RSS as numbers."""
    sections = quick_run.document["sections"]
    numbers = [
        sections["create"]["creates_per_s"],
        sections["list"]["json"]["median_s"],
        sections["list"]["table"]["median_s"],
        sections["watch"]["latency_from_send"]["p99_ms"],
        sections["memory"]["after_create_rss_mib"],
        sections["memory"]["hwm_mib"],
    ]
    assert all(isinstance(n, float) and math.isfinite(n) and n > 0 for n in numbers)


def test_every_watcher_receives_every_write(quick_run: QuickRun) -> None:
    """Each of the 5 watchers got all 50 ConfigMap creates, exactly once."""
    watch = quick_run.document["sections"]["watch"]
    assert watch["complete_watchers"] == watch["watchers"] == 5
    assert watch["deliveries"] == 5 * 50
