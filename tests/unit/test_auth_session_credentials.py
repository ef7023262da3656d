"""auth/session_credentials.py: what a session records of its credential at sign-in, and the
verdict on it after the password file, the token tables or the ServiceAccounts change."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from kubegate.auth.basic import BasicAuthenticator
from kubegate.auth.session_credentials import (
    CredentialChecks,
    SessionCredential,
    Verdict,
    fingerprint_key,
)
from kubegate.auth.tokenfile import TokenFile
from kubegate.auth.tokens import StaticTokens
from kubegate.auth.types import UserInfo

KEY = fingerprint_key(b"-----BEGIN PRIVATE KEY-----test-----END PRIVATE KEY-----")
PASSWORD = "pw-bob-7Hq!horizon"
TOKEN = "tok-carol-4a9f1c7e2b8d6a3f"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
SA_USER = UserInfo(
    "system:serviceaccount:team:builder",
    "uid-1",
    ("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"),
)


class Clock:
    """A monotonic clock the reloading files look at (they re-stat once a second)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Accounts:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.synced = True

    def put(self, namespace: str, name: str, uid: str, **meta: Any) -> None:
        self.objects[namespace, name] = {"metadata": {"name": name, "uid": uid, **meta}}

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((namespace, name))

    def is_synced(self) -> bool:
        return self.synced


def replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)  # a new inode: the reloading file sees the change


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


class World:
    """A password file, a token file, the admin token and ServiceAccounts, with their checks."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = Clock()
        self.passwords_path = tmp_path / "passwords.csv"
        self.tokens_path = tmp_path / "tokens.csv"
        self.bob_hash = hashed(PASSWORD)
        self.write_passwords(f'{self.bob_hash},bob,u-bob,"dev"\nplain-pw-Zx9,dan,u-dan\n')
        self.write_tokens(f"{TOKEN},carol,u-carol\n")
        self.basic = BasicAuthenticator(self.passwords_path, clock=self.clock)
        self.token_file = TokenFile(self.tokens_path, clock=self.clock)
        self.admin = StaticTokens()
        self.admin.add(ADMIN_TOKEN, UserInfo("kubegate-admin", groups=("system:masters",)))
        self.accounts = Accounts()
        self.accounts.put("team", "builder", "uid-1")
        self.checks = CredentialChecks(
            KEY,
            passwords=self.basic.passwords,
            tokens=[lambda: self.admin, self.token_file.table],
            accounts=self.accounts,
        )

    def write_passwords(self, text: str) -> None:
        replace_file(self.passwords_path, text)
        self.clock.now += 2  # past the re-stat interval

    def write_tokens(self, text: str) -> None:
        replace_file(self.tokens_path, text)
        self.clock.now += 2

    def bob(self) -> tuple[UserInfo, SessionCredential]:
        user = self.basic.check_password("127.0.0.1", "bob", PASSWORD)
        assert user is not None
        credential = self.checks.for_password("bob", user)
        assert credential is not None
        return user, credential

    def verdict(
        self,
        method: str,
        user: UserInfo,
        credential: SessionCredential | None,
        not_after: float = 0.0,
    ) -> Verdict:
        return self.checks.verdict(method, user, credential, not_after)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_password_session_holds_while_the_entry_is_unchanged(world: World) -> None:
    """A password session's record holds, also after another user is added to the file."""
    user, credential = world.bob()
    assert world.verdict("password", user, credential) is Verdict.HOLDS
    world.write_passwords(f'{world.bob_hash},bob,u-bob,"dev"\nother-Pw-1,erin,u-erin\n')
    assert world.verdict("password", user, credential) is Verdict.HOLDS


