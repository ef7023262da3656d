"""The processes of the ``ha`` suite: one etcd, kubegate replicas on it, an HAProxy.

Every process is a :class:`bench.proxy_procs.Daemon` (own session, stopped by pid, SIGTERM
to it if the harness dies). The replicas share one data directory (one CA, one admin token)
and one etcd key prefix, exactly as docs/ha.md describes; HAProxy balances them in TCP mode
(TLS passes through to kubegate), round robin.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.proxy_kubegate import LOOPBACK_BACKENDS, KubegateServer, wait_listening
from bench.proxy_procs import SCRIPTS_DIR, Daemon, free_port
from bench.server import ServerFailed, serve_argv

TOOLS = {"haproxy": "haproxy", "etcd": "etcd-server", "nginx": "nginx", "wrk": "wrk"}


def ensure_tools() -> None:
    """Install the Debian packages behind any missing tool with ``scripts/apt-deps``."""
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with scripts/apt-deps", flush=True)
    subprocess.run([str(SCRIPTS_DIR / "apt-deps"), *missing], check=True, timeout=600)
    if any(shutil.which(tool) is None for tool in TOOLS):
        raise ServerFailed(f"still missing after scripts/apt-deps: {', '.join(missing)}")


def etcd_daemon(workdir: Path) -> tuple[Daemon, str]:
    """A single-member etcd on free loopback ports (not yet started) and its endpoint."""
    client, peer = free_port(), free_port()
    argv = [
        shutil.which("etcd") or "etcd",
        "--name=bench",
        f"--data-dir={workdir / 'etcd-data'}",
        f"--listen-client-urls=http://127.0.0.1:{client}",
        f"--advertise-client-urls=http://127.0.0.1:{client}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=bench=http://127.0.0.1:{peer}",
        "--log-level=warn",
        "--logger=zap",
    ]
    return Daemon("etcd", argv, workdir / "etcd.log"), f"127.0.0.1:{client}"


def wait_etcd(daemon: Daemon, endpoint: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.check_alive()
        try:
            with urllib.request.urlopen(f"http://{endpoint}/health", timeout=1) as answer:
                if b'"health":"true"' in answer.read():
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise ServerFailed(f"etcd not healthy after {timeout:.0f} s")


@dataclass(frozen=True, slots=True)
class Replica:
    daemon: Daemon
    server: KubegateServer

    @property
    def port(self) -> int:
        return int(self.server.url.rsplit(":", 1)[1])


def start_replicas(
    stack: ExitStack,
    workdir: Path,
    store_url: str,
    count: int,
    first: int = 0,
    extra_args: Sequence[str] = (),
) -> list[Replica]:
    """Start ``count`` replicas on ``store_url`` sharing ``workdir/data``; wait until each
    listens. ``stack`` stops them."""
    data_dir = workdir / "data"
    daemons = []
    for number in range(first, first + count):
        argv = serve_argv(data_dir, store_url, *LOOPBACK_BACKENDS, *extra_args)
        log = workdir / f"replica-{number}.log"
        daemons.append(stack.enter_context(Daemon(f"kubegate-{number}", argv, log)))
    replicas = []
    for daemon in daemons:
        url = wait_listening(daemon)
        token = (data_dir / "admin.token").read_text().strip()
        replicas.append(Replica(daemon, KubegateServer(daemon, url, token, data_dir / "ca.crt")))
    return replicas


def haproxy_daemon(workdir: Path, name: str, ports: Sequence[int]) -> tuple[Daemon, int]:
    """HAProxy in TCP mode on a free port, round robin over ``ports`` (not yet started)."""
    listen = free_port()
    servers = "\n".join(f"  server r{i} 127.0.0.1:{port}" for i, port in enumerate(ports))
    config = workdir / f"{name}.cfg"
    config.write_text(
        f"""global
  maxconn 8192
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend bench
  bind 127.0.0.1:{listen}
  default_backend replicas
backend replicas
  balance roundrobin
{servers}
"""
    )
    argv = [shutil.which("haproxy") or "haproxy", "-db", "-f", str(config)]
    return Daemon(name, argv, workdir / f"{name}.log"), listen
