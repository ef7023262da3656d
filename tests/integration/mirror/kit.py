"""What the mirror-mode suite is built from: a second real ``kubegate serve`` plays the
upstream cluster, a TCP relay between mirror and upstream can cut the line, and helpers to
start a mirror, read its metrics and wait for it.

The relay runs in its own thread (the servers are subprocesses and each test has its own
event loop), so it outlives a test: ``down()`` drops every relayed connection and answers
new ones by closing them at once (as a load balancer with no healthy backend does), ``up()``
relays again, optionally to another upstream port (a restarted upstream). ``freeze()``
black-holes the connections relayed so far without closing them (a hung middlebox, a
dropped NAT entry) while new connections are relayed as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from integration.proxy.harness import Kubegate, eventually, running_kubegate

READY_WITHIN = 20.0
# Users of the suite's mirror (its --token-auth-file): name -> token, uid, groups.
USERS = {
    "alice": ("tok-alice-3f9a0c", "u-alice", "team-a"),
    "bob": ("tok-bob-7d21e4", "u-bob", "team-b"),
    "carol": ("tok-carol-c0ffee", "u-carol", "team-c"),
}
# Short backoff and watch timeouts keep reconnections within a test's patience.
FAST_MIRROR = ("--mirror-backoff-max", "0.5", "--shutdown-grace", "1")


class Relay:
    """A TCP relay on 127.0.0.1 to an upstream port, which a test can cut and restore."""

    def __init__(self, target_port: int, *, up: bool = True) -> None:
        self.target_port = target_port
        self._up = up
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._frozen: set[tuple[socket.socket, socket.socket]] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="mirror-relay", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def down(self) -> None:
        """Cut every relayed connection; new ones are closed as soon as accepted."""
        with self._lock:
            self._up = False
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            for sock in pair:
                _close(sock)

    def freeze(self) -> None:
        """Silently drop whatever the connections relayed so far carry, in both directions;
        they stay open."""
        with self._lock:
            self._frozen |= self._pairs

    def up(self, target_port: int | None = None) -> None:
        with self._lock:
            if target_port is not None:
                self.target_port = target_port
            self._up = True

    def close(self) -> None:
        self._closed = True
        self.down()
        _close(self._listener)
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up, port = self._up, self.target_port
            if not up:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]
    ) -> None:
        try:
            while data := src.recv(65536):
                if pair not in self._frozen:
                    dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._pairs.discard(pair)
            self._frozen.discard(pair)
        for sock in pair:
            _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def upstream_kubeconfig(upstream: Kubegate, server: str, path: Path) -> Path:
    """A copy of the upstream's admin kubeconfig (its system:masters client certificate)
    that reaches the upstream at ``server`` (the relay)."""
    config = yaml.safe_load(Path(upstream.process.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = server
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def running_mirror(kubeconfig: Path, *flags: str) -> Iterator[Kubegate]:
    """A mirror of the cluster ``kubeconfig`` reaches (not waited for: see wait_ready)."""
    with running_kubegate("--upstream-kubeconfig", str(kubeconfig), *FAST_MIRROR, *flags) as kg:
        yield kg


async def readyz(kg: Kubegate) -> int:
    return (await kg.request("GET", "/readyz", auth=None)).status


async def wait_ready(kg: Kubegate, within: float = READY_WITHIN) -> None:
    response = await eventually(
        lambda: kg.request("GET", "/readyz", auth=None), lambda r: r.status == 200, within
    )
    assert response.status == 200, f"the mirror never became ready: {response!r}"


def wait_ready_sync(kg: Kubegate, within: float = READY_WITHIN) -> None:
    """``wait_ready`` for synchronous fixtures (they run outside the tests' event loops)."""
    asyncio.run(wait_ready(kg, within))


async def metrics(kg: Kubegate) -> dict[str, float]:
    """The ``kubegate_mirror_*`` samples of /metrics, by ``name{labels}``."""
    response = await kg.request("GET", "/metrics")
    assert response.status == 200, response
    samples = {}
    for line in response.body.decode().splitlines():
        if line.startswith("kubegate_mirror_"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def series(name: str, resource: str) -> str:
    return f'{name}{{resource="{resource}"}}'


async def wait_for(
    kg: Kubegate, path: str, until: Any, within: float = READY_WITHIN, **kwargs: Any
) -> Any:
    """Poll GET ``path`` on ``kg`` until ``until(response)``; returns the last response."""
    return await eventually(lambda: kg.request("GET", path, **kwargs), until, within)


def audit_events(path: Path) -> list[dict[str, Any]]:
    """The audit.k8s.io Events an upstream wrote so far (``--audit-log-path``)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def token(user: str) -> str:
    return USERS[user][0]


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def status_reason(body: bytes) -> str:
    match = re.search(rb'"reason":\s*"(\w+)"', body)
    return match.group(1).decode() if match else ""