@pytest.mark.parametrize(
    "new_entry",
    [
        "",  # removed
        f'{hashed(PASSWORD)},bob,u-bob,"dev"\n',  # the same password, hashed again
        f'{hashed("another-pw")},bob,u-bob,"dev"\n',  # a new password
        '{hash},bob,u-bob,"dev,admins"\n',  # other groups
        '{hash},bob,u-other,"dev"\n',  # another uid
    ],
    ids=["removed", "rehashed", "new-password", "groups", "uid"],
)
def test_password_session_fails_when_the_entry_changes(world: World, new_entry: str) -> None:
    """Removing the user or changing their password hash, uid or groups fails the record."""
    user, credential = world.bob()
    world.write_passwords(new_entry.replace("{hash}", world.bob_hash))
    assert world.verdict("password", user, credential) is Verdict.FAILS


def test_password_record_holds_no_password_material(world: World) -> None:
    """The record is an HMAC: neither the password, its SHA-256, nor the stored hash."""
    _, credential = world.bob()
    stored = json.dumps(credential.to_json())
    for secret in (PASSWORD, world.bob_hash, hashlib.sha256(PASSWORD.encode()).hexdigest()):
        assert secret not in stored
    assert len(credential.fingerprint) == 64


def test_password_record_needs_the_entry_that_was_checked(world: World) -> None:
    """No record when the file was re-read between the password check and the record."""
    user = world.basic.check_password("127.0.0.1", "bob", PASSWORD)
    assert user is not None
    world.write_passwords(f'{hashed("another-pw")},bob,u-bob,"dev"\n')
    world.basic.passwords()  # the re-read
    assert world.checks.for_password("bob", user) is None


def test_plain_password_record_is_not_its_sha256(world: World) -> None:
    """A plain password in the file is fingerprinted by an HMAC, not its bare SHA-256."""
    user = world.basic.check_password("127.0.0.1", "dan", "plain-pw-Zx9")
    assert user is not None
    credential = world.checks.for_password("dan", user)
    assert credential is not None
    assert credential.fingerprint != hashlib.sha256(b"plain-pw-Zx9").hexdigest()
    assert world.verdict("password", user, credential) is Verdict.HOLDS


def test_token_file_session_fails_once_the_token_is_removed(world: World) -> None:
    """A token session holds while the token file has the token, and fails once it has not."""
    carol = UserInfo("carol", "u-carol")
    credential = world.checks.for_token(TOKEN, carol)
    assert credential is not None and credential.kind == "token"
    assert world.verdict("token", carol, credential) is Verdict.HOLDS
    world.write_tokens("tok-somebody-else-9d8c7b6a,dave,u-dave\n")
    assert world.verdict("token", carol, credential) is Verdict.FAILS


def test_token_session_fails_when_the_token_maps_to_other_groups(world: World) -> None:
    """The same token given to the user with other groups fails the record."""
    carol = UserInfo("carol", "u-carol")
    credential = world.checks.for_token(TOKEN, carol)
    world.write_tokens(f'{TOKEN},carol,u-carol,"system:masters"\n')
    assert world.verdict("token", carol, credential) is Verdict.FAILS


def test_token_record_is_neither_the_token_nor_its_sha256(world: World) -> None:
    """The stored fingerprint is not the token, nor its SHA-256 that the token table keys on."""
    credential = world.checks.for_token(TOKEN, UserInfo("carol", "u-carol"))
    assert credential is not None
    stored = json.dumps(credential.to_json())
    digest = hashlib.sha256(TOKEN.encode())
    assert TOKEN not in stored and digest.hexdigest() not in stored
    assert digest.digest() not in stored.encode()


def test_admin_token_session_holds(world: World) -> None:
    """The admin token is a static token like the file's."""
    admin = UserInfo("kubegate-admin", groups=("system:masters",))
    credential = world.checks.for_token(ADMIN_TOKEN, admin)
    assert credential is not None
    assert world.verdict("token", admin, credential) is Verdict.HOLDS


