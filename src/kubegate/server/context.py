"""The per-request context handed from the filter chain to handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs

from kubegate.api.resources import ResourceType
from kubegate.auth.types import UserInfo
from kubegate.core.requestinfo import RequestInfo
from kubegate.errors import BadRequest
from kubegate.http.types import Request, ResponseWriter


@dataclass(slots=True)
class RequestContext:
    request: Request
    response: ResponseWriter
    info: RequestInfo
    audit_id: str
    user: UserInfo | None = None  # who the request acts as (the impersonated user, if any)
    authenticated_user: UserInfo | None = None  # who presented the credential
    resource: ResourceType | None = None
    error: Exception | None = None  # what the request failed with, for the audit record
    audit_annotations: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _query: dict[str, list[str]] | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            try:
                self._query = parse_qs(
                    self.request.query, keep_blank_values=True, strict_parsing=False
                )
            except ValueError as exc:
                raise BadRequest(f"invalid query string: {exc}") from exc
        return self._query

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        return self.param(name).lower() in ("1", "true")

    def warning_headers(self) -> list[tuple[str, str]]:
        """RFC 7234 Warning headers as kube sends them (code 299)."""
        return [("warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"') for w in self.warnings]
