"""The process's open-file limit, raised once at start-up by ``kubegate serve`` and
``kubegate proxy`` before their event loop runs.

Every client connection, backend connection and tunnel is a file descriptor (a proxied
WebSocket costs two), and the usual soft ``RLIMIT_NOFILE`` of 1,024 would cap a proxy far
below ``--max-connections``. Go programs (kube-apiserver, kubectl proxy) have raised the soft
limit to the hard limit at start since Go 1.19, and nginx does it with
``worker_rlimit_nofile``; so does kubegate. The hard limit is the administrator's (systemd's
``LimitNOFILE=``, ``ulimit -Hn``, a container runtime's default): raising it needs
``CAP_SYS_RESOURCE``, which a server should not ask for. Nothing in kubegate uses
``select()`` (whose sets stop at descriptor 1,023): the event loop is epoll-based.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger("kubegate.process")


@dataclass(frozen=True, slots=True)
class OpenFileLimit:
    before: int  # the soft limit the process started with
    soft: int  # the soft limit it runs with
    hard: int

    def describe(self) -> str:
        """One log line's worth: the limit in force, and whether it was raised."""
        raised = f", raised from {self.before}" if self.soft != self.before else ""
        return f"open-file limit {self.soft} (hard limit {self.hard}{raised})"


def raise_open_file_limit() -> OpenFileLimit:
    """Lift the soft ``RLIMIT_NOFILE`` to the hard limit (when the kernel refuses — a hard
    limit above ``fs.nr_open`` — the soft limit is left as it was); the limits in force."""
    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if before != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", before, hard, exc)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return OpenFileLimit(before, soft, hard)


def raise_and_log_open_file_limit() -> OpenFileLimit:
    """``raise_open_file_limit``, and an INFO line saying what the process runs with."""
    limit = raise_open_file_limit()
    log.info("%s", limit.describe())
    return limit
