"""The one error tree of kubegate: every failure a client can see is an APIError.

    APIError(code, reason, message, details)
      BadRequest          400  malformed input, invalid proxy ids, unsupported options
      Unauthorized        401
      Forbidden           403
      NotFound            404
      MethodNotAllowed    405
      NotAcceptable       406
      AlreadyExists       409  reason AlreadyExists
      Conflict            409  reason Conflict (stale resourceVersion)
      Gone                410  reason Expired (watch/list from a compacted resourceVersion)
      RequestEntityTooLarge 413
      UnsupportedMediaType  415
      Invalid             422  with field causes
      TooManyRequests     429
      InternalError       500
      BadGateway          502  a proxied backend answered with invalid HTTP
      ServiceUnavailable  503
      Timeout             504

Errors become responses in exactly one place (``server/respond.py``) via ``to_status``.
The reasons and codes are those of k8s.io/apimachinery/pkg/apis/meta/v1 StatusReason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Cause:
    """One field-level cause of an Invalid error (metav1.StatusCause)."""

    type: str  # FieldValueInvalid, FieldValueRequired, FieldValueDuplicate, FieldValueNotSupported, ...
    message: str
    field: str

    def to_json(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.message, "field": self.field}


class APIError(Exception):
    """An error with the HTTP status and Kubernetes Status reason to answer with."""

    code = 500
    reason = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        group: str = "",
        kind: str = "",
        causes: tuple[Cause, ...] = (),
        retry_after: int | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes
        self.retry_after = retry_after
        self.headers = headers

    def details(self) -> dict[str, Any] | None:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_json() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        return details or None

    def to_status(self) -> dict[str, Any]:
        """Render as a metav1.Status object."""
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        details = self.details()
        if details:
            status["details"] = details
        return status


class BadRequest(APIError):
    code, reason = 400, "BadRequest"


class Unauthorized(APIError):
    code, reason = 401, "Unauthorized"


class Forbidden(APIError):
    code, reason = 403, "Forbidden"


class NotFound(APIError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(APIError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(APIError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(APIError):
    code, reason = 409, "AlreadyExists"


class Conflict(APIError):
    code, reason = 409, "Conflict"


class Gone(APIError):
    code, reason = 410, "Expired"


class RequestEntityTooLarge(APIError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(APIError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(APIError):
    code, reason = 422, "Invalid"


class TooManyRequests(APIError):
    code, reason = 429, "TooManyRequests"


class InternalError(APIError):
    code, reason = 500, "InternalError"


class BadGateway(APIError):
    """The backend answered with something that is not valid HTTP (kube has no 502 reason)."""

    code, reason = 502, "BadGateway"


class ServiceUnavailable(APIError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(APIError):
    code, reason = 504, "Timeout"


@dataclass(frozen=True, slots=True)
class FieldErrors:
    """Collects field causes during validation; raise ``Invalid`` if any were found."""

    causes: list[Cause] = field(default_factory=list)

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.causes.append(
            Cause("FieldValueInvalid", f"Invalid value: {_show(value)}: {detail}", path)
        )

    def required(self, path: str, detail: str = "") -> None:
        self.causes.append(
            Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)
        )

    def duplicate(self, path: str, value: Any) -> None:
        self.causes.append(Cause("FieldValueDuplicate", f"Duplicate value: {_show(value)}", path))

    def not_supported(self, path: str, value: Any, allowed: list[str]) -> None:
        supported = ", ".join(f'"{a}"' for a in allowed)
        self.causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {_show(value)}: supported values: {supported}",
                path,
            )
        )

    def forbidden(self, path: str, detail: str) -> None:
        self.causes.append(Cause("FieldValueForbidden", f"Forbidden: {detail}", path))

    def raise_if_any(self, kind: str, name: str, group: str = "") -> None:
        if not self.causes:
            return
        summary = ", ".join(f"{c.field}: {c.message}" for c in self.causes)
        qualified = f"{kind}.{group}" if group else kind
        raise Invalid(
            f'{qualified} "{name}" is invalid: {summary}',
            name=name,
            group=group,
            kind=kind,
            causes=tuple(self.causes),
        )


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
