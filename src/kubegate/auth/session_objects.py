"""A browser session as a value, and as the object the API store keeps of it.

The object (``kind: Session``, under auth/sessions.py's prefix) holds the user, how they
signed in, the times, the scope and parent, and the credential record
(auth/session_credentials.py) — never the session's secret nor the sign-in credential.
A session stored by an older kubegate has no ``credential``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubegate.auth.session_credentials import SessionCredential
from kubegate.auth.types import UserInfo
from kubegate.store.base import JSON


@dataclass(frozen=True, slots=True)
class Session:
    user: UserInfo
    method: str  # how the user logged in: "password", "token", "oidc", "apps"
    created: float  # seconds since the epoch
    last_seen: float
    scope: str = ""  # "": the main origin; others (per-app origins) never match it
    not_after: float = 0.0  # the login credential's own expiry (0: none)
    parent: str = ""  # the store name of the main session this one lives within ("": none)
    credential: SessionCredential | None = None  # what to re-check (auth/session_credentials)


def to_object(session: Session, name: str) -> JSON:
    user = session.user
    obj: JSON = {
        "apiVersion": "kubegate.io/v1",
        "kind": "Session",
        "metadata": {"name": name},
        "user": {
            "username": user.name,
            "uid": user.uid,
            "groups": list(user.groups),
            "extra": {k: list(v) for k, v in user.extra.items()},
        },
        "method": session.method,
        "scope": session.scope,
        "created": session.created,
        "lastSeen": session.last_seen,
        "notAfter": session.not_after,
        "parent": session.parent,
    }
    if session.credential is not None:
        obj["credential"] = session.credential.to_json()
    return obj


def from_object(obj: JSON) -> Session:
    """Raises (KeyError, TypeError, ValueError) for an object that is not a session."""
    user: dict[str, Any] = obj["user"]
    extra = {str(k): tuple(str(x) for x in v) for k, v in (user.get("extra") or {}).items()}
    credential = obj.get("credential")
    return Session(
        user=UserInfo(
            str(user["username"]),
            str(user.get("uid") or ""),
            tuple(str(g) for g in user.get("groups") or ()),
            extra,
        ),
        method=str(obj["method"]),
        created=float(obj["created"]),
        last_seen=float(obj["lastSeen"]),
        scope=str(obj.get("scope") or ""),
        not_after=float(obj.get("notAfter") or 0.0),
        parent=str(obj.get("parent") or ""),
        credential=None if credential is None else SessionCredential.from_json(credential),
    )


def touched(seen: float) -> Callable[[JSON], JSON]:
    def mutate(obj: JSON) -> JSON:
        return {**obj, "lastSeen": max(float(obj.get("lastSeen") or 0.0), seen)}

    return mutate
