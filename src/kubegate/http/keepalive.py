"""TCP keepalive for long-lived upstream connections (watches).

A watch can sit quiet for minutes, and a peer that vanished without a FIN or RST (a host
gone, a NAT or load-balancer entry dropped) leaves the connection looking open forever.
Keepalive probes find that in the kernel: after ``idle`` seconds without traffic a probe
goes out every ``interval`` seconds, and ``count`` unanswered probes reset the connection,
so the next read fails at once. client-go dials with a 30 s keepalive for the same reason.
Probes also keep NAT and load-balancer entries alive through a quiet watch.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TCPKeepalive:
    """Keepalive timings; a dead peer is noticed within ``idle + interval * count`` seconds."""

    idle: int = 30
    interval: int = 10
    count: int = 3

    @property
    def detects_within(self) -> int:
        return self.idle + self.interval * self.count


def enable_keepalive(sock: Any, keepalive: TCPKeepalive) -> None:
    """Turn keepalive on for ``sock`` (a transport's ``socket`` extra); the timings are set
    where the platform has them (Linux has all three, macOS TCP_KEEPALIVE for ``idle``)."""
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    options = (
        (getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None)), keepalive.idle),
        (getattr(socket, "TCP_KEEPINTVL", None), keepalive.interval),
        (getattr(socket, "TCP_KEEPCNT", None), keepalive.count),
    )
    for option, value in options:
        if option is not None:
            with contextlib.suppress(OSError):  # keepalive itself is on; a timing is best effort
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
