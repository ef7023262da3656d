"""The API suite's targets and the report rows built from its raw section numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.report import Row, Target, row

if TYPE_CHECKING:
    from bench.api import ApiOptions

LIST_SECONDS = Target(0.5, "s")
WATCH_P99_MS = Target(50, "ms")
RSS_MIB = Target(200, "MiB")
# Memory sample point -> the phase that ran just before it (and may have set the peak).
PEAK_PHASE = {
    "idle": "startup",
    "after_create": "create + settle",
    "after_list": "list",
    "after_watch": "watch",
}


def build(sections: dict[str, Any], options: ApiOptions) -> list[Row]:
    return [
        *_create_rows(sections["create"]),
        *_list_rows(sections["list"]),
        *_watch_rows(sections["watch"]),
        *_memory_rows(sections["memory"], options.services),
        *_shutdown_rows(sections["shutdown"]),
    ]


def _cpu_row(section: str, usage: dict[str, Any], per: str, count: int) -> Row:
    """Busy share of each core during the phase, and server CPU per operation."""
    wall = usage["wall_s"] or float("nan")
    server_us = usage["server_cpu_s"] / max(count, 1) * 1e6
    return Row(
        section,
        "CPU busy server / load core",
        f"{usage['server_cpu_s'] / wall:.0%} / {usage['load_cpu_s'] / wall:.0%}"
        f" ({server_us:,.0f} us server CPU per {per})",
    )


def _create_rows(create: dict[str, Any]) -> list[Row]:
    latency = create["latency"]
    created = create["services"] - create["failed"]
    failures = ", ".join(f"{n} x {code}" for code, n in create["failed_by_status"].items())
    return [
        Row(
            "create",
            "Services created",
            f"{created:,} of {create['services']:,}"
            + (f" (failed: {failures})" if failures else ""),
            "all",
            create["failed"] == 0,
        ),
        Row(
            "create",
            "throughput",
            f"{create['creates_per_s']:,.0f} creates/s ({create['concurrency']} in flight)",
        ),
        Row("create", "latency p50 / p99", f"{latency['p50_ms']:.1f} / {latency['p99_ms']:.1f} ms"),
        _cpu_row("create", create, "create", create["services"]),
        *_settle_rows(create["settle"]),
    ]


def _settle_rows(settle: dict[str, Any]) -> list[Row]:
    probe = settle["probe_latency"]
    state = "until idle" if settle["idle"] else "and still busy at --timeout"
    return [
        Row(
            "create",
            "background work after the creates",
            f"{settle['server_cpu_s']:.1f} s server CPU {state} ({settle['seconds']:.1f} s wall)",
        ),
        Row(
            "create",
            "GET /version meanwhile p50 / max",
            f"{probe['p50_ms']:.1f} / {probe['max_ms']:.1f} ms ({probe['count']} probes)",
        ),
    ]


def _list_rows(lists: dict[str, Any]) -> list[Row]:
    rows = []
    for variant, label in (("json", "GET /api/v1/services JSON"), ("table", "same, as=Table")):
        result = lists[variant]
        what = "rows" if result["kind"] == "Table" else "items"
        rows.append(
            row(
                "list",
                f"{label} median / max",
                f"{result['median_s']:.3f} / {result['max_s']:.3f} s"
                f" ({result['items']:,} {what}, {result['bytes'] / 2**20:.1f} MiB)",
                result["median_s"],
                LIST_SECONDS,
            )
        )
    runs = len(lists["json"]["runs_s"]) + len(lists["table"]["runs_s"])
    rows.append(_cpu_row("list", lists, "list", runs))
    return rows


def _watch_rows(watch: dict[str, Any]) -> list[Row]:
    sent, acked, writes = (
        watch["latency_from_send"],
        watch["latency_from_ack"],
        watch["write_latency"],
    )
    all_delivered = (
        watch["complete_watchers"] == watch["watchers"]
        and watch["deliveries"] == watch["expected_deliveries"]
    )
    return [
        Row(
            "watch",
            "deliveries",
            f"{watch['deliveries']:,} of {watch['expected_deliveries']:,};"
            f" {watch['complete_watchers']}/{watch['watchers']} watchers got every event",
            "all",
            all_delivered,
        ),
        row(
            "watch",
            "latency from send p50 / p99 / max",
            f"{sent['p50_ms']:.1f} / {sent['p99_ms']:.1f} / {sent['max_ms']:.1f} ms",
            sent["p99_ms"],
            WATCH_P99_MS,
        ),
        Row(
            "watch",
            "latency from ack p50 / p99 / max",
            f"{acked['p50_ms']:.1f} / {acked['p99_ms']:.1f} / {acked['max_ms']:.1f} ms"
            f" ({watch['negative_from_ack']:,} before the ack)",
        ),
        Row(
            "watch",
            "writes (one in flight)",
            f"{watch['writes_per_s']:,.0f} writes/s, create p50 / p99"
            f" {writes['p50_ms']:.1f} / {writes['p99_ms']:.1f} ms",
        ),
        _cpu_row("watch", watch, "write", watch["writes"]),
    ]


def _memory_rows(memory: dict[str, Any], services: int) -> list[Row]:
    return [
        Row("memory", "VmRSS idle", f"{memory['idle_rss_mib']:.1f} MiB"),
        row(
            "memory",
            f"VmRSS with {services:,} Services",
            f"{memory['after_create_rss_mib']:.1f} MiB",
            memory["after_create_rss_mib"],
            RSS_MIB,
        ),
        Row(
            "memory",
            "VmRSS after lists / after fan-out",
            f"{memory['after_list_rss_mib']:.1f} / {memory['after_watch_rss_mib']:.1f} MiB",
        ),
        row(
            "memory",
            "VmHWM (peak)",
            f"{memory['hwm_mib']:.1f} MiB (set during {PEAK_PHASE[memory['hwm_reached_by']]})",
            memory["hwm_mib"],
            RSS_MIB,
        ),
    ]


def _shutdown_rows(shutdown: dict[str, Any]) -> list[Row]:
    code = shutdown["exit_code"]
    return [
        Row(
            "shutdown",
            "exit after SIGTERM",
            f"code {code} in {shutdown['seconds']:.1f} s",
            "code 0",
            code == 0,
        )
    ]
