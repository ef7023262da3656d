"""The frame every suite's ``main`` shares; the suite keeps its options, run and rows.

In the order a suite uses them:

add_common_arguments  ``--quick``, ``--no-pin``, ``--results-dir``: the flags ``python -m bench
                      all`` passes to every suite, spelled and defaulted alike
sized_options         the options dataclass: defaults, or with ``--quick`` the suite's QUICK
                      sizes, under every size given as a flag
tools_ready           nginx and wrk installed (``scripts/apt-deps``), or why the suite cannot run
suite_document        the results document: suite, start time, machine, options
scratch_dir           the run's temp dir, readable by nginx workers
harness_exit          the exit code when the harness stopped early: 130 on Ctrl-C, 1 when it broke
save_report           the table on stdout, the JSON file, the line naming it
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bench.machine import Pinning, describe
from bench.proxy_procs import ensure_tools
from bench.report import Row, print_report, write_json

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    OptionsT = TypeVar("OptionsT", bound=DataclassInstance)
else:
    OptionsT = TypeVar("OptionsT")

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LOG_TAIL_LINES = 30


def add_common_arguments(parser: argparse.ArgumentParser, *, quick: str, pin: bool = True) -> None:
    """``--quick`` with ``quick`` as its help, ``--no-pin`` (dest ``pin``) unless ``pin`` is
    False, and ``--results-dir``."""
    parser.add_argument("--quick", action="store_true", help=quick)
    if pin:
        parser.add_argument(
            "--no-pin",
            dest="pin",
            action="store_false",
            help="do not pin server and load to cpu1 / cpu0",
        )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the JSON goes (default bench/results)",
    )


def sized_options(
    defaults: OptionsT, quick: Mapping[str, Any], args: argparse.Namespace, **fixed: Any
) -> OptionsT:
    """``defaults``, or with ``--quick`` the ``quick`` sizes (and ``quick=True``), under every
    size of ``quick`` given as a flag (a flag left out is ``None``), with ``pin`` from
    ``--no-pin`` and the ``fixed`` fields on top."""
    base = replace(defaults, **quick, quick=True) if args.quick else defaults
    given = {key: value for key in quick if (value := getattr(args, key, None)) is not None}
    return replace(base, pin=args.pin, **fixed, **given)


def tools_ready(suite: str) -> bool:
    """nginx and wrk are there (installed now if need be); if not, why, on stderr."""
    try:
        ensure_tools()
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        print(f"cannot run the {suite} suite: {exc}", file=sys.stderr)
        return False
    return True


def suite_document(
    suite: str, pinning: Pinning, options: dict[str, Any], **machine: Any
) -> dict[str, Any]:
    """What the JSON file starts with; ``machine`` adds to :func:`bench.machine.describe`."""
    return {
        "suite": suite,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {**describe(pinning), **machine},
        "options": options,
    }


@contextmanager
def scratch_dir(suite: str) -> Iterator[Path]:
    """A temp dir for the run, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"kubegate-bench-{suite}-") as scratch:
        # nginx workers run as "nobody" when the harness is root: let them read the files.
        Path(scratch).chmod(0o755)
        yield Path(scratch)


def harness_exit(
    exc: BaseException, *, stopped: str = "processes stopped", log: Path | None = None
) -> int:
    """For ``except (KeyboardInterrupt, Exception) as exc``: say why the run ended early (a
    traceback, and the tail of ``log`` when given, if the harness broke); its exit code."""
    if isinstance(exc, KeyboardInterrupt):
        print(f"\ninterrupted; {stopped}", file=sys.stderr)
        return 130
    print("\nbenchmark harness failed:", file=sys.stderr)
    traceback.print_exception(exc)
    if log is not None:
        _print_log_tail(log)
    return 1


def save_report(results_dir: Path, document: dict[str, Any], rows: list[Row]) -> Path:
    """The table on stdout, then ``<results_dir>/<UTC timestamp>-<suite>.json`` and its path."""
    print_report(rows, sys.stdout)
    path = write_json(results_dir, document["suite"], document, rows)
    print(f"results: {path}")
    return path


def _print_log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> None:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    print(f"--- last {len(tail)} lines of {path.name} ---", file=sys.stderr)
    print("\n".join(tail), file=sys.stderr)
