"""--basic-auth-file: parsing, password checks (plain and bcrypt), malformed headers, and the
brute-force defences of security.md §2.11 / A34."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import bcrypt
import pytest

from kubegate.auth import basic
from kubegate.auth.basic import (
    CHALLENGE,
    BasicAuthenticator,
    basic_credentials,
    parse_password_file,
)
from kubegate.auth.throttle import FailureThrottle
from kubegate.auth.tokenfile import AuthFileError
from kubegate.auth.types import UserInfo
from kubegate.errors import TooManyRequests, Unauthorized
from kubegate.http.types import Request

ALICE = UserInfo("alice", "1", ("dev", "ops"))
ALICE_HASH = bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=4)).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def request(authorization: str | None, source: str = "192.0.2.1") -> Request:
    headers = [("authorization", authorization)] if authorization is not None else []
    return Request("GET", "/api", "/api", "", headers, None, (source, 5000), True)  # type: ignore[arg-type]


def password_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "passwords.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def plain_file(tmp_path: Path) -> Path:
    return password_file(tmp_path, 'wonderland,alice,1,"dev,ops"', "builder,bob,2")


@pytest.fixture
def hashed_file(tmp_path: Path) -> Path:
    return password_file(tmp_path, f'{ALICE_HASH},alice,1,"dev,ops"')


class CountingCheckpw:
    """Counts bcrypt verifications (each one is the expensive step)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = bcrypt.checkpw

        def counted(password: bytes, hashed: bytes) -> bool:
            self.calls += 1
            return real(password, hashed)

        monkeypatch.setattr(basic.bcrypt, "checkpw", counted)


# -- the Authorization header ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b64("alice:wonderland"), ("alice", "wonderland")),
        (b64("alice:"), ("alice", "")),
        (b64("alice:pass:with:colons"), ("alice", "pass:with:colons")),
        (b64("ålice:pässword"), ("ålice", "pässword")),
        ("  " + b64("alice:x") + " ", ("alice", "x")),
    ],
)
def test_basic_credentials_decode(value: str, expected: tuple[str, str]) -> None:
    """user:password is split at the first colon; UTF-8 is allowed (RFC 7617 charset)."""
    assert basic_credentials(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        b64("no-colon-here"),
        base64.b64encode(b"\xff\xfe:x").decode(),
        "YWxpY2U6eA",  # missing padding
        "",
        "ä" + b64("alice:x"),
    ],
)
def test_malformed_basic_credentials_are_unauthorized(value: str) -> None:
    """Not base64, not UTF-8, or without a colon: a 401."""
    with pytest.raises(Unauthorized):
        basic_credentials(value)


def test_other_schemes_are_not_basic(plain_file: Path) -> None:
    """A bearer token is left to the bearer authenticator."""
    assert BasicAuthenticator(plain_file).authenticate(request("Bearer abc")) is None


def test_no_header_is_not_basic(plain_file: Path) -> None:
    """No Authorization header: nothing for basic auth to decide."""
    assert BasicAuthenticator(plain_file).authenticate(request(None)) is None


def test_basic_scheme_is_case_insensitive(plain_file: Path) -> None:
    """`basic` works like `Basic`."""
    user = BasicAuthenticator(plain_file).authenticate(request("basic " + b64("bob:builder")))
    assert user == UserInfo("bob", "2")


def test_malformed_header_is_unauthorized(plain_file: Path) -> None:
    """`Basic` with garbage is a presented, invalid credential."""
    with pytest.raises(Unauthorized):
        BasicAuthenticator(plain_file).authenticate(request("Basic %%%"))


def test_challenge_names_the_realm() -> None:
    """The 401 challenge is Basic with realm "kubegate" (and UTF-8, RFC 7617)."""
    assert CHALLENGE == ("www-authenticate", 'Basic realm="kubegate", charset="UTF-8"')


# -- the password file ------------------------------------------------------------------


def test_plain_password_authenticates(plain_file: Path) -> None:
    """The right plain password is the user, with uid and groups."""
    user = BasicAuthenticator(plain_file).authenticate(request("Basic " + b64("alice:wonderland")))
    assert user == ALICE


