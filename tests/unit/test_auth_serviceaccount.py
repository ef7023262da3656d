"""ServiceAccount tokens: what kubegate signs, and every reason it refuses one."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kubegate.auth import serviceaccount as sa
from kubegate.auth.pki import generate_private_key
from kubegate.errors import Unauthorized
from kubegate.store.base import object_key
from kubegate.store.memory import MemoryStore

ISSUER = "https://kubernetes.default.svc"
API = (ISSUER,)
KEY = sa.SigningKey(generate_private_key())
OTHER_KEY = sa.SigningKey(generate_private_key())
UID = "0b5e7c1d-0000-4000-8000-000000000001"


def account(namespace: str = "team", name: str = "robot", uid: str = UID, **meta: Any) -> dict:
    return {"metadata": {"namespace": namespace, "name": name, "uid": uid, **meta}}


class Accounts:
    def __init__(self, *objects: dict) -> None:
        self.objects = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects}

    def __call__(self, namespace: str, name: str) -> dict | None:
        return self.objects.get((namespace, name))


def issue(
    *,
    key: sa.SigningKey = KEY,
    issuer: str = ISSUER,
    audiences: tuple[str, ...] = API,
    expiration: int = 3600,
    now: float | None = None,
    uid: str = UID,
) -> str:
    clock = (lambda: now) if now is not None else time.time
    token, _ = sa.TokenIssuer(key, issuer, clock=clock).issue(
        "team", "robot", uid, audiences, expiration
    )
    return token


def verifier(*objects: dict) -> sa.ServiceAccountTokens:
    return sa.ServiceAccountTokens(KEY, ISSUER, Accounts(*(objects or (account(),))))


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# -- issuing -----------------------------------------------------------------------------


def test_token_carries_kubes_bound_claims() -> None:
    """iss, sub, aud, iat/nbf/exp and the kubernetes.io claim, as kube's bound tokens."""
    claims = claims_of(issue(now=1_700_000_000, expiration=3600))
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "system:serviceaccount:team:robot"
    assert claims["aud"] == [ISSUER]
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (
        1_700_000_000,
        1_700_000_000,
        1_700_003_600,
    )
    assert claims["kubernetes.io"] == {
        "namespace": "team",
        "serviceaccount": {"name": "robot", "uid": UID},
    }
    assert claims["jti"]


def test_token_is_es256_with_kubes_key_id() -> None:
    """The header names ES256 and kid = base64url(sha256(PKIX public key)), as kube."""
    header = jwt.get_unverified_header(issue())
    der = KEY.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert header["alg"] == "ES256"
    assert header["kid"] == expected


def test_signing_key_must_be_p256_or_rsa() -> None:
    """Other curves are refused with a message."""
    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="P-256 or RSA"):
        sa.SigningKey(pem)


# -- accepting ---------------------------------------------------------------------------


def test_valid_token_is_the_service_account() -> None:
    """User system:serviceaccount:NS:NAME with the account's UID and groups."""
    result = verifier().authenticate_token(issue(), API)
    assert result is not None
    assert result.user.name == "system:serviceaccount:team:robot"
    assert result.user.uid == UID
    assert result.user.groups == ("system:serviceaccounts", "system:serviceaccounts:team")
    assert result.audiences == API


def test_valid_token_carries_its_credential_id() -> None:
    """The jti becomes extra authentication.kubernetes.io/credential-id (kube 1.29+)."""
    token = issue()
    result = verifier().authenticate_token(token, API)
    assert result is not None
    assert result.user.extra == {sa.CREDENTIAL_ID: (f"JTI={claims_of(token)['jti']}",)}


def test_requested_audience_is_accepted_for_that_audience() -> None:
    """A token for "vault" is valid when "vault" is asked for (TokenReview)."""
    result = verifier().authenticate_token(issue(audiences=("vault",)), ("vault",))
    assert result is not None and result.audiences == ("vault",)


def test_expired_token_is_refused() -> None:
    """A token past its exp is a 401."""
    token = issue(now=time.time() - 7200, expiration=3600)
    with pytest.raises(Unauthorized, match="expired"):
        verifier().authenticate_token(token, API)


def test_not_yet_valid_token_is_refused() -> None:
    """A token whose nbf lies in the future is a 401."""
    token = issue(now=time.time() + 3600)
    with pytest.raises(Unauthorized):
        verifier().authenticate_token(token, API)


def test_wrong_audience_is_refused() -> None:
    """A token for another audience is a 401 on the API."""
    with pytest.raises(Unauthorized, match="audiences"):
        verifier().authenticate_token(issue(audiences=("vault",)), API)


def test_other_issuer_is_not_ours() -> None:
    """A JWT from another issuer is left to other authenticators (None, not 401)."""
    assert verifier().authenticate_token(issue(issuer="https://elsewhere"), API) is None


@pytest.mark.parametrize("token", ["opaque-token", "a.b.c", "", "eyJhbGciOiJFUzI1NiJ9.e30"])
def test_non_jwt_is_not_ours(token: str) -> None:
    """Something that is not a JWT is not a service-account token."""
    assert verifier().authenticate_token(token, API) is None


def test_signature_by_another_key_is_refused() -> None:
    """A token with our kid but another key's signature is a 401."""
    claims = claims_of(issue())
    forged = jwt.encode(claims, OTHER_KEY.private_key, "ES256", headers={"kid": KEY.key_id})
    with pytest.raises(Unauthorized):
        verifier().authenticate_token(forged, API)


def test_unknown_kid_is_refused() -> None:
    """A token signed by a key we do not have is a 401."""
    with pytest.raises(Unauthorized, match="unknown key"):
        verifier().authenticate_token(issue(key=OTHER_KEY), API)


