"""The load side of the proxy suite: wrk runs, curl transfers, RSS while streaming.

Every tool runs as a child process started with the load CPU's ``taskset`` prefix (cpu0
next to the backend, as in perf-baseline.md; cpu1 for the "direct" row). Numbers come
back in plain units: requests/s, microseconds, MiB/s (2^20 bytes per second), KiB.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.proxy_procs import Daemon

MIB = 2**20
# wrk calls done() once at the end; its numbers are exact (the text report rounds them).
WRK_SCRIPT = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d,'
    .. ' "read_errors": %d, "write_errors": %d, "non_2xx_3xx": %d, "timeouts": %d,'
    .. ' "p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "max_us": %.1f, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


class LoadFailed(RuntimeError):
    """A load tool failed outright (not a slow number: a broken run)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to reach one subject: the URL prefix of backend paths, headers, CA, load CPU."""

    base_url: str
    headers: tuple[tuple[str, str], ...] = ()
    cafile: Path | None = None
    load_prefix: tuple[str, ...] = ()

    def url(self, path: str) -> str:
        return self.base_url + path

    def curl(self, *args: str) -> list[str]:
        """A curl argv on the load CPU with this endpoint's headers and CA."""
        command = [
            *self.load_prefix,
            shutil.which("curl") or "curl",
            "-sS",
            "--noproxy",
            "*",
            *args,
        ]
        for name, value in self.headers:
            command += ["-H", f"{name}: {value}"]
        if self.cafile is not None:
            command += ["--cacert", str(self.cafile)]
        return command


def write_wrk_script(path: Path) -> Path:
    path.write_text(WRK_SCRIPT)
    return path


def wrk(
    endpoint: Endpoint, path: str, *, connections: int, seconds: float, script: Path
) -> dict[str, Any]:
    """One ``wrk -t1 -cN -dS --latency`` run: rps, latency percentiles (us), errors."""
    command = [
        *endpoint.load_prefix,
        shutil.which("wrk") or "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
    ]
    for name, value in endpoint.headers:
        command += ["-H", f"{name}: {value}"]
    command.append(endpoint.url(path))
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise LoadFailed(f"wrk failed ({done.returncode}): {done.stdout[-500:]}{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("WRK-JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(
        result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return result


def download(endpoint: Endpoint, path: str) -> dict[str, Any]:
    """``curl -o /dev/null`` at full speed: MiB/s, bytes and status."""
    out = _curl(
        endpoint.curl(
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{speed_download} %{size_download}",
            endpoint.url(path),
        )
    )
    status, speed, size = out.split()
    return {"status": int(status), "mib_s": float(speed) / MIB, "bytes": int(size)}


def upload(endpoint: Endpoint, path: str, source: Path) -> dict[str, Any]:
    """``curl --data-binary @file`` POST to the backend's sink: MiB/s, bytes, status.

    ``bytes`` is what curl sent; ``received`` what the sink says it read (its answer is
    ``$request_length``: request head plus body). ``Expect:`` is emptied so curl sends the
    body at once instead of waiting for a ``100 Continue`` the sink never sends."""
    out = _curl(
        endpoint.curl(
            "-w",
            "\\n%{http_code} %{speed_upload} %{size_upload}",
            "-H",
            "Expect:",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            f"@{source}",
            endpoint.url(path),
        )
    )
    answer, _, numbers = out.rpartition("\n")
    status, speed, size = numbers.split()
    received = int(answer) if answer.strip().isdigit() else 0
    return {
        "status": int(status),
        "mib_s": float(speed) / MIB,
        "bytes": int(size),
        "received": received,
    }


def body(endpoint: Endpoint, path: str) -> bytes:
    done = subprocess.run(endpoint.curl("-f", endpoint.url(path)), capture_output=True, timeout=60)
    if done.returncode != 0:
        raise LoadFailed(f"GET {path}: curl exit {done.returncode}: {done.stderr.decode()}")
    return done.stdout


def sha256(endpoint: Endpoint, path: str) -> str:
    """The sha256 of a download, hashed as it streams through a pipe."""
    digest = hashlib.sha256()
    command = endpoint.curl("-f", endpoint.url(path))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as curl:
        assert curl.stdout is not None
        while chunk := curl.stdout.read(MIB):
            digest.update(chunk)
    if curl.returncode != 0:
        raise LoadFailed(f"GET {path}: curl exit {curl.returncode}")
    return digest.hexdigest()


def stream_rss(
    endpoint: Endpoint, path: str, daemon: Daemon, *, interval: float = 0.05
) -> dict[str, Any]:
    """RSS of the proxy's process tree every ``interval`` while one download streams.

    VmHWM is reset first (``clear_refs``), so the peak also catches spikes between two
    samples. Growth is judged over the RSS just before the download started."""
    idle = daemon.rss_kib()
    daemon.reset_hwm()
    samples = [idle]
    command = endpoint.curl(
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{speed_download} %{size_download}",
        endpoint.url(path),
    )
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as curl:
        while curl.poll() is None:
            samples.append(daemon.rss_kib())
            time.sleep(interval)
        out = curl.stdout.read() if curl.stdout else ""
    if curl.returncode != 0:
        raise LoadFailed(f"GET {path}: curl exit {curl.returncode}")
    status, speed, size = out.split()
    return {
        "status": int(status),
        "bytes": int(size),
        "mib_s": float(speed) / MIB,
        "seconds": time.perf_counter() - started,
        "idle_kib": idle,
        "peak_sampled_kib": max(samples),
        "hwm_kib": daemon.hwm_kib(),
        "after_kib": daemon.rss_kib(),
        "samples": len(samples),
    }


def _curl(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise LoadFailed(f"curl exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


# -- machine-side counters -------------------------------------------------------------


def cpu_ticks() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy, total) jiffies from ``/proc/stat`` (idle and iowait are not busy)."""
    ticks: dict[int, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(v) for v in values]
            total = sum(numbers[:8])  # user..steal; guest time is already inside user
            ticks[int(name[3:])] = (total - numbers[3] - numbers[4], total)
    return ticks


def busy_shares(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]
) -> dict[str, float]:
    """Share of each CPU that was busy between two :func:`cpu_ticks` readings."""
    shares = {}
    for cpu, (busy, total) in after.items():
        busy0, total0 = before.get(cpu, (0, 0))
        shares[f"cpu{cpu}"] = (busy - busy0) / max(total - total0, 1)
    return shares


def backend_accepts(port: int) -> int:
    """Connections the backend nginx has accepted so far (``stub_status``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/nginx_status")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    # "Active connections: N \nserver accepts handled requests\n A H R \n..."
    return int(text.splitlines()[2].split()[0])
