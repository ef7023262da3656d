"""Running the benchmark harness (``python -m bench ...``) once per smoke-test module."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

needs_nginx_and_wrk = pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("wrk") is None,
    reason="needs nginx and wrk (scripts/apt-deps nginx wrk)",
)


@dataclass(frozen=True, slots=True)
class QuickRun:
    process: subprocess.CompletedProcess[str]
    document: dict[str, Any]  # the one results file, decoded; {} when there is not exactly one


def run_bench(args: Sequence[str], results: Path, *, result_glob: str, timeout: float) -> QuickRun:
    """``python -m bench ARGS --results-dir RESULTS`` from the repository root."""
    process = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--results-dir", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    files = sorted(results.glob(result_glob))
    document = json.loads(files[0].read_text()) if len(files) == 1 else {}
    return QuickRun(process, document)
