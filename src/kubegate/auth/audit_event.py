"""Rendering one ``audit.k8s.io/v1`` Event as one JSON line (pure: plain values in, bytes out).

Field names, order and formats follow kube's Event (k8s.io/apiserver/pkg/apis/audit/v1):
timestamps are RFC 3339 with microseconds in UTC, empty fields are left out, ``objectRef`` is
there only for resource requests.

What never reaches a line: request headers other than User-Agent (so no Authorization,
Cookie or Proxy-Authorization), and the values of credential-bearing query parameters
(``REDACTED_QUERY_PARAMS``, plus ``REDACTED_PATH_QUERY_PARAMS`` on kubegate's own sign-in
paths) or URL userinfo in ``requestURI`` — kube logs the URI as received; a proxy whose
backends take ``?access_token=`` cannot. Every line is pure ASCII:
CR, LF and every other control or non-ASCII character is escaped by the JSON encoder, so a
hostile path or User-Agent cannot forge a second record.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from kubegate.auth.audit_policy import Level
from kubegate.auth.types import UserInfo

REDACTED = "REDACTED"
# Query parameters whose values are credentials (compared case-insensitively).
REDACTED_QUERY_PARAMS = frozenset(
    {"access_token", "token", "id_token", "refresh_token", "password", "client_secret"}
)
# More of them on kubegate's sign-in paths only (a backend's ``?code=`` or ``?state=`` is
# its own business): the OIDC callback's authorization code and state (the code is
# redeemable until the flow's token request, the state binds the flow to the browser), the
# app-origin sign-in code (redeemable once within a minute) and the state binding that
# sign-in to the browser's app-origin cookie (server/login_oidc.py, server/ui/apps.py).
REDACTED_PATH_QUERY_PARAMS: Mapping[str, frozenset[str]] = {
    "/oauth2/callback": frozenset({"code", "state"}),
    "/-/apps-callback": frozenset({"code", "state"}),
    "/-/apps-auth": frozenset({"state"}),
}


@dataclass(frozen=True, slots=True)
class ObjectRef:
    resource: str
    namespace: str = ""
    name: str = ""
    api_group: str = ""
    api_version: str = ""
    subresource: str = ""

    def to_json(self) -> dict[str, str]:
        data = {
            "resource": self.resource,
            "namespace": self.namespace,
            "name": self.name,
            "apiGroup": self.api_group,
            "apiVersion": self.api_version,
            "subresource": self.subresource,
        }
        return {key: value for key, value in data.items() if value}


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Everything one record says, as plain values."""

    level: Level
    audit_id: str
    request_uri: str
    verb: str
    source_ip: str
    received: float  # epoch seconds
    completed: float
    user: UserInfo | None = None  # None: authentication failed or was never reached
    impersonated_user: UserInfo | None = None
    user_agent: str | None = None
    object_ref: ObjectRef | None = None
    code: int = 0  # 0: no response was sent (the client went away first)
    failure: Mapping[str, Any] | None = None  # the Status of an error response
    annotations: Mapping[str, str] = field(default_factory=dict)
    request_object: Any = None  # rendered at level Request and above
    response_object: Any = None  # rendered at level RequestResponse


def render(event: AuditEvent, *, stage: str = "ResponseComplete") -> dict[str, Any]:
    """The Event as a JSON-ready dict."""
    data: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": event.level.wire,
        "auditID": event.audit_id,
        "stage": stage,
        "requestURI": redact_request_uri(event.request_uri),
        "verb": event.verb,
        "user": _user(event.user),
    }
    if event.impersonated_user is not None:
        data["impersonatedUser"] = _user(event.impersonated_user)
    if event.source_ip:
        data["sourceIPs"] = [event.source_ip]
    if event.user_agent:
        data["userAgent"] = event.user_agent
    if event.object_ref is not None:
        data["objectRef"] = event.object_ref.to_json()
    if event.code:
        data["responseStatus"] = _response_status(event.code, event.failure)
    if event.level >= Level.REQUEST and event.request_object is not None:
        data["requestObject"] = event.request_object
    if event.level >= Level.REQUEST_RESPONSE and event.response_object is not None:
        data["responseObject"] = event.response_object
    data["requestReceivedTimestamp"] = rfc3339_micro(event.received)
    data["stageTimestamp"] = rfc3339_micro(event.completed)
    if event.annotations:
        data["annotations"] = dict(event.annotations)
    return data


def encode_line(data: Mapping[str, Any]) -> bytes:
    """One record: compact JSON, ASCII only (control characters escaped), newline-ended."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


def rfc3339_micro(timestamp: float) -> str:
    """kube's MicroTime format, e.g. ``2024-05-01T12:00:00.123456Z``."""
    micros = round(timestamp * 1_000_000)
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_second_prefix(seconds)}.{fraction:06d}Z"


@functools.lru_cache(maxsize=4)
def _second_prefix(seconds: int) -> str:
    # strftime costs several microseconds; two records a request share the same few seconds.
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def redact_request_uri(target: str) -> str:
    """The request-target with credential query values and URL userinfo replaced."""
    if not target.startswith("/") and "://" in target:
        scheme_end = target.index("://") + 3
        rest = target[scheme_end:]
        authority_end = min(
            (i for i in (rest.find(c) for c in "/?#") if i != -1), default=len(rest)
        )
        at = rest.rfind("@", 0, authority_end)
        if at != -1:
            target = f"{target[:scheme_end]}{REDACTED}@{rest[at + 1 :]}"
    path, sep, query = target.partition("?")
    if not sep:
        return target
    redacted = REDACTED_QUERY_PARAMS | REDACTED_PATH_QUERY_PARAMS.get(_path_of(path), frozenset())
    params = query.split("&")
    for i, param in enumerate(params):
        name, eq, _value = param.partition("=")
        if eq and unquote_plus(name).lower() in redacted:
            params[i] = f"{name}={REDACTED}"
    return f"{path}?{'&'.join(params)}"


def _path_of(target_path: str) -> str:
    """The path of a request-target without its query: origin-form as is, absolute-form
    (``https://host/path``) without scheme and authority."""
    if target_path.startswith("/"):
        return target_path
    _, sep, rest = target_path.partition("://")
    if not sep:
        return target_path
    slash = rest.find("/")
    return rest[slash:] if slash != -1 else "/"


def without_managed_fields(obj: Any) -> Any:
    """A shallow copy of an object (or of a list's items) without metadata.managedFields."""
    if not isinstance(obj, dict):
        return obj
    result = obj
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        result = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    items = obj.get("items")
    if isinstance(items, list):
        result = {**result, "items": [without_managed_fields(item) for item in items]}
    return result


def _user(user: UserInfo | None) -> dict[str, Any]:
    # An unauthenticated request is logged with an empty user, as kube does.
    return {} if user is None else user.to_json()


def _response_status(code: int, failure: Mapping[str, Any] | None) -> dict[str, Any]:
    status: dict[str, Any] = {"metadata": {}}
    if failure is not None:
        for key in ("status", "message", "reason", "details"):
            if failure.get(key):
                status[key] = failure[key]
    status["code"] = code
    return status
