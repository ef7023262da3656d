"""The machine under measurement: CPU pinning and per-process readings from ``/proc``.

Pinning follows ``/work/shared/reference/perf-baseline.md``: the process under test runs
alone on cpu1 and the load generator on cpu0, so the two never steal each other's core and
a result can be read as "what one core of kubegate does". On a 1-CPU machine, or without
``taskset``, nothing is pinned and the report says so.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOAD_CPU = 0
SERVER_CPU = 1


@dataclass(frozen=True, slots=True)
class Pinning:
    """Where the server and the load generator run; ``None`` means not pinned."""

    server_cpu: int | None
    load_cpu: int | None
    reason: str

    def server_prefix(self) -> list[str]:
        """Argv prefix that starts a command on the server's CPU."""
        return list(taskset_prefix(self.server_cpu))

    def pin_load_generator(self) -> None:
        """Move this process (the load generator) to its CPU."""
        if self.load_cpu is not None:
            os.sched_setaffinity(0, {self.load_cpu})


def taskset_prefix(cpu: int | None) -> tuple[str, ...]:
    """Argv prefix that starts a command on ``cpu`` (empty: not pinned, or no taskset)."""
    taskset = shutil.which("taskset")
    return () if cpu is None or taskset is None else (taskset, "-c", str(cpu))


def plan_pinning(*, enabled: bool = True) -> Pinning:
    """Pin to cpu1 / cpu0 when ``taskset`` exists and both CPUs are ours to use."""
    if not enabled:
        return Pinning(None, None, "disabled by --no-pin")
    if shutil.which("taskset") is None:
        return Pinning(None, None, "taskset not found")
    usable = os.sched_getaffinity(0)
    if not {LOAD_CPU, SERVER_CPU} <= usable:
        return Pinning(None, None, f"need cpu{LOAD_CPU} and cpu{SERVER_CPU}, have {sorted(usable)}")
    return Pinning(SERVER_CPU, LOAD_CPU, f"server on cpu{SERVER_CPU}, load on cpu{LOAD_CPU}")


def proc_status(pid: int, field: str) -> str:
    """One field of ``/proc/PID/status`` as text (``VmRSS``, ``Cpus_allowed_list``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise LookupError(f"{field} not in /proc/{pid}/status")


def proc_status_kib(pid: int, field: str) -> int:
    """One ``kB`` field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``), in KiB."""
    return int(proc_status(pid, field).split()[0])


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat`` utime + stime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces; the numeric fields follow its ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def describe(pinning: Pinning) -> dict[str, Any]:
    """Machine facts worth keeping next to the numbers."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "pinning": pinning.reason,
        "git": _git_revision(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_revision() -> str:
    """``HEAD`` plus ``-dirty`` when the tree has changes; the numbers belong to that code."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _git(*args: str) -> str:
    """The stripped stdout of a read-only ``git`` command run in the repository."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()
