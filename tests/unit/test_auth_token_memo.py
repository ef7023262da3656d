"""Static-token results are memoised per token digest: reused while the table holds the
same user, rebuilt after the token file reloads, bounded, and never kept for a rejection."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from kubegate.auth.bearer import AgnosticTokens, BearerAuthenticator
from kubegate.auth.tokenfile import TokenFile
from kubegate.auth.tokens import StaticTokens, token_digest
from kubegate.auth.types import AUTHENTICATED_GROUP, UserInfo
from kubegate.errors import Unauthorized
from kubegate.http.types import Request

API = ("https://kubernetes.default.svc",)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def request(token: str) -> Request:
    # A fresh string per request, as the parser makes: the digest memo keys on identity.
    header = "Bearer " + "".join(list(token))
    return Request(
        "GET", "/api", "/api", "", [("authorization", header)], None, ("192.0.2.1", 1), True
    )  # type: ignore[arg-type]


def static(*pairs: tuple[str, UserInfo], memo_size: int = 1024) -> AgnosticTokens:
    tokens = StaticTokens()
    for token, user in pairs:
        tokens.add(token, user)
    return AgnosticTokens(tokens.authenticate, API, memo_size=memo_size)


def test_token_digest_is_sha256() -> None:
    """The digest tables are keyed by is the token's SHA-256."""
    assert token_digest("tok" + "en") == hashlib.sha256(b"token").digest()
    assert token_digest("other") == hashlib.sha256(b"other").digest()


def test_repeated_token_gets_the_same_final_user() -> None:
    """The second request with a token is answered from the memo: the identical UserInfo,
    with system:authenticated."""
    bearer = BearerAuthenticator([static(("t1", UserInfo("alice", "1", ("dev",))))], API)
    first = bearer.authenticate(request("t1"))
    second = bearer.authenticate(request("t1"))
    assert first is second
    assert first == UserInfo("alice", "1", ("dev", AUTHENTICATED_GROUP))


def test_rejected_token_is_not_memoised() -> None:
    """A token no source accepts is a 401 each time and leaves nothing in the memo."""
    source = static(("t1", UserInfo("alice")))
    bearer = BearerAuthenticator([source], API)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            bearer.authenticate(request("wrong"))
    assert source._memo == {}
    assert bearer._authenticated == {}


def test_memo_is_bounded() -> None:
    """More distinct accepted tokens than the memo holds never grow it past its size."""
    pairs = [(f"t{i}", UserInfo(f"u{i}")) for i in range(10)]
    source = static(*pairs, memo_size=3)
    bearer = BearerAuthenticator([source], API)
    for token, user in pairs:
        found = bearer.authenticate(request(token))
        assert found is not None and found.name == user.name
        assert len(source._memo) <= 3


def test_token_file_reload_replaces_the_memoised_user(tmp_path: Path) -> None:
    """After the token file changes, a memoised token answers with its new user, and a
    removed token stops working."""
    clock = Clock()
    path = tmp_path / "tokens.csv"
    path.write_text("keep,alice,1,dev\ngone,bob,2\n")
    bearer = BearerAuthenticator([AgnosticTokens(TokenFile(path, clock=clock).lookup, API)], API)
    assert bearer.authenticate(request("keep")) == UserInfo(
        "alice", "1", ("dev", AUTHENTICATED_GROUP)
    )
    assert bearer.authenticate(request("gone")) is not None
    before = path.stat().st_mtime_ns
    path.write_text("keep,carol,3,ops\n")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))
    clock.now += 1.0
    assert bearer.authenticate(request("keep")) == UserInfo(
        "carol", "3", ("ops", AUTHENTICATED_GROUP)
    )
    with pytest.raises(Unauthorized):
        bearer.authenticate(request("gone"))
