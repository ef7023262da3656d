"""The audit seam: the app hands every request to an Auditor — before it runs, when it may
change something, and once when it is finished."""

from __future__ import annotations

from typing import Protocol

from kubegate.server.context import RequestContext


class Auditor(Protocol):
    def received(self, ctx: RequestContext, received: float) -> bool:
        """Write the RequestReceived record of an authenticated request about to run that
        may change something. Must not raise. False: the record was lost and the request
        must not run (strict audit mode)."""

    def record(self, ctx: RequestContext, received: float) -> bool | None:
        """Write one record for a finished (or rejected) request. Must not raise. False:
        the record was lost and the answer must not go out (strict audit mode)."""

    def accepting(self) -> bool:
        """Whether new requests may be served (False while records cannot be written and
        the audit mode refuses to serve unaudited)."""
