"""The audit seam: the app hands every finished request to an Auditor, once."""

from __future__ import annotations

from typing import Protocol

from kubegate.server.context import RequestContext


class Auditor(Protocol):
    def record(self, ctx: RequestContext, received: float) -> bool | None:
        """Write one record for a finished (or rejected) request. Must not raise. False:
        the record was lost and the answer must not go out (strict audit mode)."""

    def accepting(self) -> bool:
        """Whether new requests may be served (False while records cannot be written and
        the audit mode refuses to serve unaudited)."""
