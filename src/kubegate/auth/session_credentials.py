"""What a browser session was signed in with, and whether that credential still holds.

Kube checks a credential on every request: a user removed from ``--basic-auth-file``, a
token removed from ``--token-auth-file``, a deleted ServiceAccount stop working at once. A
session must not outlive its credential either, so at sign-in it records enough to check the
credential again — never the credential, nor anything that could be replayed as one:

- **password** (``--basic-auth-file``): the user name and a fingerprint of the user's entry:
  the stored password hash (for a plain password, the SHA-256 the authenticator keeps of
  it), uid and groups. A removed user, a changed password, uid or groups: no match.
- **token** (the admin token, ``--token-auth-file``): a fingerprint of the token's SHA-256
  and the user the token maps to. A removed token, or one now mapped to someone else or
  other groups: no match.
- **serviceaccount**: namespace, name and UID of the account (from the verified token's
  user), checked against the watch-fed ServiceAccount cache that bearer tokens use: deleted,
  being deleted, or re-created under the same name (a new UID) ends the session.
- OIDC ID tokens (pasted, or the code flow) record nothing: the session ends at the token's
  ``exp`` (``not_after``) or by kubegate's limits. Without refresh tokens, which kubegate does
  not keep, there is nobody to ask whether the user still exists.

A fingerprint is an HMAC-SHA256 under a key derived from the data dir's ``sa.key`` (which
every replica on one store must share already, so the fingerprints agree): a copy of the
store alone cannot be used to test guesses of a password or token, and holds no digest a
token table keys on. Rotating ``sa.key`` therefore ends password and token sessions too.

Checking runs on every session lookup, so it is dict lookups only: the fingerprints of a
password file or of the token tables are computed once per loaded generation of the file
(lazily, on the first check that needs them), and the ServiceAccount check is a cache get.

Sessions stored before the record existed (no ``credential``) are checked by identity:
a password session while its user name is in the file with the same uid and groups; a
token session while a static token maps to the same user (or, for a ServiceAccount user,
while the account with that UID exists; for a JWT with an expiry that is not a
ServiceAccount's, until that expiry, as before). A changed password does not end such a
session — nothing was recorded to tell — but a removed user, token or account does.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubegate.auth.basic import Passwords
from kubegate.auth.serviceaccount import split_username
from kubegate.auth.tokens import StaticTokens, token_digest
from kubegate.auth.types import AUTHENTICATED_GROUP, UserInfo

PASSWORD = "password"
TOKEN = "token"
SERVICE_ACCOUNT = "serviceaccount"
_FINGERPRINT_LABEL = b"kubegate.io/session-credential-fingerprint/v1"

_Identity = tuple[str, str, tuple[str, ...]]


def fingerprint_key(secret: bytes) -> bytes:
    """The fingerprint key derived from a data-dir secret (the ``sa.key`` PEM): an HMAC
    with a label of its own, so the key is used for nothing else."""
    return hmac.new(_FINGERPRINT_LABEL, secret, hashlib.sha256).digest()


class Verdict(enum.Enum):
    HOLDS = "holds"
    FAILS = "fails"  # the credential is gone or changed: refuse, and end the session
    UNSURE = "unsure"  # cannot tell yet (the ServiceAccount cache is not synced): refuse only


@dataclass(frozen=True, slots=True)
class SessionCredential:
    """The record kept with a session (see the module docstring); one shape per ``kind``."""

    kind: str  # PASSWORD, TOKEN or SERVICE_ACCOUNT
    fingerprint: str = ""  # PASSWORD, TOKEN: hex HMAC of the entry
    user: str = ""  # PASSWORD: the user name in the file
    namespace: str = ""  # SERVICE_ACCOUNT
    name: str = ""
    uid: str = ""

    def to_json(self) -> dict[str, str]:
        fields = {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "user": self.user,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
        }
        return {key: value for key, value in fields.items() if value}

    @classmethod
    def from_json(cls, data: Any) -> SessionCredential:
        """Raises (TypeError, ValueError) for anything that is not a record."""
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise TypeError("a session credential is an object with a kind")
        values = {
            key: data.get(key, "") for key in ("fingerprint", "user", "namespace", "name", "uid")
        }
        if not all(isinstance(value, str) for value in values.values()):
            raise TypeError("session credential fields are strings")
        return cls(data["kind"], **values)


class Accounts(Protocol):
    """The part of auth.serviceaccount.ServiceAccountCache used here."""

    def get(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def is_synced(self) -> bool: ...


def _identity(user: UserInfo) -> _Identity:
    """Who a user is for these checks (``system:authenticated`` is added to every user)."""
    return user.name, user.uid, tuple(sorted(g for g in user.groups if g != AUTHENTICATED_GROUP))


@dataclass(slots=True)
class _TokenGeneration:
    tables: tuple[StaticTokens, ...]
    fingerprints: frozenset[str]
    identities: frozenset[_Identity]


class CredentialChecks:
    """Records credentials at sign-in and checks them on every session lookup."""

    def __init__(
        self,
        key: bytes,
        *,
        passwords: Callable[[], Passwords] | None = None,
        tokens: Sequence[Callable[[], StaticTokens]] = (),
        accounts: Accounts | None = None,
    ) -> None:
        self._key = key
        self._passwords = passwords
        self._tokens = tuple(tokens)
        self._accounts = accounts
        # The password table the memo belongs to, and user name -> fingerprint ("": none).
        self._password_memo: tuple[Passwords | None, dict[str, str]] = (None, {})
        self._token_memo = _TokenGeneration((), frozenset(), frozenset())

    # -- sign-in ------------------------------------------------------------------------------

    def for_password(self, username: str, user: UserInfo) -> SessionCredential | None:
        """The record of a password sign-in that ``user`` (as the password check returned
        it) passed; None if the file was re-read in between (the caller fails the sign-in:
        the fingerprint must be of the entry the password was checked against)."""
        if self._passwords is None:
            return None
        record = self._passwords().record(username)
        if record is None or record[1] is not user:
            return None
        return SessionCredential(PASSWORD, self._fingerprint(PASSWORD, *record), user=username)

    def for_token(self, token: str, user: UserInfo) -> SessionCredential | None:
        """The record of a token sign-in (``user``: as the bearer sources accepted it); None
        for a token that is neither static nor a ServiceAccount's (an OIDC ID token: the
        caller relies on its expiry, or fails the sign-in if it has none)."""
        for table in self._tokens:
            owner = table().authenticate(token)
            if owner is not None:
                return SessionCredential(
                    TOKEN, self._fingerprint(TOKEN, token_digest(token), owner)
                )
        account = split_username(user.name)
        if account is not None and user.uid:
            return SessionCredential(
                SERVICE_ACCOUNT, namespace=account[0], name=account[1], uid=user.uid
            )
        return None

    # -- every lookup -------------------------------------------------------------------------

    def verdict(
        self, method: str, user: UserInfo, credential: SessionCredential | None, not_after: float
    ) -> Verdict:
        """Whether the credential a session was made from still holds."""
        if credential is not None:
            kind = credential.kind
            if kind == PASSWORD:
                expected = self._password_fingerprint(credential.user)
                return _holds(
                    bool(expected) and hmac.compare_digest(expected, credential.fingerprint)
                )
            if kind == TOKEN:
                return _holds(credential.fingerprint in self._token_generation().fingerprints)
            if kind == SERVICE_ACCOUNT:
                return self._account(credential.namespace, credential.name, credential.uid)
            return Verdict.FAILS  # a kind this version does not know: never assume it holds
        if method == PASSWORD:
            return self._legacy_password(user)
        if method == TOKEN:
            account = split_username(user.name)
            if account is not None:
                return self._account(account[0], account[1], user.uid)
            if not_after > 0:
                return Verdict.HOLDS  # an OIDC ID token: it ends at its expiry
            return _holds(_identity(user) in self._token_generation().identities)
        return Verdict.HOLDS  # the OIDC code flow; app sessions live within their parent

    def _fingerprint(self, kind: str, secret: bytes, user: UserInfo) -> str:
        name, uid, groups = _identity(user)
        material = json.dumps([kind, secret.hex(), name, uid, list(groups)]).encode()
        return hmac.new(self._key, material, hashlib.sha256).hexdigest()

    def _password_fingerprint(self, username: str) -> str:
        if self._passwords is None:
            return ""
        table = self._passwords()
        memo_table, memo = self._password_memo
        if memo_table is not table:
            memo = {}
            self._password_memo = (table, memo)
        fingerprint = memo.get(username)
        if fingerprint is None:
            record = table.record(username)
            fingerprint = "" if record is None else self._fingerprint(PASSWORD, *record)
            if len(memo) >= 4096:  # bounded: user names come from sessions, not requests
                memo.clear()
            memo[username] = fingerprint
        return fingerprint

    def _legacy_password(self, user: UserInfo) -> Verdict:
        record = None if self._passwords is None else self._passwords().record(user.name)
        return _holds(record is not None and _identity(record[1]) == _identity(user))

    def _token_generation(self) -> _TokenGeneration:
        tables = tuple(source() for source in self._tokens)
        memo = self._token_memo
        if len(memo.tables) == len(tables) and all(
            a is b for a, b in zip(memo.tables, tables, strict=True)
        ):
            return memo
        fingerprints, identities = set(), set()
        for table in tables:
            for digest, owner in table.entries():
                fingerprints.add(self._fingerprint(TOKEN, digest, owner))
                identities.add(_identity(owner))
        self._token_memo = _TokenGeneration(tables, frozenset(fingerprints), frozenset(identities))
        return self._token_memo

    def _account(self, namespace: str, name: str, uid: str) -> Verdict:
        accounts = self._accounts
        if accounts is None:
            return Verdict.FAILS
        if not accounts.is_synced():
            return Verdict.UNSURE
        account = accounts.get(namespace, name)
        meta = (account or {}).get("metadata") or {}
        return _holds(
            account is not None and not meta.get("deletionTimestamp") and meta.get("uid") == uid
        )


def _holds(condition: bool) -> Verdict:
    return Verdict.HOLDS if condition else Verdict.FAILS
