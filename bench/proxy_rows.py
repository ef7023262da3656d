"""The proxy suite's targets, its ratio rows and the one-line-per-subject matrix.

Targets are ratios to subjects measured in the same invocation (perf-baseline.md,
"Suggested ratio targets"): absolute numbers on a shared 2-core VM swing by 20-35 %
between runs, ratios much less. Every kubegate variant that ran gets the same ratio rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bench.report import Row, Target, row
from bench.stats import number_at, ratio

if TYPE_CHECKING:
    from bench.proxy import ProxyOptions

KUBEGATES = ("kubegate", "kubegate-mt")
RPS_VS_KUBECTL = Target(3.0, "x", at_least=True)
RPS_VS_NGINX = Target(0.4, "x", at_least=True)
P99_VS_NGINX = Target(2.0, "x")  # report.Target upper bounds are strict: "< 2 x"
TRANSFER_VS_NGINX = Target(0.6, "x", at_least=True)
STREAM_GROWTH_MIB = Target(50, "MiB")
AUTHZ_OVERHEAD = Target(1.15, "x")  # RBAC vs AlwaysAllow CPU per request: "< 1.15 x"
KIB = 1024


def _rps(results: dict[str, Any], s: str, c: int) -> float:
    return number_at(results, s, f"c{c}", "median", "rps")


def _ms(results: dict[str, Any], s: str, c: int, p: int) -> float:
    return number_at(results, s, f"c{c}", "median", f"p{p}_us") / 1e3


def _rps50(results: dict[str, Any], s: str) -> float:
    return _rps(results, s, 50)


def _p99_50(results: dict[str, Any], s: str) -> float:
    return _ms(results, s, 50, 99)


def _download(results: dict[str, Any], s: str) -> float:
    return _mib_s(results, s, "download")


def _per_cpu_second(results: dict[str, Any], s: str) -> float:
    """Requests per second of the subject's own CPU at c50: its rps on a core of its own."""
    return ratio(1e6, number_at(results, s, "c50", "median", "subject_cpu_us_per_request"))


def _mib_s(results: dict[str, Any], s: str, direction: str) -> float:
    return number_at(results, s, direction, "median", "mib_s")


def stream_growth_mib(results: dict[str, Any], s: str) -> float:
    """Peak RSS while streaming (sampled or VmHWM, whichever is higher) minus the idle RSS."""
    idle = number_at(results, s, "stream", "idle_kib")
    peak = max(
        number_at(results, s, "stream", "peak_sampled_kib"),
        number_at(results, s, "stream", "hwm_kib"),
    )
    return (peak - idle) / KIB


