"""``--basic-auth-file``: HTTP basic authentication (kube's legacy CSV, hashes preferred).

Records are ``password,user,uid[,"group1,group2"]`` (kube's ``passwordfile``, keyed by user
name; a later duplicate wins). The password column is a bcrypt hash (``$2a$``/``$2b$``/``$2y$``),
an argon2 hash (``$argon2…``, needs the optional argon2-cffi package) or, as in kube, the plain
password. Plain passwords are kept only as SHA-256 digests and compared with
``hmac.compare_digest`` (security.md ATR-K8S-002).

What an attacker can learn is kept small (security.md §2.11, A34):

- an unknown user and a wrong password both answer 401 ``Unauthorized``, and both cost one
  hash verification: unknown users (and wrong plain passwords) are checked against a dummy
  hash made with the file's highest bcrypt cost, so timing does not tell them apart;
- failed attempts are throttled per (source, user) and per source (auth/throttle.py) with
  429 and Retry-After, checked before any hashing.

Hash verification is deliberately slow and runs on the event loop, so a verified password is
remembered (an HMAC of it under a per-process key, per user, for ``VERIFIED_TTL`` seconds):
browsers send the same credentials with every request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from kubegate.auth.throttle import FailureThrottle
from kubegate.auth.tokenfile import AuthFileError, ReloadingFile, csv_records, groups_column
from kubegate.auth.types import BROWSER_CREDENTIAL, UserInfo
from kubegate.errors import TooManyRequests, Unauthorized
from kubegate.http.types import Request

CHALLENGE = ("www-authenticate", 'Basic realm="kubegate", charset="UTF-8"')
VERIFIED_TTL = 300.0
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_ARGON2_PREFIX = "$argon2"
_DUMMY_MIN_COST = 4  # bcrypt's minimum; used when the file holds no bcrypt hash


@dataclass(frozen=True, slots=True)
class _Secret:
    scheme: str  # "plain" (a sha256 digest), "bcrypt" or "argon2"
    value: bytes

    def matches(self, candidate: bytes) -> bool:
        if self.scheme == "plain":
            return hmac.compare_digest(hashlib.sha256(candidate).digest(), self.value)
        if self.scheme == "bcrypt":
            try:
                return bcrypt.checkpw(candidate, self.value)
            except ValueError:  # bcrypt 5 refuses passwords over 72 bytes
                return False
        return _argon2_verify(self.value, candidate)


def _argon2_verify(encoded: bytes, candidate: bytes) -> bool:
    from argon2 import PasswordHasher  # presence checked when the file was parsed
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(PasswordHasher().verify(encoded.decode(), candidate))
    except (VerificationError, InvalidHashError):
        return False


def _secret(column: str, where: str) -> _Secret:
    if column.startswith(_BCRYPT_PREFIXES):
        if not _BCRYPT_HASH.fullmatch(column):
            raise AuthFileError(f"{where}: the bcrypt hash is malformed")
        return _Secret("bcrypt", column.encode())
    if column.startswith(_ARGON2_PREFIX):
        try:
            import argon2  # noqa: F401
        except ImportError:
            raise AuthFileError(
                f"{where}: an argon2 hash needs the argon2-cffi package, which is not "
                "installed (use a bcrypt hash instead)"
            ) from None
        return _Secret("argon2", column.encode())
    return _Secret("plain", hashlib.sha256(column.encode()).digest())


class Passwords:
    """One parse of a password file: user name -> (secret, user), plus the dummy secret."""

    def __init__(self, entries: dict[str, tuple[_Secret, UserInfo]], dummy: _Secret) -> None:
        self._entries = entries
        self._dummy = dummy
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, tuple[bytes, float]] = {}  # user -> (hmac, expires)

    def check(self, username: str, password: str, now: float | None = None) -> UserInfo | None:
        """The user if the password is theirs, else None (unknown and wrong look alike)."""
        now = time.monotonic() if now is None else now
        candidate = password.encode()
        entry = self._entries.get(username)
        if entry is None:
            self._dummy.matches(candidate)
            return None
        secret, user = entry
        mac = hmac.new(self._key, candidate, hashlib.sha256).digest()
        remembered = self._verified.get(username)
        if (
            remembered is not None
            and remembered[1] > now
            and hmac.compare_digest(remembered[0], mac)
        ):
            return user
        if secret.matches(candidate):
            self._verified[username] = (mac, now + VERIFIED_TTL)
            return user
        if secret.scheme == "plain":
            self._dummy.matches(candidate)  # every failure costs one hash
        return None

    def record(self, username: str) -> tuple[bytes, UserInfo] | None:
        """``username``'s entry without the password: the stored hash (for a plain password,
        the SHA-256 kept of it) and the user. Sessions fingerprint it to notice a removed user
        or a changed password (auth/session_credentials.py)."""
        entry = self._entries.get(username)
        if entry is None:
            return None
        secret, user = entry
        return secret.scheme.encode() + b":" + secret.value, user


def parse_password_file(path: Path) -> Passwords:
    entries: dict[str, tuple[_Secret, UserInfo]] = {}
    costs: list[int] = []
    for line, record in csv_records(path, "password file"):
        secret = _secret(record[0], f"password file '{path}' line {line}")
        if secret.scheme == "bcrypt":
            costs.append(int(secret.value[4:6]))
        name, uid = record[1], record[2]
        entries[name] = (secret, UserInfo(name, uid, groups_column(record)))
    cost = max(costs, default=_DUMMY_MIN_COST)
    dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost))
    return Passwords(entries, _Secret("bcrypt", dummy))


def basic_credentials(value: str) -> tuple[str, str]:
    """(user, password) of a Basic credential (the part after ``Basic``); Unauthorized if
    it is not base64 of UTF-8 ``user:password``."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise Unauthorized("Unauthorized") from None
    username, colon, password = text.partition(":")
    if not colon:
        raise Unauthorized("Unauthorized")
    return username, password


class BasicAuthenticator:
    def __init__(
        self,
        path: Path,
        throttle: FailureThrottle | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._file = ReloadingFile(path, parse_password_file, clock=clock)
        self._throttle = throttle or FailureThrottle(clock=clock)
        self._clock = clock

    def authenticate(self, request: Request) -> UserInfo | None:
        header = request.header("authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        username, password = basic_credentials(value)
        user = self.check_password(request.peer[0], username, password)
        if user is None:
            raise Unauthorized("Unauthorized")
        request.state[BROWSER_CREDENTIAL] = "basic"
        return user

    def passwords(self) -> Passwords:
        """The password file as currently loaded (re-read when it changes)."""
        return self._file.current()

    def check_password(self, source: str, username: str, password: str) -> UserInfo | None:
        """The user if the password is theirs, else None (counted as a failure for
        ``source``); raises TooManyRequests while ``source`` is throttled for ``username``.
        The login page checks passwords through here too, so both share one throttle."""
        wait = self._throttle.retry_after(source, username)
        if wait > 0:
            raise TooManyRequests(
                "too many failed login attempts, please try again later",
                retry_after=max(1, math.ceil(wait)),
            )
        user = self._file.current().check(username, password, self._clock())
        if user is None:
            self._throttle.failed(source, username)
            return None
        self._throttle.succeeded(source, username)
        return user
