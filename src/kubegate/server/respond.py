"""Turning results and errors into HTTP responses: the one place errors become Status."""

from __future__ import annotations

import json
import logging
from typing import Any

from kubegate.errors import APIError, InternalError
from kubegate.http.types import Headers, ResponseWriter

log = logging.getLogger("kubegate.server")

JSON_TYPE = "application/json"


def encode_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def base_headers(audit_id: str) -> Headers:
    """Headers every API response carries (kube's WithCacheControl and audit-init filters)."""
    return [("audit-id", audit_id), ("cache-control", "no-cache, private")]


async def send_json(
    response: ResponseWriter,
    status: int,
    obj: Any,
    audit_id: str,
    *,
    extra: Headers = (),  # type: ignore[assignment]
    body: bytes | None = None,
) -> None:
    headers = base_headers(audit_id)
    headers.append(("content-type", JSON_TYPE))
    headers.extend(extra)
    await response.send(status, headers, encode_json(obj) if body is None else body)


async def send_error(response: ResponseWriter, error: Exception, audit_id: str) -> None:
    """Answer with a Status object; unexpected exceptions become a 500 without details."""
    if not isinstance(error, APIError):
        log.error("internal error (audit-id %s)", audit_id, exc_info=error)
        error = InternalError("an internal error occurred")
    headers = base_headers(audit_id)
    headers.append(("content-type", JSON_TYPE))
    headers.append(("x-content-type-options", "nosniff"))
    if error.retry_after is not None:
        headers.append(("retry-after", str(error.retry_after)))
    headers.extend(error.headers)
    if response.started:
        return
    await response.send(error.code, headers, encode_json(error.to_status()))


def success_status(name: str, group: str, kind: str, uid: str = "") -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    if uid:
        details["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