# (metric, numerator/denominator subject getter, unit text, target or None)
def _ratio_specs(
    kubegate: str,
) -> list[tuple[str, str, Callable[[dict[str, Any], str], float], str, Target | None]]:
    return [
        (
            f"{kubegate} / kubectl rps c50",
            "kubectl",
            _rps50,
            "rps",
            RPS_VS_KUBECTL,
        ),
        (
            f"{kubegate} / kubegate-allow CPU per request c50 (separate runs)",
            "kubegate-allow",
            lambda r, s: number_at(r, s, "c50", "median", "subject_cpu_us_per_request"),
            "us",
            None,  # judged on the alternating pair (authz_row): runs minutes apart swing
        ),
        (f"{kubegate} / nginx rps c50", "nginx", _rps50, "rps", RPS_VS_NGINX),
        (
            f"{kubegate} / nginx p99 c50",
            "nginx",
            _p99_50,
            "ms",
            P99_VS_NGINX,
        ),
        (
            f"{kubegate} / nginx download",
            "nginx",
            _download,
            "MiB/s",
            TRANSFER_VS_NGINX,
        ),
        (
            f"{kubegate} / nginx upload",
            "nginx",
            lambda r, s: _mib_s(r, s, "upload"),
            "MiB/s",
            TRANSFER_VS_NGINX,
        ),
        (
            f"{kubegate} / kubectl-pooled rps c50",
            "kubectl-pooled",
            _rps50,
            "rps",
            None,
        ),
        (
            f"{kubegate} / kubectl requests per CPU-second c50",
            "kubectl",
            _per_cpu_second,
            "req/CPU-s",
            None,
        ),
        (
            f"{kubegate} / nginx requests per CPU-second c50",
            "nginx",
            _per_cpu_second,
            "req/CPU-s",
            None,
        ),
        (f"{kubegate} / nginx p50 c1", "nginx", lambda r, s: _ms(r, s, 1, 50), "ms", None),
        (
            f"{kubegate} / nginx-tls rps c50 (TLS-to-TLS)",
            "nginx-tls",
            _rps50,
            "rps",
            None,
        ),
        (
            f"{kubegate} / nginx-tls p99 c50 (TLS-to-TLS)",
            "nginx-tls",
            _p99_50,
            "ms",
            None,
        ),
        (
            f"{kubegate} / nginx-tls download (TLS-to-TLS)",
            "nginx-tls",
            _download,
            "MiB/s",
            None,
        ),
        (
            f"{kubegate} / python-floor-tls rps c50 (the stack's ceiling)",
            "python-floor-tls",
            _rps50,
            "rps",
            None,
        ),
        (
            f"{kubegate} / python-floor-tls CPU per request c50",
            "python-floor-tls",
            lambda r, s: number_at(r, s, "c50", "median", "subject_cpu_us_per_request"),
            "us",
            None,
        ),
    ]


# The floor itself against the references: how far the stack kubegate is built on can go,
# next to kubegate's target of the same ratio (shown, not judged: a target the floor itself
# misses is out of reach for anything built on the stack, kubegate included). nginx-tls /
# nginx is what terminating TLS alone costs a transfer, in nginx's own C.
_FLOOR_SPECS: tuple[
    tuple[str, str, str, Callable[[dict[str, Any], str], float], str, Target | None], ...
] = (
    (
        "python-floor-tls / kubectl rps c50",
        "python-floor-tls",
        "kubectl",
        _rps50,
        "rps",
        RPS_VS_KUBECTL,
    ),
    ("python-floor-tls / nginx rps c50", "python-floor-tls", "nginx", _rps50, "rps", RPS_VS_NGINX),
    ("python-floor-tls / nginx p99 c50", "python-floor-tls", "nginx", _p99_50, "ms", P99_VS_NGINX),
    ("python-floor / nginx rps c50", "python-floor", "nginx", _rps50, "rps", None),
    (
        "python-floor-tls / nginx download",
        "python-floor-tls",
        "nginx",
        _download,
        "MiB/s",
        TRANSFER_VS_NGINX,
    ),
    ("nginx-tls / nginx download (TLS alone)", "nginx-tls", "nginx", _download, "MiB/s", None),
)


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """Every ratio by metric name, for the JSON file."""
    found = {}
    for kubegate in KUBEGATES:
        if kubegate not in results:
            continue
        for metric, other, number, _, _ in _ratio_specs(kubegate):
            found[metric] = ratio(number(results, kubegate), number(results, other))
        found[f"{kubegate} RSS growth streaming MiB"] = stream_growth_mib(results, kubegate)
    for metric, mine, other, number, _, _ in _FLOOR_SPECS:
        if mine in results and other in results:
            found[metric] = ratio(number(results, mine), number(results, other))
    return found


def authz_row(pair: dict[str, Any]) -> Row:
    """The cost of authentication + authorization, from the alternating pair (proxy.py)."""
    value = pair.get("median_ratio", math.nan)
    rbac, allow = pair.get("rbac_us", math.nan), pair.get("allow_us", math.nan)
    return row(
        "ratio",
        "kubegate / kubegate-allow CPU per request c50, alternating (authn+authz cost)",
        f"{_times(value)} (median of {len(pair.get('ratios', []))} rounds;"
        f" {_num(rbac)} / {_num(allow)} us)",
        value,
        AUTHZ_OVERHEAD,
    )