def test_tampered_claims_are_refused() -> None:
    """Changing the payload breaks the signature."""
    token = issue()
    header, _, signature = token.split(".")
    claims = {**claims_of(token), "exp": claims_of(token)["exp"] + 86400}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthorized):
        verifier().authenticate_token(f"{header}.{payload}.{signature}", API)


def test_alg_none_is_refused() -> None:
    """An unsigned token claiming our issuer is a 401."""
    unsigned = jwt.encode(claims_of(issue()), None, algorithm="none")
    with pytest.raises(Unauthorized):
        verifier().authenticate_token(unsigned, API)


def test_hmac_with_the_public_key_is_refused() -> None:
    """Algorithm confusion (HS256 keyed with the public key) is a 401."""
    public_pem = KEY.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = _hs256(claims_of(issue()), public_pem, KEY.key_id)
    with pytest.raises(Unauthorized):
        verifier().authenticate_token(forged, API)


def _hs256(claims: dict, secret: bytes, kid: str) -> str:
    """Sign by hand: PyJWT itself refuses to HMAC with a PEM public key."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'kid': kid})}.{part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_deletion_revokes_a_token_already_used() -> None:
    """A token verified (and cached) before the account was deleted is refused after."""
    accounts = Accounts(account())
    tokens = sa.ServiceAccountTokens(KEY, ISSUER, accounts)
    token = issue()
    assert tokens.authenticate_token(token, API) is not None
    accounts.objects.clear()
    with pytest.raises(Unauthorized, match="deleted"):
        tokens.authenticate_token(token, API)


def test_cached_token_still_checks_the_audience() -> None:
    """A token accepted for "vault" is still refused for the API afterwards."""
    tokens = verifier()
    token = issue(audiences=("vault",))
    assert tokens.authenticate_token(token, ("vault",)) is not None
    with pytest.raises(Unauthorized, match="audiences"):
        tokens.authenticate_token(token, API)


def test_verified_signature_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second use of a token skips the signature check (it costs ~0.3 ms)."""
    tokens = verifier()
    token = issue()
    tokens.authenticate_token(token, API)
    monkeypatch.setattr(sa.jwt, "decode", lambda *a, **k: pytest.fail("verified again"))
    assert tokens.authenticate_token(token, API) is not None


def test_deleted_service_account_revokes_its_tokens() -> None:
    """A token of an account that no longer exists is a 401."""
    tokens = sa.ServiceAccountTokens(KEY, ISSUER, Accounts())
    with pytest.raises(Unauthorized, match="deleted"):
        tokens.authenticate_token(issue(), API)


def test_recreated_service_account_does_not_inherit_tokens() -> None:
    """An account re-created under the same name (another UID) does not accept old tokens."""
    tokens = verifier(account(uid="0b5e7c1d-0000-4000-8000-000000000002"))
    with pytest.raises(Unauthorized, match="UID"):
        tokens.authenticate_token(issue(), API)


def test_terminating_service_account_revokes_its_tokens() -> None:
    """An account being deleted (deletionTimestamp set) no longer authenticates."""
    tokens = verifier(account(deletionTimestamp="2024-01-01T00:00:00Z"))
    with pytest.raises(Unauthorized, match="deleted"):
        tokens.authenticate_token(issue(), API)


def test_subject_must_agree_with_the_private_claim() -> None:
    """A validly signed token whose sub names another account is refused."""
    claims = {**claims_of(issue()), "sub": "system:serviceaccount:team:admin"}
    token = jwt.encode(claims, KEY.private_key, "ES256", headers={"kid": KEY.key_id})
    with pytest.raises(Unauthorized, match="subject"):
        verifier().authenticate_token(token, API)


def test_missing_private_claim_is_refused() -> None:
    """A validly signed token without the kubernetes.io claim is refused."""
    claims = {k: v for k, v in claims_of(issue()).items() if k != "kubernetes.io"}
    token = jwt.encode(claims, KEY.private_key, "ES256", headers={"kid": KEY.key_id})
    with pytest.raises(Unauthorized, match=r"kubernetes\.io"):
        verifier().authenticate_token(token, API)


# -- user names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("system:serviceaccount:team:robot", ("team", "robot")),
        ("system:serviceaccount:team:robot.v2", ("team", "robot.v2")),
        ("system:serviceaccount:team", None),
        ("system:serviceaccount::robot", None),
        ("system:serviceaccount:Team:robot", None),
        ("system:serviceaccount:team:a:b", None),
        ("bob", None),
    ],
)
def test_split_username(name: str, expected: tuple[str, str] | None) -> None:
    """Only well-formed service-account user names split (kube's SplitUsername)."""
    assert sa.split_username(name) == expected


# -- the watch-fed cache -----------------------------------------------------------------


async def test_cache_follows_the_store() -> None:
    """Created accounts appear in the cache and deleted ones disappear."""
    store = MemoryStore()
    await store.start()
    key = object_key("serviceaccounts", "team", "robot")
    await store.create(key, account())
    cache = sa.ServiceAccountCache(store)
    cache.start()
    try:
        assert await cache.wait_synced()
        assert cache.get("team", "robot") is not None
        await store.delete(key)
        for _ in range(100):
            if cache.get("team", "robot") is None:
                break
            await asyncio.sleep(0.01)
        assert cache.get("team", "robot") is None
    finally:
        await cache.stop()
        await store.close()


def test_remember_makes_an_account_known_at_once() -> None:
    """An account read by TokenRequest is known before its watch event arrives."""
    cache = sa.ServiceAccountCache(MemoryStore())
    cache.remember(account(resourceVersion="5"))
    assert cache.get("team", "robot") is not None
