"""Results: rows with optional targets, a kubectl-style table, and a JSON file per run.

A target never changes the exit code. Speed goals live here, not in the test suite, because
a shared 2-core VM swings by 20-35 % between runs (perf-baseline.md, "Noise"); the harness
prints PASS/FAIL next to each number and exits 0 unless the harness itself broke.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True, slots=True)
class Target:
    """An upper bound (``value < limit``), or with ``at_least`` a lower bound."""

    limit: float
    unit: str
    at_least: bool = False

    def met_by(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value >= self.limit if self.at_least else value < self.limit

    def __str__(self) -> str:
        sign = ">=" if self.at_least else "<"
        return f"{sign} {self.limit:g} {self.unit}".rstrip()


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the report; ``passed`` is None for a number without a target."""

    section: str
    metric: str
    value: str
    target: str = ""
    passed: bool | None = None


def row(
    section: str, metric: str, value: str, judged: float | None = None, target: Target | None = None
) -> Row:
    """A row whose ``judged`` number is checked against ``target`` when one is given."""
    if target is None or judged is None:
        return Row(section, metric, value)
    return Row(section, metric, value, str(target), target.met_by(judged))


def render_table(rows: Iterable[Row]) -> str:
    """Left-aligned columns separated by three spaces, like ``kubectl get``."""
    header = ("SECTION", "METRIC", "VALUE", "TARGET", "RESULT")
    lines = [header] + [
        (
            r.section,
            r.metric,
            r.value,
            r.target,
            "" if r.passed is None else ("PASS" if r.passed else "FAIL"),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def print_report(rows: list[Row], out: TextIO) -> None:
    print(render_table(rows), file=out)
    judged = [r for r in rows if r.passed is not None]
    failed = [r for r in judged if not r.passed]
    print(f"\n{len(judged) - len(failed)}/{len(judged)} targets met", file=out, end="")
    print(
        f"; missed: {', '.join(f'{r.section} {r.metric}' for r in failed)}" if failed else "",
        file=out,
    )


def write_json(results_dir: Path, suite: str, document: dict[str, Any], rows: list[Row]) -> Path:
    """``<results_dir>/<UTC timestamp>-<suite>.json`` holding the raw numbers and the rows."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = results_dir / f"{stamp}-{suite}.json"
    body = {**document, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(body, indent=2, allow_nan=True) + "\n")
    return path