def build(
    results: dict[str, Any], options: ProxyOptions, authz_pair: dict[str, Any] | None = None
) -> list[Row]:
    rows: list[Row] = []
    for subject, result in results.items():
        rows += _subject_rows(subject, result, options)
    for kubegate in KUBEGATES:
        if kubegate in results:
            rows += _ratio_rows(results, kubegate, options)
    for metric, mine, other, number, unit, bound in _FLOOR_SPECS:
        if mine in results and other in results:
            a, b = number(results, mine), number(results, other)
            value = ratio(a, b)
            text = f"{_times(value)} ({_num(a)} / {_num(b)} {unit})"
            if bound is not None:
                verdict = "meets" if bound.met_by(value) else "misses"
                text += f"; {verdict} kubegate's target {bound}"
            rows.append(row("floor", metric, text, value))
    if authz_pair is not None:
        rows.append(authz_row(authz_pair))
    return rows


def _ratio_rows(results: dict[str, Any], kubegate: str, options: ProxyOptions) -> list[Row]:
    rows = []
    for metric, other, number, unit, target in _ratio_specs(kubegate):
        if other not in results:
            continue  # that subject was not run (--subjects): nothing to compare
        mine, theirs = number(results, kubegate), number(results, other)
        value = ratio(mine, theirs)
        rows.append(
            row(
                "ratio",
                metric,
                f"{_times(value)} ({_num(mine)} / {_num(theirs)} {unit})",
                value,
                target,
            )
        )
    growth = stream_growth_mib(results, kubegate)
    idle = number_at(results, kubegate, "stream", "idle_kib") / KIB
    rows.append(
        row(
            "ratio",
            f"{kubegate} RSS growth streaming {_size(options.stream_mib)}",
            "n/a" if math.isnan(growth) else f"{growth:+.1f} MiB over {idle:.1f} MiB idle",
            growth,
            STREAM_GROWTH_MIB,
        )
    )
    return rows


def _subject_rows(subject: str, result: dict[str, Any], options: ProxyOptions) -> list[Row]:
    if "error" in result:
        error = " | ".join(line.strip() for line in result["error"].splitlines() if line.strip())
        return [Row(subject, "ran", error[:200], "all", False)]
    check = result["check"]
    rows = [
        Row(
            subject,
            "bytes intact (small, sha256, upload)",
            "ok" if check["ok"] else "; ".join(check["problems"]),
            "all",
            check["ok"],
        )
    ]
    for c in (50, 1):
        median = result[f"c{c}"]["median"]
        rows.append(
            Row(
                subject,
                f"wrk c{c}: rps, p50 / p99",
                f"{median['rps']:,.0f} rps, {median['p50_us'] / 1e3:.2f} /"
                f" {median['p99_us'] / 1e3:.2f} ms{_errors(result[f'c{c}']['runs'])}",
            )
        )
    rows.append(
        Row(
            subject,
            f"{_size(options.file_mib)} download / upload",
            f"{result['download']['median']['mib_s']:,.0f} / "
            f"{result['upload']['median']['mib_s']:,.0f} MiB/s" + _faults(result),
        )
    )
    c50 = result["c50"]["median"]
    cost = ""
    if "subject_cpu_us_per_request" in c50:
        cost = (
            f"; {c50['subject_cpu_us_per_request']:,.0f} us subject CPU per request,"
            f" {c50['new_upstream_per_1k']:,.1f} new upstream conns per 1k"
        )
    busy = " / ".join(f"{c50[k]:.0%}" for k in sorted(c50) if k.startswith("busy_cpu"))
    rows.append(Row(subject, "c50 CPU busy cpu0 / cpu1", busy + cost + _contention(c50)))
    if "stream" in result:
        stream = result["stream"]
        rows.append(
            Row(
                subject,
                f"RSS start / end; peak streaming {_size(options.stream_mib)}",
                f"{result['rss_start_kib'] / KIB:.1f} / {result['rss_end_kib'] / KIB:.1f} MiB;"
                f" {stream['idle_kib'] / KIB:.1f} -> {max(stream['peak_sampled_kib'], stream['hwm_kib']) / KIB:.1f} MiB"
                f" at {stream['mib_s']:,.0f} MiB/s",
            )
        )
    return rows