def test_bcrypt_password_authenticates(hashed_file: Path) -> None:
    """The right password for a bcrypt hash is the user."""
    user = BasicAuthenticator(hashed_file).authenticate(request("Basic " + b64("alice:wonderland")))
    assert user == ALICE


@pytest.mark.parametrize("fixture", ["plain_file", "hashed_file"])
def test_wrong_password_is_unauthorized(request_fixture, fixture: str) -> None:
    """A wrong password is a 401."""
    path = request_fixture(fixture)
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        BasicAuthenticator(path).authenticate(request("Basic " + b64("alice:looking-glass")))


def test_unknown_user_is_unauthorized_like_a_wrong_password(hashed_file: Path) -> None:
    """An unknown user gets exactly the wrong-password answer."""
    auth = BasicAuthenticator(hashed_file)
    with pytest.raises(Unauthorized) as unknown:
        auth.authenticate(request("Basic " + b64("mallory:wonderland")))
    with pytest.raises(Unauthorized) as wrong:
        auth.authenticate(request("Basic " + b64("alice:nope")))
    assert unknown.value.to_status() == wrong.value.to_status()


@pytest.mark.parametrize("fixture", ["plain_file", "hashed_file"])
@pytest.mark.parametrize("username", ["alice", "mallory"])
def test_every_failure_costs_one_hash(
    request_fixture, monkeypatch: pytest.MonkeyPatch, fixture: str, username: str
) -> None:
    """Unknown users and wrong passwords (plain or hashed) each cost one bcrypt check, so
    timing does not tell them apart."""
    passwords = parse_password_file(request_fixture(fixture))
    counter = CountingCheckpw(monkeypatch)
    assert passwords.check(username, "wrong") is None
    assert counter.calls == 1


def test_dummy_hash_uses_the_files_highest_cost(tmp_path: Path, monkeypatch) -> None:
    """The dummy check for unknown users is as expensive as the real hashes."""
    cost6 = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=6)).decode()
    passwords = parse_password_file(
        password_file(tmp_path, f"{ALICE_HASH},alice,1", f"{cost6},bob,2")
    )
    seen: list[bytes] = []
    monkeypatch.setattr(basic.bcrypt, "checkpw", lambda p, h: seen.append(h) or False)
    passwords.check("mallory", "x")
    assert seen[0].startswith(b"$2b$06$")


def test_verified_password_is_remembered(hashed_file: Path, monkeypatch) -> None:
    """A second request with the same right password skips the slow hash."""
    passwords = parse_password_file(hashed_file)
    assert passwords.check("alice", "wonderland", now=0.0) == ALICE
    counter = CountingCheckpw(monkeypatch)
    assert passwords.check("alice", "wonderland", now=1.0) == ALICE
    assert counter.calls == 0


def test_remembered_password_expires(hashed_file: Path, monkeypatch) -> None:
    """After VERIFIED_TTL the hash is checked again."""
    passwords = parse_password_file(hashed_file)
    passwords.check("alice", "wonderland", now=0.0)
    counter = CountingCheckpw(monkeypatch)
    passwords.check("alice", "wonderland", now=basic.VERIFIED_TTL + 1)
    assert counter.calls == 1


def test_remembered_password_does_not_admit_another_password(hashed_file: Path) -> None:
    """Remembering a success never lets a different password in."""
    passwords = parse_password_file(hashed_file)
    passwords.check("alice", "wonderland", now=0.0)
    assert passwords.check("alice", "wonderlan", now=1.0) is None


def test_overlong_password_is_a_plain_failure(hashed_file: Path) -> None:
    """bcrypt 5 refuses passwords over 72 bytes; that is a wrong password, not a 500."""
    assert parse_password_file(hashed_file).check("alice", "x" * 100) is None


def test_plain_passwords_are_not_kept_in_memory(plain_file: Path) -> None:
    """Plain passwords are held as SHA-256 digests only."""
    passwords = parse_password_file(plain_file)
    assert b"wonderland" not in repr(passwords._entries).encode()


def test_malformed_bcrypt_hash_is_a_startup_error(tmp_path: Path) -> None:
    """A password column that looks like bcrypt but is not one is refused, with its line."""
    path = password_file(tmp_path, "a,b,c", "$2b$12$tooshort,alice,1")
    with pytest.raises(AuthFileError, match="line 2: the bcrypt hash is malformed"):
        parse_password_file(path)


