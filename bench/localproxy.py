"""The ``localproxy`` suite: ``kubegate proxy`` next to the real ``kubectl proxy``.

    python -m bench localproxy [--duration S] [--runs N] [--file-mib N] [--no-pin]
    python -m bench localproxy --quick     # -d2s, 1 run, 8 MiB file: a smoke run

One ``kubegate serve`` (the API server; its service proxy fronts a backend nginx as Service
``bench``, see :mod:`bench.proxy_kubegate`) and the two local proxies, each given the
server's admin kubeconfig from its data dir: the pinned ``kubectl proxy`` (Go) and
``kubegate proxy``, started side by side. A request goes wrk -> local proxy -> HTTPS ->
kubegate serve -> nginx, the same path for both.

Placement on the two cores: wrk, curl and the backend on cpu0; the proxy under test and the
API server on cpu1. The API server does the same work for both proxies, except for the TLS
handshakes a proxy makes it do: kubectl proxy keeps only 2 idle connections per host
(``http.DefaultTransport``), so at 50 connections it dials the server again and again. With
the server on cpu1 each proxy's rps is what one core does for the whole client side of the
path, that cost included. (With the server on cpu0 instead, wrk, nginx and the server
saturate cpu0 and both proxies measure the server.) The proxies' own CPU per request, read
from ``/proc``, is reported too: it does not depend on the placement.

check     ``/small`` body and the sha256 of the large file through each proxy
transfer  ``curl`` download of the large file (median of runs)
wrk       warm-up, then ``wrk -t1 -c50`` and ``-c1`` on ``/small``; the runs alternate
          between the two proxies so that drift on the shared machine hits both alike

Judged: kubegate proxy's rps at c50 against kubectl proxy's (issue 5: at least 2x). The
exit code is 0 whenever the harness ran (1 if it broke, 130 on Ctrl-C).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.localproxy_rows import build_rows
from bench.machine import plan_pinning, taskset_prefix
from bench.proxy_kubegate import PROXY_PATH, kubegate_server
from bench.proxy_load import (
    Endpoint,
    body,
    busy_shares,
    cpu_ticks,
    download,
    sha256,
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

SUBJECTS = ("kubectl", "kubegate")  # kubectl proxy, kubegate proxy
QUICK: dict[str, Any] = {
    "duration": 2.0,
    "warmup": 1.0,
    "runs": 1,
    "transfer_runs": 3,
    "file_mib": 8,
}
EPILOG = """\
examples:
  python -m bench localproxy                 # the full run (~3 min)
  python -m bench localproxy --quick         # smoke run: -d2s, 1 run, 8 MiB file
  python -m bench localproxy --duration 5 --runs 5