CONTENTION_SHARE = 0.10  # other processes on the subject's CPU worth a warning


def _contention(c50: dict[str, Any]) -> str:
    """A warning when something else ran on the subject's CPU during the c50 runs."""
    others = c50.get("others_on_server_cpu", 0.0)
    if others < CONTENTION_SHARE:
        return ""
    return (
        f"; WARNING: other processes used ~{others:.0%} of the subject's CPU"
        " (its rps is low by that much; its CPU per request is not)"
    )


def _faults(result: dict[str, Any]) -> str:
    """Minor page faults per MiB moved, which malloc trimming shows up as."""
    if "minor_faults_per_mib" not in result["download"]:
        return ""
    down, up = result["download"]["minor_faults_per_mib"], result["upload"]["minor_faults_per_mib"]
    return f" ({down:,.0f} / {up:,.0f} minor faults per MiB)"


def _errors(runs: Sequence[dict[str, Any]]) -> str:
    errors = sum(r["errors"] for r in runs)
    bad = sum(r["non_2xx_3xx"] for r in runs)
    return f" ({errors} socket errors, {bad} non-2xx)" if errors or bad else ""


def _num(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def _times(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def _size(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"


MATRIX_HEADER = (
    "SUBJECT",
    "VIA",
    "RPS C50",
    "P50/P99 MS C50",
    "RPS C1",
    "P50/P99 MS C1",
    "MIB/S DOWN/UP",
    "CPU0/CPU1",
    "US/REQ",
    "OTHERS ON CPU",
    "NEW UPSTREAM/1K",
    "RSS MIB IDLE->STREAM PEAK",
)


def render_matrix(results: dict[str, Any], transports: dict[str, str]) -> str:
    """One line per subject (medians), like the table in perf-baseline.md."""
    lines: list[tuple[str, ...]] = [MATRIX_HEADER]
    for subject, result in results.items():
        if "error" in result:
            lines.append((subject, transports[subject], "failed", *[""] * (len(MATRIX_HEADER) - 3)))
            continue
        c50, c1 = result["c50"]["median"], result["c1"]["median"]
        stream = result.get("stream")
        lines.append(
            (
                subject,
                transports[subject],
                f"{c50['rps']:,.0f}",
                f"{c50['p50_us'] / 1e3:.2f} / {c50['p99_us'] / 1e3:.2f}",
                f"{c1['rps']:,.0f}",
                f"{c1['p50_us'] / 1e3:.2f} / {c1['p99_us'] / 1e3:.2f}",
                f"{result['download']['median']['mib_s']:,.0f} / {result['upload']['median']['mib_s']:,.0f}",
                f"{c50.get('busy_cpu0', math.nan):.0%} / {c50.get('busy_cpu1', math.nan):.0%}",
                f"{c50['subject_cpu_us_per_request']:,.0f}"
                if "subject_cpu_us_per_request" in c50
                else "-",
                f"{c50['others_on_server_cpu']:.0%}" if "others_on_server_cpu" in c50 else "-",
                f"{c50['new_upstream_per_1k']:,.1f}" if "new_upstream_per_1k" in c50 else "-",
                (
                    f"{stream['idle_kib'] / KIB:.1f} -> {max(stream['peak_sampled_kib'], stream['hwm_kib']) / KIB:.1f}"
                    if stream
                    else "-"
                ),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(MATRIX_HEADER))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
