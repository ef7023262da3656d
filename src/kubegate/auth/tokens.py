"""Static bearer tokens: token -> user, looked up by the token's SHA-256.

Today this holds the admin token generated in the data dir; the token-auth-file format of
kube (``token,user,uid,"group1,group2"``) builds on the same table."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from kubegate.auth.types import UserInfo

_last_digest: tuple[str, bytes] = ("", hashlib.sha256(b"").digest())


def token_digest(token: str) -> bytes:
    """SHA-256 of ``token``. Several token sources look at one request's token in turn; the
    last token (by identity: one request's string) is remembered so it is hashed once."""
    global _last_digest
    last = _last_digest  # one read and one write of a pair: threads cannot mix two tokens up
    if last[0] is token:
        return last[1]
    digest = hashlib.sha256(token.encode()).digest()
    _last_digest = (token, digest)
    return digest


class StaticTokens:
    """sha256(token) -> user. The candidate is hashed and its digest found in a dict: what
    timing can reveal is how much of a *digest* matched, which does not help guess a token
    (security.md ATR-K8S-002 asks for fixed-length digests, not raw strings), and many tokens
    cost one dict lookup, not a comparison each."""

    def __init__(self) -> None:
        self._users: dict[bytes, UserInfo] = {}

    def add(self, token: str, user: UserInfo) -> None:
        self._users[token_digest(token)] = user

    def authenticate(self, token: str) -> UserInfo | None:
        return self._users.get(token_digest(token))

    def entries(self) -> Iterator[tuple[bytes, UserInfo]]:
        """(SHA-256 of the token, user) for every token."""
        return iter(self._users.items())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None
