"""The audit seam: the app hands every finished request to an Auditor, once."""

from __future__ import annotations

from typing import Protocol

from kubegate.server.context import RequestContext


class Auditor(Protocol):
    def record(self, ctx: RequestContext, received: float) -> None:
        """Write one record for a finished (or rejected) request. Must not raise."""
