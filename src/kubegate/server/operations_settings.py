"""Settings for running kubegate in production: certificate reload, restarts, timeouts, audit
failure policy (built from flags by ``cli/operations_flags.py``; see docs/operations.md)."""

from __future__ import annotations

from dataclasses import dataclass

# kube-apiserver's --audit-log-mode values that make sense for a synchronous file backend.
AUDIT_BLOCKING = "blocking"  # a record that cannot be written is lost (counted); serving goes on
AUDIT_BLOCKING_STRICT = "blocking-strict"  # ... and requests are refused with 503 meanwhile
AUDIT_MODES = (AUDIT_BLOCKING, AUDIT_BLOCKING_STRICT)


@dataclass(frozen=True, slots=True)
class OperationsSettings:
    tls_reload_interval: float = 5.0  # seconds between looks at the TLS files; 0: never
    reuse_port: bool = False  # SO_REUSEPORT: a new process may bind while the old one drains
    # Client connections open at once, upgraded tunnels included (each also holds a backend
    # connection: two file descriptors); more are closed on accept.
    max_connections: int = 4096
    shutdown_delay: float = 0.0  # seconds to keep serving, not ready, after SIGTERM
    proxy_response_header_timeout: float = 60.0  # backend's head must start arriving by then
    proxy_idle_timeout: float = 300.0  # no body byte from (or to) a backend for this long
    audit_log_mode: str = AUDIT_BLOCKING_STRICT
