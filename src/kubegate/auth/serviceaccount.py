"""ServiceAccount tokens: kubegate signs them (TokenRequest) and accepts them (bearer auth).

Tokens are kube's bound service-account JWTs: signed with the data dir's ``sa.key`` (ES256
for the EC key kubegate generates, RS256 if an RSA key is put there), ``kid`` the key's
thumbprint as kube computes it (base64url of SHA-256 of the PKIX public key), and the claims
of ``pkg/serviceaccount/claims.go``::

    iss  --service-account-issuer          sub  system:serviceaccount:NS:NAME
    aud  requested audiences (default --api-audiences)
    iat, nbf, exp, jti
    kubernetes.io: {namespace: NS, serviceaccount: {name: NAME, uid: UID}}

A token is accepted only if its ``iss`` is ours (any other JWT is not ours: None, so OIDC may
try it), the signature, ``exp`` and ``nbf`` hold, its ``aud`` meets the asked audiences, and
the ServiceAccount still exists with the same UID — looked up in a watch-fed cache, so a
deleted (or deleted and re-created) account revokes its tokens within one watch event.
The user is ``system:serviceaccount:NS:NAME`` with the account's UID, groups
``system:serviceaccounts`` and ``system:serviceaccounts:NS``, and the token's ``jti`` as
extra ``authentication.kubernetes.io/credential-id`` (as kube 1.29+).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kubegate.auth.bearer import TokenResult, VerifiedTokens
from kubegate.auth.types import UserInfo
from kubegate.core.names import is_dns1123_label, is_dns1123_subdomain
from kubegate.errors import Unauthorized
from kubegate.store.base import Store, collection_prefix, object_key
from kubegate.store.informer import Informer, ObjectCache, wait_synced

DEFAULT_ISSUER = "https://kubernetes.default.svc"
USERNAME_PREFIX = "system:serviceaccount:"
ALL_GROUP = "system:serviceaccounts"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
_PRIVATE_CLAIM = "kubernetes.io"

JSON = dict[str, Any]
AccountLookup = Callable[[str, str], JSON | None]


def username(namespace: str, name: str) -> str:
    return f"{USERNAME_PREFIX}{namespace}:{name}"


def groups(namespace: str) -> tuple[str, str]:
    return ALL_GROUP, f"{ALL_GROUP}:{namespace}"


def split_username(name: str) -> tuple[str, str] | None:
    """(namespace, name) of a ``system:serviceaccount:NS:NAME`` user name, else None
    (kube's serviceaccount.SplitUsername: both parts must be valid object names)."""
    if not name.startswith(USERNAME_PREFIX):
        return None
    namespace, colon, account = name[len(USERNAME_PREFIX) :].partition(":")
    if not colon or is_dns1123_label(namespace) or is_dns1123_subdomain(account):
        return None
    return namespace, account


class SigningKey:
    """The private key tokens are signed with, its public half, algorithm and key id."""

    def __init__(self, pem: bytes) -> None:
        key = serialization.load_pem_private_key(pem, password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
            self.algorithm = "ES256"
        elif isinstance(key, rsa.RSAPrivateKey):
            self.algorithm = "RS256"
        else:
            raise ValueError("the service-account key must be an EC P-256 or RSA private key")
        self.private_key = key
        self.public_key = key.public_key()
        der = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()

    @classmethod
    def from_file(cls, path: Path) -> SigningKey:
        return cls(path.read_bytes())


class TokenIssuer:
    """Signs bound ServiceAccount tokens."""

    def __init__(
        self, key: SigningKey, issuer: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.key = key
        self.issuer = issuer
        self._clock = clock

    def issue(
        self,
        namespace: str,
        name: str,
        uid: str,
        audiences: Sequence[str],
        expiration_seconds: int,
    ) -> tuple[str, int]:
        """The signed token and its expiry (seconds since the epoch)."""
        now = int(self._clock())
        expires = now + expiration_seconds
        claims = {
            "iss": self.issuer,
            "sub": username(namespace, name),
            "aud": list(audiences),
            "iat": now,
            "nbf": now,
            "exp": expires,
            "jti": str(uuid.uuid4()),
            _PRIVATE_CLAIM: {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
        }
        token = jwt.encode(
            claims,
            self.key.private_key,
            algorithm=self.key.algorithm,
            headers={"kid": self.key.key_id},
        )
        return token, expires


class ServiceAccountTokens:
    """The TokenSource for our own ServiceAccount JWTs."""

    def __init__(
        self,
        key: SigningKey,
        issuer: str,
        accounts: AccountLookup,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._issuer = issuer
        self._accounts = accounts
        self._verified: VerifiedTokens[_Verified] = VerifiedTokens(clock=clock)

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        verified = self._verified.get(token)
        if verified is None:
            claims = self._verified_claims(token)
            if claims is None:
                return None
            verified = _Verified.from_claims(claims)
            self._verified.put(token, verified, claims["exp"])
        matched = tuple(a for a in verified.audiences if a in audiences)
        if not matched:
            raise Unauthorized(
                f"token audiences {list(verified.audiences)} is invalid for the target "
                f"audiences {list(audiences)}"
            )
        self._check_account(verified.namespace, verified.name, verified.user.uid)
        return TokenResult(verified.user, matched)

    def _verified_claims(self, token: str) -> JSON | None:
        """The claims of a token we signed that is valid now; None if it is not ours."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None  # not a JWT at all
        if unverified.get("iss") != self._issuer:
            return None  # someone else's JWT (OIDC may know it)
        if header.get("kid", self._key.key_id) != self._key.key_id:
            raise Unauthorized("service account token is signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                self._key.public_key,
                algorithms=[self._key.algorithm],
                issuer=self._issuer,
                options={"verify_aud": False, "require": ["exp", "iat", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("service account token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid service account token: {exc}") from None
        if not isinstance(claims.get("exp"), int | float):
            raise Unauthorized("invalid service account token: exp is not a number")
        return claims

    def _check_account(self, namespace: str, name: str, uid: str) -> None:
        account = self._accounts(namespace, name)
        meta = (account or {}).get("metadata") or {}
        if account is None or meta.get("deletionTimestamp"):
            raise Unauthorized(f"service account {namespace}/{name} has been deleted")
        if meta.get("uid") != uid:
            raise Unauthorized(
                f"service account UID ({meta.get('uid')}) does not match claim ({uid})"
            )


@dataclass(frozen=True, slots=True)
class _Verified:
    """What a token with a valid signature and lifetime says (cached until it expires)."""

    namespace: str
    name: str
    audiences: tuple[str, ...]
    user: UserInfo

    @classmethod
    def from_claims(cls, claims: JSON) -> _Verified:
        namespace, name, uid = _bound_account(claims)
        claimed = claims.get("aud")
        audiences = [claimed] if isinstance(claimed, str) else claimed
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise Unauthorized("service account token has no valid audience")
        jti = claims.get("jti")
        extra: dict[str, tuple[str, ...]] = {}
        if isinstance(jti, str) and jti:
            extra[CREDENTIAL_ID] = (f"JTI={jti}",)
        user = UserInfo(username(namespace, name), uid, groups(namespace), extra)
        return cls(namespace, name, tuple(audiences), user)


def _bound_account(claims: JSON) -> tuple[str, str, str]:
    """(namespace, name, uid) from the private claim; it must agree with ``sub``."""
    private = claims.get(_PRIVATE_CLAIM)
    account = private.get("serviceaccount") if isinstance(private, dict) else None
    if not isinstance(private, dict) or not isinstance(account, dict):
        raise Unauthorized("service account token lacks the kubernetes.io claim")
    namespace, name, uid = private.get("namespace"), account.get("name"), account.get("uid")
    if not all(isinstance(v, str) and v for v in (namespace, name, uid)):
        raise Unauthorized("service account token has an incomplete kubernetes.io claim")
    if claims.get("sub") != username(namespace, name):  # type: ignore[arg-type]
        raise Unauthorized("service account token subject does not match its kubernetes.io claim")
    return namespace, name, uid  # type: ignore[return-value]


class ServiceAccountCache:
    """ServiceAccounts mirrored from the store by an informer (list + watch)."""

    def __init__(self, store: Store) -> None:
        self._cache = ObjectCache()
        self._informer = Informer(
            store, collection_prefix("serviceaccounts"), self._cache, lambda *_: None
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._informer.run(), name="serviceaccount-cache")

    async def wait_synced(self, limit: float = 10.0) -> bool:
        return await wait_synced([self._informer], limit)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def get(self, namespace: str, name: str) -> JSON | None:
        return self._cache.get(object_key("serviceaccounts", namespace, name))

    def is_synced(self) -> bool:
        """Whether the first list has arrived (before it, every account looks missing)."""
        return self._informer.synced.is_set()

    def remember(self, account: JSON) -> None:
        """Adopt an object just read from the store (never moves the cache backwards), so
        a token issued for it works before the watch event arrives."""
        meta = account.get("metadata") or {}
        self._cache.upsert(
            object_key("serviceaccounts", meta.get("namespace", ""), meta.get("name", "")),
            account,
        )