def test_argon2_hash_without_the_library_is_a_clear_error(tmp_path: Path) -> None:
    """An argon2 hash needs argon2-cffi; without it the message says so."""
    if importlib.util.find_spec("argon2") is not None:
        pytest.skip("argon2-cffi is installed here")
    path = password_file(tmp_path, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA,alice,1")
    with pytest.raises(AuthFileError, match="argon2-cffi"):
        parse_password_file(path)


def test_short_record_is_a_startup_error(tmp_path: Path) -> None:
    """Fewer than three columns is refused, naming the password file's columns."""
    path = password_file(tmp_path, "secret,alice")
    with pytest.raises(AuthFileError) as info:
        parse_password_file(path)
    assert "(password, user name, user uid)" in str(info.value)
    assert "secret" not in str(info.value)


# -- throttling (A34) --------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def attempt(auth: BasicAuthenticator, user: str, password: str, source: str) -> int:
    """The HTTP status this attempt would get."""
    try:
        auth.authenticate(request("Basic " + b64(f"{user}:{password}"), source))
    except TooManyRequests:
        return 429
    except Unauthorized:
        return 401
    return 200


def test_a_thousand_wrong_passwords_are_throttled(hashed_file: Path, monkeypatch) -> None:
    """1,000 wrong passwords for one user from one address: nearly all get 429, and the
    server hashes only the burst's worth."""
    auth = BasicAuthenticator(hashed_file, FailureThrottle(clock=Clock()))
    counter = CountingCheckpw(monkeypatch)
    statuses = [attempt(auth, "alice", f"guess{i}", "203.0.113.9") for i in range(1000)]
    assert statuses.count(401) == 10 and statuses.count(429) == 990
    assert counter.calls == 10


def test_throttled_answer_says_when_to_retry(hashed_file: Path) -> None:
    """The 429 carries Retry-After (seconds until the next attempt is allowed)."""
    auth = BasicAuthenticator(hashed_file, FailureThrottle(clock=Clock()))
    for i in range(10):
        attempt(auth, "alice", f"guess{i}", "203.0.113.9")
    with pytest.raises(TooManyRequests) as info:
        auth.authenticate(request("Basic " + b64("alice:guess"), "203.0.113.9"))
    assert info.value.retry_after == 6


def test_throttled_source_cannot_test_the_right_password(hashed_file: Path) -> None:
    """While throttled even the right password gets 429: no oracle."""
    auth = BasicAuthenticator(hashed_file, FailureThrottle(clock=Clock()))
    for i in range(10):
        attempt(auth, "alice", f"guess{i}", "203.0.113.9")
    assert attempt(auth, "alice", "wonderland", "203.0.113.9") == 429


def test_real_user_from_another_address_still_gets_in(hashed_file: Path) -> None:
    """An attacker's 1,000 failures do not lock the real user out from elsewhere."""
    auth = BasicAuthenticator(hashed_file, FailureThrottle(clock=Clock()))
    for i in range(1000):
        attempt(auth, "alice", f"guess{i}", "203.0.113.9")
    assert attempt(auth, "alice", "wonderland", "198.51.100.7") == 200


def test_unknown_and_known_users_are_throttled_alike(hashed_file: Path) -> None:
    """The sequence of statuses is the same for an unknown user and a wrong password."""
    auth = BasicAuthenticator(hashed_file, FailureThrottle(clock=Clock()))
    known = [attempt(auth, "alice", f"g{i}", "203.0.113.9") for i in range(15)]
    unknown = [attempt(auth, "mallory", f"g{i}", "203.0.113.10") for i in range(15)]
    assert known == unknown


def test_throttle_lifts_with_time(hashed_file: Path) -> None:
    """After the advertised wait the right password works again from that address."""
    clock = Clock()
    auth = BasicAuthenticator(hashed_file, FailureThrottle(clock=clock), clock=clock)
    for i in range(10):
        attempt(auth, "alice", f"guess{i}", "203.0.113.9")
    clock.now += 6
    assert attempt(auth, "alice", "wonderland", "203.0.113.9") == 200


@pytest.fixture
def request_fixture(request: pytest.FixtureRequest):
    """Look another fixture up by name (for parametrising over files)."""
    return request.getfixturevalue
