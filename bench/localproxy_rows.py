"""The localproxy suite's report rows: each proxy's numbers, then kubegate's ratios to
kubectl's from the same run; the c50 rps ratio is judged (issue 5: at least 2x)."""

from __future__ import annotations

from typing import Any

from bench.report import Row, Target, row
from bench.stats import number_at, ratio

SECTION = "localproxy"
RPS_VS_KUBECTL = Target(2.0, "x", at_least=True)
LABELS = {"kubectl": "kubectl proxy", "kubegate": "kubegate proxy"}


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
            rps = number_at(results, subject, f"c{c}", "median", "rps")
            p50 = number_at(results, subject, f"c{c}", "median", "p50_us") / 1e3
            p99 = number_at(results, subject, f"c{c}", "median", "p99_us") / 1e3
            cpu = number_at(results, subject, f"c{c}", "median", "subject_cpu_us_per_request")
            rows.append(
                row(
                    SECTION,
                    f"{label} c{c}",
                    f"{rps:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, {cpu:.0f} us CPU/req",
                )
            )
        mib_s = number_at(results, subject, "download", "median", "mib_s")
        rows.append(row(SECTION, f"{label} download {file_mib} MiB", f"{mib_s:,.0f} MiB/s"))
    for metric, path, unit in (
        ("rps c50", ("c50", "median", "rps"), "req/s"),
        ("rps c1", ("c1", "median", "rps"), "req/s"),
        ("download", ("download", "median", "mib_s"), "MiB/s"),
    ):
        ours, theirs = number_at(results, "kubegate", *path), number_at(results, "kubectl", *path)
        times = ratio(ours, theirs)
        value = f"{times:.2f}x ({ours:,.0f} / {theirs:,.0f} {unit})"
        target = RPS_VS_KUBECTL if metric == "rps c50" else None
        rows.append(row("ratio", f"kubegate proxy / kubectl proxy {metric}", value, times, target))
    ours = number_at(results, "kubegate", "c50", "median", "subject_cpu_us_per_request")
    theirs = number_at(results, "kubectl", "c50", "median", "subject_cpu_us_per_request")
    rows.append(
        row(
            "ratio",
            "kubectl proxy / kubegate proxy CPU per request c50",
            f"{ratio(theirs, ours):.2f}x ({theirs:,.0f} / {ours:,.0f} us)",
        )
    )
    for subject, label in LABELS.items():
        cpu0 = number_at(results, subject, "c50", "median", "busy_cpu0")
        cpu1 = number_at(results, subject, "c50", "median", "busy_cpu1")
        rows.append(
            row(
                SECTION,
                f"busy at c50, {label}",
                f"cpu0 (wrk, backend) {cpu0:.0%}, cpu1 (proxy, API server) {cpu1:.0%}",
            )
        )
    return rows
