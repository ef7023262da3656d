"""The localproxy suite's report rows: each proxy's numbers, then kubegate's ratios to
kubectl's from the same run; the c50 rps ratio is judged (issue 5: at least 2x)."""

from __future__ import annotations

import math
from typing import Any

from bench.report import Row, Target, row

SECTION = "localproxy"
RPS_VS_KUBECTL = Target(2.0, "x", at_least=True)
LABELS = {"kubectl": "kubectl proxy", "kubegate": "kubegate proxy"}


def _get(results: dict[str, Any], subject: str, *path: str) -> float:
    """A number from a subject's results, NaN when it is missing."""
    value: Any = results.get(subject, {})
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return math.nan
        value = value[key]
    return float(value)


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def build_rows(results: dict[str, Any], file_mib: int) -> list[Row]:
    rows: list[Row] = []
    for subject, label in LABELS.items():
        check = results.get(subject, {}).get("check", {})
        rows.append(
            row(
                SECTION,
                f"{label} bytes intact",
                "yes" if check.get("ok") else f"NO: {check.get('problems')}",
                1.0 if check.get("ok") else 0.0,
                Target(1, "", at_least=True),
            )
        )
        for c in (50, 1):
            rps = _get(results, subject, f"c{c}", "median", "rps")
            p50 = _get(results, subject, f"c{c}", "median", "p50_us") / 1e3
            p99 = _get(results, subject, f"c{c}", "median", "p99_us") / 1e3
            cpu = _get(results, subject, f"c{c}", "median", "subject_cpu_us_per_request")
            rows.append(
                row(
                    SECTION,
                    f"{label} c{c}",
                    f"{rps:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, {cpu:.0f} us CPU/req",
                )
            )
        mib_s = _get(results, subject, "download", "median", "mib_s")
        rows.append(row(SECTION, f"{label} download {file_mib} MiB", f"{mib_s:,.0f} MiB/s"))
    for metric, path, unit in (
        ("rps c50", ("c50", "median", "rps"), "req/s"),
        ("rps c1", ("c1", "median", "rps"), "req/s"),
        ("download", ("download", "median", "mib_s"), "MiB/s"),
    ):
        ours, theirs = _get(results, "kubegate", *path), _get(results, "kubectl", *path)
        ratio = _ratio(ours, theirs)
        value = f"{ratio:.2f}x ({ours:,.0f} / {theirs:,.0f} {unit})"
        target = RPS_VS_KUBECTL if metric == "rps c50" else None
        rows.append(row("ratio", f"kubegate proxy / kubectl proxy {metric}", value, ratio, target))
    ours = _get(results, "kubegate", "c50", "median", "subject_cpu_us_per_request")
    theirs = _get(results, "kubectl", "c50", "median", "subject_cpu_us_per_request")
    rows.append(
        row(
            "ratio",
            "kubectl proxy / kubegate proxy CPU per request c50",
            f"{_ratio(theirs, ours):.2f}x ({theirs:,.0f} / {ours:,.0f} us)",
        )
    )
    for subject, label in LABELS.items():
        cpu0 = _get(results, subject, "c50", "median", "busy_cpu0")
        cpu1 = _get(results, subject, "c50", "median", "busy_cpu1")
        rows.append(
            row(
                SECTION,
                f"busy at c50, {label}",
                f"cpu0 (wrk, backend) {cpu0:.0%}, cpu1 (proxy, API server) {cpu1:.0%}",
            )
        )
    return rows
