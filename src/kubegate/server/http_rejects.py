"""Requests the HTTP layer refuses before the application sees them (malformed or oversized
heads, header timeouts): counted by status and, with an audit log, recorded.

``http/`` knows nothing of audit or metrics; it calls ``HTTPServer.on_reject`` with the
peer, the status and its fixed message, and adds the header lines returned (the record's
``Audit-Id``) to its answer.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubegate.server.audit_log import FileAuditor


class RejectedRequests:
    """The ``on_reject`` hook of the server's HTTP layer."""

    def __init__(self, auditor: FileAuditor | None = None) -> None:
        self.auditor = auditor
        self.by_status: Counter[int] = Counter()  # a handful of statuses: bounded

    def __call__(self, peer: tuple[str, int], status: int, message: str) -> bytes:
        self.by_status[status] += 1
        if self.auditor is None:
            return b""
        return self.auditor.record_rejected(peer, status, message)