results: a table on stdout and bench/results/<UTC timestamp>-localproxy.json
"""


@dataclass(frozen=True, slots=True)
class LocalProxyOptions:
    duration: float = 10.0
    warmup: float = 2.0
    runs: int = 3
    transfer_runs: int = 5
    file_mib: int = 64
    pin: bool = True
    quick: bool = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench localproxy",
        description="Benchmark kubegate proxy against kubectl proxy, both in front of one "
        "kubegate API server and one backend.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run (10)")
    parser.add_argument("--runs", type=int, default=None, help="wrk runs per level (default 3)")
    parser.add_argument(
        "--transfer-runs", type=int, default=None, help="downloads per proxy (default 5)"
    )
    parser.add_argument("--file-mib", type=int, default=None, help="download size (default 64)")
    add_common_arguments(parser, quick="smoke run: -d2s, 1 run, 3 downloads of 8 MiB")
    return parser


def options_from(args: argparse.Namespace) -> LocalProxyOptions:
    return sized_options(LocalProxyOptions(), QUICK, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = options_from(args)
    if not tools_ready("localproxy"):
        return 1
    pinning = plan_pinning(enabled=options.pin)
    document = suite_document(
        "localproxy",
        pinning,
        asdict(options),
        kubectl=kubectl_version(kubectl_path()),
        loadavg_start=os.getloadavg(),
    )
    print(
        f"local proxy benchmark: kubegate proxy vs kubectl proxy; wrk -t1 -c50/-c1"
        f" -d{options.duration:g}s x {options.runs}, {options.file_mib} MiB downloads x"
        f" {options.transfer_runs}; {pinning.reason}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    try:
        with scratch_dir("localproxy") as scratch:
            cpus = (pinning.server_cpu, pinning.load_cpu)
            document["subjects"] = run(scratch, options, cpus)
    except (KeyboardInterrupt, Exception) as exc:
        return harness_exit(exc)
    document["machine"]["loadavg_end"] = os.getloadavg()
    rows = build_rows(document["subjects"], options.file_mib)
    print()
    if options.quick:
        print("(--quick: short runs on a small file; the target is for the default sizes)")
    save_report(args.results_dir, document, rows)
    return 0


def run(
    workdir: Path, options: LocalProxyOptions, cpus: tuple[int | None, int | None]
) -> dict[str, Any]:
    """Backend, API server, both local proxies; every subject's raw numbers."""
    subject_cpu, load_cpu = cpus
    if load_cpu is not None:
        os.sched_setaffinity(0, {load_cpu})
    subject_prefix, load_prefix = taskset_prefix(subject_cpu), taskset_prefix(load_cpu)
    docroot = workdir / "www"
    docroot.mkdir()
    large = f"/{options.file_mib}m.bin"
    data = os.urandom(options.file_mib * 2**20)
    (docroot / large[1:]).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    del data
    script = write_wrk_script(workdir / "report.lua")
    backend_port = free_port()
    config = backend_config(workdir, backend_port, docroot, 2**20)
    with ExitStack() as stack:
        backend = stack.enter_context(nginx_daemon(workdir, "backend", config, load_prefix))
        wait_ready(backend, f"http://127.0.0.1:{backend_port}/small")
        # On the proxies' core: see the module docstring, "Placement".
        server = stack.enter_context(
            kubegate_server(workdir / "server", backend_port, subject_prefix, malloc_tuned=False)
        )
        kubeconfig = workdir / "server" / "admin.kubeconfig"
        live: dict[str, tuple[Endpoint, Daemon]] = {}
        for name in SUBJECTS:
            live[name] = stack.enter_context(
                _local_proxy(name, workdir, kubeconfig, subject_prefix, load_prefix)
            )
        results: dict[str, Any] = {name: {} for name in SUBJECTS}
        for name, (endpoint, daemon) in live.items():
            print(f"  {name} proxy: check, downloads ...", flush=True)
            results[name]["check"] = _check(endpoint, large, digest)
            results[name]["download"] = median_of(
                [download(endpoint, large) for _ in range(options.transfer_runs)]
            )
            wrk(endpoint, "/small", connections=50, seconds=options.warmup, script=script)
            results[name]["rss_start_kib"] = daemon.rss_kib()
        for connections in (50, 1):
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in SUBJECTS}
            for index in range(options.runs):
                for name in SUBJECTS if index % 2 == 0 else reversed(SUBJECTS):
                    print(f"  {name} proxy: wrk -c{connections} run {index + 1}", flush=True)
                    endpoint, daemon = live[name]
                    runs[name].append(
                        _wrk_run(endpoint, daemon, connections, options.duration, script)
                    )
            for name in SUBJECTS:
                results[name][f"c{connections}"] = median_of(runs[name])
        for name, (_, daemon) in live.items():
            daemon.check_alive()
            results[name]["rss_end_kib"] = daemon.rss_kib()
        server.daemon.check_alive()
        backend.check_alive()
    return results


@contextmanager
def _local_proxy(
    name: str,
    workdir: Path,
    kubeconfig: Path,
    subject_prefix: tuple[str, ...],
    load_prefix: tuple[str, ...],
) -> Iterator[tuple[Endpoint, Daemon]]:
    """``kubectl proxy`` or ``kubegate proxy`` on a free port of 127.0.0.1, pinned to cpu1."""
    port = free_port()
    if name == "kubectl":
        program = [kubectl_path(), "proxy"]
    else:
        program = [sys.executable, "-m", "kubegate.cli.main", "proxy"]
    argv = [
        *subject_prefix,
        *program,
        "--address=127.0.0.1",
        f"--port={port}",
        f"--kubeconfig={kubeconfig}",
    ]
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG" and "proxy" not in k.lower()}
    daemon = Daemon(f"{name}-proxy", argv, workdir / f"{name}-proxy.log", env=env)
    with daemon:
        endpoint = Endpoint(f"http://127.0.0.1:{port}{PROXY_PATH}", load_prefix=load_prefix)
        wait_ready(daemon, endpoint.url("/small"))
        yield endpoint, daemon


def _check(endpoint: Endpoint, large: str, digest: str) -> dict[str, Any]:
    problems = []
    small = body(endpoint, "/small")
    if small != b"ok\n":
        problems.append(f"/small body {small[:40]!r}")
    if sha256(endpoint, large) != digest:
        problems.append(f"{large} sha256 mismatch")
    return {"ok": not problems, "problems": problems}


def _wrk_run(
    endpoint: Endpoint, daemon: Daemon, connections: int, seconds: float, script: Path
) -> dict[str, Any]:
    """One wrk run with the CPU busy shares and the proxy's own CPU per request."""
    ticks, cpu, wall = cpu_ticks(), daemon.cpu_seconds(), time.perf_counter()
    result = wrk(endpoint, "/small", connections=connections, seconds=seconds, script=script)
    wall = time.perf_counter() - wall
    result.update({f"busy_{k}": v for k, v in busy_shares(ticks, cpu_ticks()).items()})
    used = daemon.cpu_seconds() - cpu
    result["subject_cpu_us_per_request"] = used / max(result["requests"], 1) * 1e6
    result["subject_cpu_share"] = used / wall
    return result
