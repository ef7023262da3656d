"""Bearer tokens: one ``Authorization: Bearer`` header, several token sources.

Kube's union of token authenticators: every source is asked in turn; the first that accepts
the token decides. A source returns None for a token that is not its own (a JWT from another
issuer, a string not in its table) and raises ``Unauthorized`` for one that is its own but
invalid (expired, bad signature, deleted ServiceAccount); the union keeps asking — another
source may still accept it — and if none does, the request is a 401. A bearer token nobody
recognises is a 401 too: it is a presented credential, never anonymous.

Audiences follow kube's ``authenticator.Audiences``: a request asks for a set (the server's
``--api-audiences``, or a TokenReview's ``spec.audiences``); audience-aware sources
(ServiceAccount tokens) check the token's ``aud`` against it; the others are wrapped in
:class:`AgnosticTokens`, which answers only when the asked set meets the API audiences
(kube's ``WrapAudienceAgnosticToken``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from kubegate.auth.tokens import bearer_token, token_digest
from kubegate.auth.types import UserInfo
from kubegate.errors import Unauthorized
from kubegate.http.types import Request

log = logging.getLogger(__name__)

T = TypeVar("T")

_AUTHENTICATED_MEMO_SIZE = 1024


@dataclass(frozen=True, slots=True)
class TokenResult:
    """A token accepted by a source: who it is, and for which of the asked audiences."""

    user: UserInfo
    audiences: tuple[str, ...]


class TokenSource(Protocol):
    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        """None: not this source's token. Raises Unauthorized: its token, but invalid."""


class AgnosticTokens:
    """A token table that knows nothing of audiences (static tokens, the token file, OIDC).

    A token the table still maps to the same user gets the same TokenResult object back
    (``returns_same_result``), so the union can reuse what it derived from it."""

    returns_same_result = True

    def __init__(
        self,
        lookup: Callable[[str], UserInfo | None],
        api_audiences: Sequence[str],
        *,
        memo_size: int = 1024,
    ) -> None:
        self._lookup = lookup
        self._api_audiences = tuple(api_audiences)
        # sha256(token) -> (the user the lookup returned, the result for the API audiences).
        # Valid while the lookup returns that same user object: a reloaded token file has
        # new objects, so its old results are never served. Accepted tokens only; bounded.
        self._memo: dict[bytes, tuple[UserInfo, TokenResult]] = {}
        self._memo_size = memo_size

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        if audiences is self._api_audiences or tuple(audiences) == self._api_audiences:
            user = self._lookup(token)  # the usual case: a request to the API
            if user is None:
                return None
            key = token_digest(token)
            memo = self._memo.get(key)
            if memo is not None and memo[0] is user:
                return memo[1]
            result = TokenResult(user, self._api_audiences)
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[key] = (user, result)
            return result
        matched = tuple(a for a in self._api_audiences if a in set(audiences))
        if not matched:
            return None
        user = self._lookup(token)
        return None if user is None else TokenResult(user, matched)


class VerifiedTokens(Generic[T]):
    """What a signature check established about a token, kept until the token expires.

    Verifying a JWT signature costs a few hundred microseconds — more than proxying a small
    request — and a client sends the same token again and again. Only the cryptographic
    result is kept (by SHA-256 of the token, never the token); checks that can change, such as
    whether the ServiceAccount still exists, run on every request. Bounded: the oldest entry
    goes first."""

    def __init__(self, max_entries: int = 4096, clock: Callable[[], float] = time.time) -> None:
        self._entries: dict[bytes, tuple[T, float]] = {}
        self._max = max_entries
        self._clock = clock

    def get(self, token: str) -> T | None:
        key = token_digest(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry[0]

    def put(self, token: str, value: T, expires: float) -> None:
        while len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]
        self._entries[token_digest(token)] = (value, expires)


class BearerAuthenticator:
    """The Authenticator for bearer tokens, over an ordered list of token sources."""

    def __init__(self, sources: Sequence[TokenSource], api_audiences: Sequence[str]) -> None:
        self.sources = tuple(sources)
        self.api_audiences = tuple(api_audiences)
        # id(a source's result) -> (that result, the same with system:authenticated), for
        # sources that hand back the same result for the same token: building a UserInfo
        # costs more than the rest of a static-token lookup. The entry holds the result, so
        # its id cannot be reused while the entry lives. Bounded.
        self._authenticated: dict[int, tuple[TokenResult, TokenResult]] = {}

    def authenticate(self, request: Request) -> UserInfo | None:
        token = bearer_token(request.header("authorization"))
        if token is None:
            return None
        try:
            return self.review(token, self.api_audiences).user
        except Unauthorized as exc:
            # The reason stays in the server log (debug); clients see kube's bare message.
            log.debug("bearer token from %s rejected: %s", request.peer[0], exc.message)
            raise Unauthorized("Unauthorized") from None

    def review(self, token: str, audiences: Sequence[str]) -> TokenResult:
        """The first source's acceptance; raises Unauthorized with the first source's reason
        (or "invalid bearer token") when none accepts."""
        first_error: Unauthorized | None = None
        for source in self.sources:
            try:
                result = source.authenticate_token(token, audiences)
            except Unauthorized as exc:
                first_error = first_error or exc
                continue
            if result is not None:
                return self._with_authenticated_group(source, result)
        raise first_error or Unauthorized("invalid bearer token")

    def _with_authenticated_group(self, source: TokenSource, result: TokenResult) -> TokenResult:
        entry = self._authenticated.get(id(result))
        if entry is not None and entry[0] is result:
            return entry[1]
        user = result.user.authenticated()
        final = result if user is result.user else TokenResult(user, result.audiences)
        if getattr(source, "returns_same_result", False):
            if len(self._authenticated) >= _AUTHENTICATED_MEMO_SIZE:
                self._authenticated.clear()
            self._authenticated[id(result)] = (result, final)
        return final
