"""The per-request context handed from the filter chain to handlers, and the two things
every request needs first: its audit id and its parsed RequestInfo (both kept cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from random import getrandbits
from urllib.parse import parse_qs

from kubegate.api.resources import ResourceType
from kubegate.auth.types import UserInfo
from kubegate.core.requestinfo import RequestInfo, parse_request_info
from kubegate.errors import BadRequest
from kubegate.http.types import Request, ResponseWriter

# uuid.UUID(int=..., version=4): the version nibble 4 and the RFC 4122 variant bits 10.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
_INFOS: dict[tuple[str, str, str], RequestInfo] = {}
_INFOS_MAX = 1024  # entries; all dropped when full
_INFO_KEY_MAX = 512  # longer paths and queries are parsed every time (bounded memory)


def new_audit_id() -> str:
    """A random version-4 UUID as text, what ``str(uuid.uuid4())`` gives but from the
    ``random`` generator: no getrandom syscall and no UUID object per request (an audit id
    must be unique, not secret)."""
    text = "%032x" % ((getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET)
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def request_info(method: str, path: str, query: str) -> RequestInfo:
    """``parse_request_info``, memoised: clients repeat the same few paths, and the parse is
    a pure function of these three values (RequestInfo is frozen, so sharing one is safe).
    A PathError is raised again every time, never remembered."""
    if len(path) + len(query) > _INFO_KEY_MAX:
        return parse_request_info(method, path, query)
    key = (method, path, query)
    info = _INFOS.get(key)
    if info is None:
        info = parse_request_info(method, path, query)
        if len(_INFOS) >= _INFOS_MAX:
            _INFOS.clear()
        _INFOS[key] = info
    return info


@dataclass(slots=True)
class RequestContext:
    request: Request
    response: ResponseWriter
    info: RequestInfo
    audit_id: str
    user: UserInfo | None = None  # who the request acts as (the impersonated user, if any)
    authenticated_user: UserInfo | None = None  # who presented the credential
    # The credential was one a browser sends by itself (the session cookie, or basic auth on
    # a request with Sec-Fetch-* headers): only proxy paths and kubegate's pages are open.
    ambient: bool = False
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
        return [
            ("warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')
            for w in self.warnings
        ]