def test_service_account_session_follows_the_account(world: World) -> None:
    """Holds while the account exists with its UID; fails once deleted, being deleted or
    re-created (another UID)."""
    credential = world.checks.for_token("a.jwt.token", SA_USER)
    assert credential == SessionCredential(
        "serviceaccount", namespace="team", name="builder", uid="uid-1"
    )
    assert world.verdict("token", SA_USER, credential) is Verdict.HOLDS
    world.accounts.put("team", "builder", "uid-1", deletionTimestamp="2024-01-01T00:00:00Z")
    assert world.verdict("token", SA_USER, credential) is Verdict.FAILS
    world.accounts.put("team", "builder", "uid-2")
    assert world.verdict("token", SA_USER, credential) is Verdict.FAILS
    del world.accounts.objects["team", "builder"]
    assert world.verdict("token", SA_USER, credential) is Verdict.FAILS


def test_service_account_check_is_unsure_before_the_cache_syncs(world: World) -> None:
    """Before the first list an account looks missing: unsure, not failed."""
    credential = world.checks.for_token("a.jwt.token", SA_USER)
    world.accounts.synced = False
    assert world.verdict("token", SA_USER, credential) is Verdict.UNSURE


def test_oidc_token_records_nothing(world: World) -> None:
    """A token that is neither static nor a ServiceAccount's gets no record (its expiry rules)."""
    oidc = UserInfo("https://issuer.example#someone", "")
    assert world.checks.for_token("an.oidc.jwt", oidc) is None
    assert world.verdict("token", oidc, None, not_after=2e9) is Verdict.HOLDS


def test_unknown_record_kind_fails(world: World) -> None:
    """A record of a kind this version does not know is never taken to hold."""
    user = UserInfo("bob", "u-bob")
    assert world.verdict("password", user, SessionCredential("webauthn")) is Verdict.FAILS


def test_sessions_without_a_record_are_checked_by_identity(world: World) -> None:
    """Sessions stored before the record existed hold while their user, static token user or
    ServiceAccount does, and fail once it is gone."""
    bob = UserInfo("bob", "u-bob", ("dev", "system:authenticated"))
    carol = UserInfo("carol", "u-carol", ("system:authenticated",))
    assert world.verdict("password", bob, None) is Verdict.HOLDS
    assert world.verdict("token", carol, None) is Verdict.HOLDS
    assert world.verdict("token", SA_USER, None, not_after=2e9) is Verdict.HOLDS
    world.write_passwords("other-Pw-1,erin,u-erin\n")
    world.write_tokens("tok-somebody-else-9d8c7b6a,dave,u-dave\n")
    world.accounts.put("team", "builder", "uid-2")
    assert world.verdict("password", bob, None) is Verdict.FAILS
    assert world.verdict("token", carol, None) is Verdict.FAILS
    assert world.verdict("token", SA_USER, None, not_after=2e9) is Verdict.FAILS


def test_oidc_and_app_sessions_have_nothing_to_check(world: World) -> None:
    """The OIDC code flow and app-origin sessions hold here (expiry and parents rule them)."""
    user = UserInfo("someone", "")
    assert world.verdict("oidc", user, None) is Verdict.HOLDS
    assert world.verdict("apps", user, None) is Verdict.HOLDS


def test_record_round_trips_through_json() -> None:
    """to_json leaves out empty fields and from_json reads it back."""
    credential = SessionCredential("serviceaccount", namespace="ns", name="sa", uid="u")
    data = credential.to_json()
    assert data == {"kind": "serviceaccount", "namespace": "ns", "name": "sa", "uid": "u"}
    assert SessionCredential.from_json(json.loads(json.dumps(data))) == credential


@pytest.mark.parametrize("data", [None, "token", {}, {"kind": 1}, {"kind": "token", "uid": 3}])
def test_malformed_record_is_refused(data: object) -> None:
    """Anything but an object of strings with a kind raises TypeError."""
    with pytest.raises(TypeError):
        SessionCredential.from_json(data)


def test_fingerprints_depend_on_the_key(tmp_path: Path) -> None:
    """Two data dirs (two keys) fingerprint the same token differently."""
    tokens = StaticTokens()
    carol = UserInfo("carol", "u-carol")
    tokens.add(TOKEN, carol)
    records = {
        CredentialChecks(fingerprint_key(secret), tokens=[lambda: tokens]).for_token(TOKEN, carol)
        for secret in (b"one", b"two")
    }
    assert len(records) == 2
