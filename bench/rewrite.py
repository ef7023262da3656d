"""The ``rewrite`` suite: what HTML rewriting costs on kubegate's service proxy.

    python -m bench rewrite [--duration S] [--runs N] [--quick] [--no-pin] [--results-dir DIR]

One backend nginx (cpu0) serves the same realistic page (bench/rewrite_page.py) several
ways: as ``text/html`` (rewritten, the shim injected: wrk sends no ``Sec-Fetch-Dest``, like
a navigation) and as ``application/octet-stream`` (relayed untouched), plain and
gzip-compressed; repeated, or different on every request (bench/rewrite_variants.py). One
``kubegate serve`` (cpu1) proxies them; wrk (cpu0) fetches each over one keep-alive
connection (``-c1``), runs alternating. Each pair gives time per request (wrk's mean) and
the server's CPU per request (/proc), rewritten / plain:

cold      a different page on every request (static files, wrk cycling through more than
          the rewrite memo holds: every lookup misses), identity — the rewriter's true
          cost, judged against issue 6's at most 20 % more time — and gzip (informational)
chunked   a different page on every request made by nginx's sub_filter, which sends it
          chunked, so the rewrite streams (informational)
latency   the same page over and over: after the first, rewrite memo hits (informational)
gzip      the same for the gzip-compressed page (informational)
floor     the rewritten page's bytes served as octet-stream vs the plain page: relaying the
          larger output alone, the floor of any rewriter (informational)
memory    the server's peak RSS growth (VmHWM after ``clear_refs``) while one 10 MiB page is
          rewritten and read, against the target of 3x the page size
inproc    the rewriter alone, in this process (MiB/s), for reference

The exit code is 0 whenever the harness ran (1 if it broke, 130 on Ctrl-C).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.machine import plan_pinning, taskset_prefix
from bench.proxy_kubegate import PROXY_PATH, kubegate_server
from bench.proxy_load import Endpoint, body, write_wrk_script, wrk
from bench.proxy_procs import Daemon, _nginx_common, free_port, nginx_daemon
from bench.rewrite_page import page
from bench.rewrite_rows import build_rows
from bench.rewrite_variants import (
    cold_paths,
    locations,
    lookups_delta,
    memo_lookups,
    rotation_script,
    write_files,
)
from bench.suite import (
    add_common_arguments,
    harness_exit,
    save_report,
    scratch_dir,
    sized_options,
    suite_document,
    tools_ready,
)

PAGE_BYTES = 200 * 1024
BIG_BYTES = 10 * 1024 * 1024
QUICK: dict[str, Any] = {"duration": 2.0, "runs": 1}


@dataclass(frozen=True, slots=True)
class RewriteOptions:
    duration: float = 5.0
    runs: int = 3
    pin: bool = True
    quick: bool = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench rewrite",
        description="Benchmark HTML rewriting on kubegate's service proxy.",
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per wrk run (default 5)"
    )
    parser.add_argument("--runs", type=int, default=None, help="wrk runs per variant (default 3)")
    add_common_arguments(parser, quick="smoke run: -d2s, 1 run")
    return parser


def backend_config(workdir: Path, port: int, docroot: Path) -> str:
    """nginx serving each file with the type the suite needs (extension-independent)."""
    files = "".join(
        f"    location = /{name} {{ types {{ }} default_type {kind}; {extra} }}\n"
        for name, kind, extra in (
            ("page.html", "text/html", ""),
            ("page.bin", "application/octet-stream", ""),
            ("big.html", "text/html", ""),
            ("big.bin", "application/octet-stream", ""),
            ("gz/page.html", "text/html", "add_header Content-Encoding gzip;"),
            ("gz/page.bin", "application/octet-stream", "add_header Content-Encoding gzip;"),
        )
    )
    return (
        _nginx_common(workdir, "backend")
        + f"""
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {docroot};
    location = /small {{ default_type text/plain; return 200 "ok\\n"; }}
{files}{locations(docroot)}  }}
}}
"""
    )


def write_docroot(docroot: Path) -> dict[str, bytes]:
    small, big = page(PAGE_BYTES), page(BIG_BYTES, seed=2)[:BIG_BYTES]
    files = {"page.html": small, "page.bin": small, "big.html": big, "big.bin": big}
    (docroot / "gz").mkdir(parents=True)
    for name, data in files.items():
        (docroot / name).write_bytes(data)
    for name in ("page.html", "page.bin"):
        (docroot / "gz" / name).write_bytes(gzip.compress(small, 6))
    write_files(docroot, small)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = sized_options(RewriteOptions(), QUICK, args)
    if not tools_ready("rewrite"):
        return 1
    pinning = plan_pinning(enabled=options.pin)
    document = suite_document("rewrite", pinning, asdict(options), loadavg_start=os.getloadavg())
    print(
        f"kubegate rewrite benchmark: {PAGE_BYTES // 1024} KiB page, wrk -t1 -c1 -d{options.duration:g}s"
        f" x {options.runs}; {pinning.reason}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    try:
        with scratch_dir("rewrite") as scratch:
            document["results"] = run(scratch, options, pinning)
    except (KeyboardInterrupt, Exception) as exc:
        return harness_exit(exc)
    document["machine"]["loadavg_end"] = os.getloadavg()
    rows = build_rows(document["results"])
    print()
    if options.quick:
        print("(--quick: short runs; the numbers are noisier than a full run's)")
    save_report(args.results_dir, document, rows)
    return 0


def run(scratch: Path, options: RewriteOptions, pinning: Any) -> dict[str, Any]:
    docroot = scratch / "docroot"
    files = write_docroot(docroot)
    load_prefix = taskset_prefix(pinning.load_cpu)
    port = free_port()
    results: dict[str, Any] = {}
    config = backend_config(scratch, port, docroot)
    with nginx_daemon(scratch, "backend", config, load_prefix):
        with kubegate_server(
            scratch / "kubegate", port, pinning.server_prefix(), malloc_tuned=False
        ) as server:
            endpoint = Endpoint(
                server.url + PROXY_PATH,
                headers=tuple(server.auth_headers.items()),
                cafile=server.cafile,
                load_prefix=load_prefix,
            )
            results["check"] = check(endpoint, files)
            # The floor: the rewritten page's own bytes, relayed as they are.
            (docroot / "floor.bin").write_bytes(body(endpoint, "/page.html"))
            script = write_wrk_script(scratch / "done.lua")
            lookups = partial(memo_lookups, server.url, server.auth_headers, server.ssl_context())
            pair = partial(compare, endpoint, server.daemon, options=options, lookups=lookups)
            for name, folder in (("cold", "cold"), ("cold_gzip", "cold-gz")):
                scripts = {
                    kind: rotation_script(
                        scratch / f"{folder}-{kind}.lua", PROXY_PATH, cold_paths(path)
                    )
                    for kind, path in (("rewritten", folder), ("plain", f"{folder}-bin"))
                }
                results[name] = pair(f"/{folder}/0.html", f"/{folder}-bin/0.html", scripts)
            results["chunked"] = pair("/uniq/page.html", "/uniq/page.bin", script)
            results["latency"] = pair("/page.html", "/page.bin", script)
            results["gzip"] = pair("/gz/page.html", "/gz/page.bin", script)
            results["floor"] = pair("/floor.bin", "/page.bin", script, names=("floor", "plain"))
            results["memory"] = memory(endpoint, server.daemon)
    results["inproc"] = inproc(files["page.html"])
    return results


def check(endpoint: Endpoint, files: dict[str, bytes]) -> dict[str, Any]:
    """The plain page arrives byte for byte; the rewritten one has its links prefixed."""
    plain = body(endpoint, "/page.bin")
    rewritten = body(endpoint, "/page.html")
    prefix = PROXY_PATH.encode()
    original = files["page.html"]
    # Markup inside <script> is text: its href stays as it is.
    in_scripts = sum(
        m.group(1).count(b'href="/')
        for m in re.finditer(rb"<script[^>]*>(.*?)</script>", original, re.S)
    )
    return {
        "plain_intact": plain == files["page.bin"],
        "rewritten_links": rewritten.count(b'href="' + prefix + b"/"),
        "original_links": original.count(b'href="/') - in_scripts,
        "shim_injected": b"data-kubegate-prefix" in rewritten,
        "rewritten_bytes": len(rewritten),
    }


def compare(
    endpoint: Endpoint,
    server: Daemon,
    subject: str,
    baseline: str,
    script: Path | Mapping[str, Path],
    *,
    options: RewriteOptions,
    lookups: Any = None,
    names: tuple[str, str] = ("rewritten", "plain"),
) -> dict[str, Any]:
    """Alternating ``wrk -c1`` runs of both paths (``script``, or one per name): median rps,
    mean latency, CPU per request; the rewrite memo's hits and misses meanwhile."""
    paths = dict(zip(names, (subject, baseline), strict=True))
    scripts = {name: script if isinstance(script, Path) else script[name] for name in names}
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    before = lookups() if lookups is not None else None
    for name in reversed(names):  # warm both paths
        wrk(endpoint, paths[name], connections=1, seconds=1, script=scripts[name])
    for _ in range(options.runs):
        for name in reversed(names):
            cpu = server.cpu_seconds()
            result = wrk(
                endpoint, paths[name], connections=1, seconds=options.duration, script=scripts[name]
            )
            result["cpu_us_per_request"] = (
                (server.cpu_seconds() - cpu) / max(1, result["requests"]) * 1e6
            )
            samples[name].append(result)
    summary: dict[str, Any] = {"samples": samples, "paths": paths}
    if before is not None:
        summary["memo"] = lookups_delta(before, lookups())
    for name, runs in samples.items():
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            # Wall time per request at c1. (wrk's own mean latency is not used: on this
            # loaded machine it comes out longer than the run allows for its request count.)
            "time_us": statistics.median(r["duration_us"] / max(1, r["requests"]) for r in runs),
            "mean_us": statistics.median(r["mean_us"] for r in runs),
            "p50_us": statistics.median(r["p50_us"] for r in runs),
            "p99_us": statistics.median(r["p99_us"] for r in runs),
            "cpu_us": statistics.median(r["cpu_us_per_request"] for r in runs),
            "bytes_per_request": statistics.median(
                r["bytes"] / max(1, r["requests"]) for r in runs
            ),
            "requests": sum(r["requests"] for r in runs),
            "errors": sum(r["errors"] + r["non_2xx_3xx"] for r in runs),
        }
    first, second = (summary[name] for name in names)
    summary["time_ratio"] = first["time_us"] / second["time_us"]
    summary["cpu_ratio"] = first["cpu_us"] / second["cpu_us"]
    return summary


