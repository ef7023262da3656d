"""Bearer tokens over several sources (kube's union of token authenticators), and the
authenticator chain around them: anonymous only without any credential."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kubegate.auth.anonymous import AnonymousAuthenticator
from kubegate.auth.bearer import AgnosticTokens, BearerAuthenticator, TokenResult, VerifiedTokens
from kubegate.auth.chain import AuthenticatorChain
from kubegate.auth.tokens import StaticTokens
from kubegate.auth.types import UserInfo
from kubegate.errors import Unauthorized
from kubegate.http.types import Request

API = ("https://kubernetes.default.svc",)
ALICE = UserInfo("alice", "1", ("dev",))


def request(authorization: str | None = None) -> Request:
    headers = [("authorization", authorization)] if authorization is not None else []
    return Request("GET", "/api", "/api", "", headers, None, ("192.0.2.1", 1), True)  # type: ignore[arg-type]


def table(*pairs: tuple[str, UserInfo]) -> AgnosticTokens:
    tokens = StaticTokens()
    for token, user in pairs:
        tokens.add(token, user)
    return AgnosticTokens(tokens.authenticate, API)


class Refusing:
    """A source that owns every token and finds each invalid."""

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        raise Unauthorized("token has expired")


def test_known_token_authenticates_with_system_authenticated() -> None:
    """A token in a table is its user, plus system:authenticated."""
    bearer = BearerAuthenticator([table(("t1", ALICE))], API)
    user = bearer.authenticate(request("Bearer t1"))
    assert user == UserInfo("alice", "1", ("dev", "system:authenticated"))


def test_bearer_scheme_is_case_insensitive() -> None:
    """`bearer` works as well as `Bearer` (RFC 9110: schemes are case-insensitive)."""
    bearer = BearerAuthenticator([table(("t1", ALICE))], API)
    assert bearer.authenticate(request("bearer t1")) is not None


def test_unknown_token_is_unauthorized() -> None:
    """A bearer token no source recognises is a 401, not anonymous."""
    bearer = BearerAuthenticator([table(("t1", ALICE))], API)
    with pytest.raises(Unauthorized):
        bearer.authenticate(request("Bearer nope"))


@pytest.mark.parametrize("header", [None, "Basic YTpi", "Bearer", "Bearer ", "Bearer    "])
def test_no_bearer_token_is_not_this_authenticators(header: str | None) -> None:
    """No header, another scheme, or an empty bearer token: not a bearer credential."""
    bearer = BearerAuthenticator([table(("t1", ALICE))], API)
    assert bearer.authenticate(request(header)) is None


def test_later_source_may_accept_what_an_earlier_one_refused() -> None:
    """A refusal does not end the union: the next source still gets its say."""
    bearer = BearerAuthenticator([Refusing(), table(("t1", ALICE))], API)
    assert bearer.authenticate(request("Bearer t1")) is not None


def test_refusal_reason_stays_out_of_the_client_message() -> None:
    """Clients get kube's bare "Unauthorized"; the reason is only in the review."""
    bearer = BearerAuthenticator([Refusing()], API)
    with pytest.raises(Unauthorized) as info:
        bearer.authenticate(request("Bearer t1"))
    assert info.value.message == "Unauthorized"


def test_review_reports_the_first_refusal_reason() -> None:
    """TokenReview sees why a token was refused."""
    bearer = BearerAuthenticator([Refusing(), table()], API)
    with pytest.raises(Unauthorized, match="token has expired"):
        bearer.review("t1", API)


def test_agnostic_tokens_answer_for_the_api_audiences() -> None:
    """A static token is valid for the API audiences, and reports them."""
    result = table(("t1", ALICE)).authenticate_token("t1", API)
    assert result == TokenResult(ALICE, API)


def test_agnostic_tokens_do_not_answer_for_foreign_audiences() -> None:
    """Asked for an audience the API does not serve, a static token is not valid."""
    assert table(("t1", ALICE)).authenticate_token("t1", ("vault",)) is None


def chain(*, anonymous: bool) -> AuthenticatorChain:
    parts = [BearerAuthenticator([table(("t1", ALICE))], API)]
    return AuthenticatorChain([*parts, AnonymousAuthenticator()] if anonymous else parts)


def test_anonymous_without_credentials() -> None:
    """With anonymous auth on, no credential is system:anonymous in system:unauthenticated."""
    user = chain(anonymous=True).authenticate(request())
    assert user == UserInfo("system:anonymous", groups=("system:unauthenticated",))


def test_no_anonymous_when_off() -> None:
    """With anonymous auth off, no credential authenticates nobody."""
    assert chain(anonymous=False).authenticate(request()) is None


def test_invalid_token_is_not_anonymous() -> None:
    """A presented but invalid token is a 401 even with anonymous auth on."""
    with pytest.raises(Unauthorized):
        chain(anonymous=True).authenticate(request("Bearer wrong"))


@pytest.mark.parametrize("header", ["Bearer ", "Digest abc", "Negotiate xyz", ""])
def test_unrecognised_authorization_is_not_anonymous(header: str) -> None:
    """Any Authorization header counts as a credential: nobody accepts it, so nobody is in."""
    assert chain(anonymous=True).authenticate(request(header)) is None


# -- verified-token cache ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_verified_token_is_remembered_until_it_expires() -> None:
    """A cached verification answers until its expiry, then is gone."""
    clock = Clock()
    cache: VerifiedTokens[str] = VerifiedTokens(clock=clock)
    cache.put("tok", "claims", expires=1010.0)
    assert cache.get("tok") == "claims"
    clock.now = 1010.0
    assert cache.get("tok") is None


def test_verified_tokens_are_bounded() -> None:
    """Past max_entries the oldest verification is forgotten."""
    cache: VerifiedTokens[int] = VerifiedTokens(max_entries=2, clock=Clock())
    for i in range(3):
        cache.put(f"tok{i}", i, expires=2000.0)
    assert (cache.get("tok0"), cache.get("tok1"), cache.get("tok2")) == (None, 1, 2)


def test_verified_tokens_keep_no_token() -> None:
    """Only digests of tokens are kept in memory."""
    cache: VerifiedTokens[int] = VerifiedTokens(clock=Clock())
    cache.put("tok-secret-value", 1, expires=2000.0)
    assert "tok-secret-value" not in repr(cache._entries)
