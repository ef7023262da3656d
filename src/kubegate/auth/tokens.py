"""Static bearer tokens: token -> user, compared in constant time.

Today this holds the admin token generated in the data dir; the token-auth-file format of
kube (``token,user,uid,"group1,group2"``) builds on the same table."""

from __future__ import annotations

import hashlib
import hmac

from kubegate.auth.types import UserInfo


class StaticTokens:
    def __init__(self) -> None:
        # sha256(token) -> user: lookups hash the candidate first, so the comparison that
        # decides is over fixed-length digests (security.md ATR-K8S-002).
        self._users: dict[bytes, UserInfo] = {}

    def add(self, token: str, user: UserInfo) -> None:
        self._users[hashlib.sha256(token.encode()).digest()] = user

    def authenticate(self, token: str) -> UserInfo | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for known, user in self._users.items():
            if hmac.compare_digest(known, digest):
                found = user
        return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None