def memory(endpoint: Endpoint, server: Daemon) -> dict[str, Any]:
    """Peak RSS growth of the server while one 10 MiB page is proxied, rewritten and plain."""
    out: dict[str, Any] = {}
    for name, path in (("plain", "/big.bin"), ("rewritten", "/big.html")):
        before = server.rss_kib()
        server.reset_hwm()
        started = time.perf_counter()
        data = body(endpoint, path)
        elapsed = time.perf_counter() - started
        out[name] = {
            "rss_before_kib": before,
            "hwm_kib": server.hwm_kib(),
            "growth_kib": max(0, server.hwm_kib() - before),
            "bytes": len(data),
            "seconds": elapsed,
        }
    return out


def inproc(data: bytes) -> dict[str, Any]:
    """The HTML rewriter alone on the page, 64 KiB pieces: MiB/s (best of 5)."""
    from kubegate.core.rewrite_html import HtmlRewriter
    from kubegate.core.rewrite_url import UrlRule

    rule = UrlRule.build(PROXY_PATH, backend_host="127.0.0.1:8080", backend_scheme="http")
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        rewriter = HtmlRewriter(rule)
        for i in range(0, len(data), 65536):
            rewriter.feed(data[i : i + 65536])
        rewriter.finish()
        best = min(best, time.process_time() - started)
    return {"seconds": best, "mib_per_s": len(data) / best / 2**20}


if __name__ == "__main__":
    sys.exit(main())
