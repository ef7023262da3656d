"""OIDC ID tokens: verification with a local JWKS file, kube's user-name rules, and key
discovery (with a fake fetcher, so no network)."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kubegate.auth import oidc
from kubegate.auth.oidc import OIDCAuthenticator, OIDCConfig, OIDCKeys, parse_jwks
from kubegate.auth.types import UserInfo
from kubegate.errors import Unauthorized

ISSUER = "https://issuer.example"
CLIENT = "kubegate"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: Any, kid: str) -> dict[str, Any]:
    algorithm = (
        jwt.algorithms.RSAAlgorithm
        if isinstance(key, rsa.RSAPublicKey)
        else jwt.algorithms.ECAlgorithm
    )
    data = json.loads(algorithm.to_jwk(key))
    data["kid"] = kid
    return data


JWKS = {"keys": [jwk(RSA_KEY.public_key(), "rsa1"), jwk(EC_KEY.public_key(), "ec1")]}


def id_token(
    claims: dict[str, Any] | None = None,
    *,
    key: Any = RSA_KEY,
    kid: str = "rsa1",
    alg: str = "RS256",
    drop: tuple[str, ...] = (),
) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "u-123", "iat": now, "exp": now + 600}
    body.update(claims or {})
    for name in drop:
        body.pop(name)
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def authenticator(tmp_path: Path, clock: Clock | None = None, **options: Any) -> OIDCAuthenticator:
    path = tmp_path / "jwks.json"
    if not path.exists():
        path.write_text(json.dumps(JWKS))
    config = OIDCConfig(ISSUER, CLIENT, jwks_file=path, **options)
    return OIDCAuthenticator(config, OIDCKeys(config, clock=clock or Clock()))


# -- accepted tokens and user names ------------------------------------------------------


def test_rs256_token_is_the_prefixed_subject(tmp_path: Path) -> None:
    """With the default sub claim the user is '<issuer>#<sub>' (kube's default prefix)."""
    assert authenticator(tmp_path).lookup(id_token()) == UserInfo(f"{ISSUER}#u-123")


def test_es256_token_is_accepted(tmp_path: Path) -> None:
    """ES256 tokens signed by the issuer's EC key verify."""
    token = id_token(key=EC_KEY, kid="ec1", alg="ES256")
    assert authenticator(tmp_path).lookup(token) == UserInfo(f"{ISSUER}#u-123")


def test_token_without_kid_tries_every_key(tmp_path: Path) -> None:
    """A token that names no key is checked against all keys of its algorithm."""
    token = jwt.encode(
        {"iss": ISSUER, "aud": CLIENT, "sub": "u", "exp": int(time.time()) + 60}, EC_KEY, "ES256"
    )
    assert authenticator(tmp_path).lookup(token) is not None


@pytest.mark.parametrize(
    ("options", "claims", "expected"),
    [
        ({"username_claim": "email"}, {"email": "a@x.io"}, "a@x.io"),
        ({"username_claim": "email"}, {"email": "a@x.io", "email_verified": True}, "a@x.io"),
        ({"username_prefix": "-"}, {}, "u-123"),
        ({"username_prefix": "oidc:"}, {}, "oidc:u-123"),
        (
            {"username_claim": "email", "username_prefix": "oidc:"},
            {"email": "a@x.io"},
            "oidc:a@x.io",
        ),
        ({"username_claim": "preferred_username"}, {"preferred_username": "al"}, f"{ISSUER}#al"),
    ],
)
def test_username_rules(tmp_path: Path, options: dict, claims: dict, expected: str) -> None:
    """kube's rules: email is unprefixed by default, '-' disables the prefix."""
    user = authenticator(tmp_path, **options).lookup(id_token(claims))
    assert user is not None and user.name == expected


def test_unverified_email_is_refused(tmp_path: Path) -> None:
    """With the email claim, email_verified: false is a 401."""
    auth = authenticator(tmp_path, username_claim="email")
    with pytest.raises(Unauthorized, match="email not verified"):
        auth.lookup(id_token({"email": "a@x.io", "email_verified": False}))


def test_missing_username_claim_is_refused(tmp_path: Path) -> None:
    """A token without the username claim is a 401."""
    with pytest.raises(Unauthorized, match="email"):
        authenticator(tmp_path, username_claim="email").lookup(id_token())


@pytest.mark.parametrize(
    ("claim", "expected"),
    [("devs", ("oidc:devs",)), (["a", "b"], ("oidc:a", "oidc:b")), ([], ())],
)
def test_groups_claim_is_prefixed(tmp_path: Path, claim: Any, expected: tuple) -> None:
    """The groups claim may be a string or a list; each group gets the prefix."""
    auth = authenticator(tmp_path, groups_claim="groups", groups_prefix="oidc:")
    user = auth.lookup(id_token({"groups": claim}))
    assert user is not None and user.groups == expected


def test_absent_groups_claim_means_no_groups(tmp_path: Path) -> None:
    """A token without the groups claim has no groups."""
    user = authenticator(tmp_path, groups_claim="groups").lookup(id_token())
    assert user is not None and user.groups == ()


def test_malformed_groups_claim_is_refused(tmp_path: Path) -> None:
    """A groups claim that is neither a string nor a list of strings is a 401."""
    with pytest.raises(Unauthorized, match="groups"):
        authenticator(tmp_path, groups_claim="groups").lookup(id_token({"groups": [1, 2]}))


# -- refused tokens ----------------------------------------------------------------------


def test_other_issuer_is_not_ours(tmp_path: Path) -> None:
    """A JWT from another issuer is left for other authenticators."""
    assert authenticator(tmp_path).lookup(id_token({"iss": "https://other.example"})) is None


def test_opaque_token_is_not_ours(tmp_path: Path) -> None:
    """A token that is not a JWT is not an ID token."""
    assert authenticator(tmp_path).lookup("opaque") is None


def test_wrong_audience_is_refused(tmp_path: Path) -> None:
    """An ID token for another client is a 401."""
    with pytest.raises(Unauthorized):
        authenticator(tmp_path).lookup(id_token({"aud": "someone-else"}))


def test_audience_list_containing_the_client_is_accepted(tmp_path: Path) -> None:
    """aud may be a list; it must contain the client id."""
    assert authenticator(tmp_path).lookup(id_token({"aud": ["x", CLIENT]})) is not None


def test_expired_token_is_refused(tmp_path: Path) -> None:
    """A token past exp is a 401."""
    with pytest.raises(Unauthorized, match="expired"):
        authenticator(tmp_path).lookup(id_token({"exp": int(time.time()) - 10}))


def test_token_without_exp_is_refused(tmp_path: Path) -> None:
    """An ID token must expire."""
    with pytest.raises(Unauthorized, match="exp"):
        authenticator(tmp_path).lookup(id_token(drop=("exp",)))


def test_not_yet_valid_token_is_refused(tmp_path: Path) -> None:
    """A token whose nbf is in the future is a 401."""
    with pytest.raises(Unauthorized):
        authenticator(tmp_path).lookup(id_token({"nbf": int(time.time()) + 600}))


def test_bad_signature_is_refused(tmp_path: Path) -> None:
    """A token signed by a stranger's key under a known kid is a 401."""
    with pytest.raises(Unauthorized, match="signature"):
        authenticator(tmp_path).lookup(id_token(key=OTHER_RSA))


def test_alg_none_is_refused(tmp_path: Path) -> None:
    """An unsigned token is a 401."""
    token = jwt.encode({"iss": ISSUER, "aud": CLIENT, "sub": "u"}, None, algorithm="none")
    with pytest.raises(Unauthorized, match="algorithm"):
        authenticator(tmp_path).lookup(token)


def test_hs256_is_refused(tmp_path: Path) -> None:
    """HMAC tokens are never accepted (no algorithm confusion)."""
    token = id_token(key="a-shared-secret-of-at-least-32-bytes!!", alg="HS256")
    with pytest.raises(Unauthorized, match="algorithm"):
        authenticator(tmp_path).lookup(token)


def test_unknown_kid_is_refused(tmp_path: Path) -> None:
    """A token naming a key the issuer does not publish is a 401."""
    with pytest.raises(Unauthorized, match="no known key"):
        authenticator(tmp_path).lookup(id_token(kid="rotated"))


def test_unknown_kid_rereads_the_jwks_file(tmp_path: Path) -> None:
    """After key rotation, a token with the new kid works once the file has it."""
    clock = Clock()
    auth = authenticator(tmp_path, clock)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk(OTHER_RSA.public_key(), "rsa2")]}))
    clock.now += 11
    assert auth.lookup(id_token(key=OTHER_RSA, kid="rsa2")) is not None


def test_unknown_kid_rereads_at_most_every_ten_seconds(tmp_path: Path) -> None:
    """A stream of unknown kids does not re-read the file on every request."""
    clock = Clock()
    auth = authenticator(tmp_path, clock)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk(OTHER_RSA.public_key(), "rsa2")]}))
    with pytest.raises(Unauthorized):
        auth.lookup(id_token(key=OTHER_RSA, kid="rsa2"))


# -- key sets ----------------------------------------------------------------------------


def test_symmetric_keys_are_ignored() -> None:
    """'oct' keys in a JWKS are never used to verify."""
    keys = parse_jwks(
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}, jwk(RSA_KEY.public_key(), "r")]}
    )
    assert list(keys) == ["r"]


@pytest.mark.parametrize(
    "document",
    [{}, {"keys": "x"}, {"keys": []}, {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, []],
)
def test_unusable_jwks_is_an_error(document: Any) -> None:
    """A JWKS without a usable RSA or EC key is refused."""
    with pytest.raises(ValueError):
        parse_jwks(document)


def test_broken_jwks_file_is_a_startup_error(tmp_path: Path) -> None:
    """--oidc-jwks-file that is not a JWKS stops the start with its name."""
    path = tmp_path / "jwks.json"
    path.write_text("not json")
    with pytest.raises(ValueError, match="--oidc-jwks-file"):
        OIDCKeys(OIDCConfig(ISSUER, CLIENT, jwks_file=path))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (OIDCConfig("http://issuer.example", CLIENT), "https"),
        (OIDCConfig(ISSUER, ""), "client-id"),
        (OIDCConfig(ISSUER, CLIENT, username_claim=""), "username-claim"),
    ],
)
def test_config_is_checked_like_kube(config: OIDCConfig, message: str) -> None:
    """An http issuer, a missing client id or an empty username claim are refused."""
    with pytest.raises(ValueError, match=message):
        config.validate()


# -- discovery ---------------------------------------------------------------------------


class FakeIssuer:
    """Answers the discovery document and the JWKS by URL."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.fetched: list[str] = []

    def __call__(self, url: str, context: Any) -> Any:
        self.fetched.append(url)
        document = self.documents[url]
        if isinstance(document, Exception):
            raise document
        return document


def discovery(jwks_uri: str = "https://issuer.example/keys", issuer: str = ISSUER) -> FakeIssuer:
    return FakeIssuer(
        {
            f"{ISSUER}/.well-known/openid-configuration": {"issuer": issuer, "jwks_uri": jwks_uri},
            "https://issuer.example/keys": JWKS,
        }
    )


async def test_discovery_finds_the_jwks() -> None:
    """Keys come from the discovery document's jwks_uri."""
    fake = discovery()
    keys = await OIDCKeys(OIDCConfig(ISSUER, CLIENT), fetch=fake).fetch_remote()
    assert set(keys) == {"rsa1", "ec1"}
    assert fake.fetched == [
        f"{ISSUER}/.well-known/openid-configuration",
        "https://issuer.example/keys",
    ]


async def test_discovery_with_another_issuer_is_refused() -> None:
    """A discovery document naming another issuer is not trusted (as go-oidc)."""
    keys = OIDCKeys(OIDCConfig(ISSUER, CLIENT), fetch=discovery(issuer="https://evil.example"))
    with pytest.raises(ValueError, match="issuer"):
        await keys.fetch_remote()


async def test_discovery_with_plain_http_jwks_is_refused() -> None:
    """Keys are only fetched over https."""
    keys = OIDCKeys(
        OIDCConfig(ISSUER, CLIENT), fetch=discovery(jwks_uri="http://issuer.example/keys")
    )
    with pytest.raises(ValueError, match="https"):
        await keys.fetch_remote()


async def test_background_fetch_makes_tokens_verifiable() -> None:
    """After start() fetched the keys, ID tokens verify."""
    config = OIDCConfig(ISSUER, CLIENT)
    keys = OIDCKeys(config, fetch=discovery())
    keys.start()
    try:
        for _ in range(200):
            if keys.find("rsa1", "RS256"):
                break
            await asyncio.sleep(0.01)
        assert OIDCAuthenticator(config, keys).lookup(id_token()) is not None
    finally:
        await keys.stop()


async def test_failed_fetch_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    """An unreachable issuer is a warning; tokens are refused until keys arrive."""
    fake = FakeIssuer({f"{ISSUER}/.well-known/openid-configuration": OSError("unreachable")})
    config = OIDCConfig(ISSUER, CLIENT)
    keys = OIDCKeys(config, fetch=fake)
    with caplog.at_level(logging.WARNING):
        keys.start()
        for _ in range(200):
            if "unreachable" in caplog.text:
                break
            await asyncio.sleep(0.01)
        await keys.stop()
    assert "fetching the OIDC signing keys failed: unreachable" in caplog.text
    with pytest.raises(Unauthorized):
        OIDCAuthenticator(config, keys).lookup(id_token())


# -- verification cache ------------------------------------------------------------------


def test_verified_id_token_skips_the_signature_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same ID token again is answered from the cache."""
    auth = authenticator(tmp_path)
    token = id_token()
    first = auth.lookup(token)
    monkeypatch.setattr(oidc.jwt, "decode", lambda *a, **k: pytest.fail("verified again"))
    assert auth.lookup(token) == first


def test_id_token_is_verified_again_after_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cached results last at most VERIFIED_TTL, so a withdrawn key stops working."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    clock = Clock()
    config = OIDCConfig(ISSUER, CLIENT, jwks_file=path)
    auth = OIDCAuthenticator(config, OIDCKeys(config), clock=clock)
    token = id_token()
    auth.lookup(token)
    clock.now += oidc.VERIFIED_TTL
    calls = []
    real = oidc.jwt.decode
    monkeypatch.setattr(oidc.jwt, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert auth.lookup(token) is not None
    assert calls


async def test_discovery_over_real_https(tmp_path: Path) -> None:
    """fetch_json reads the discovery document and JWKS from a local HTTPS issuer trusted
    through --oidc-ca-file."""
    import trustme
    from aiohttp import web

    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)

    async def discovery_doc(request: web.Request) -> web.Response:
        issuer = f"https://{request.host}"
        return web.json_response({"issuer": issuer, "jwks_uri": f"{issuer}/keys"})

    async def keys_doc(request: web.Request) -> web.Response:
        return web.json_response(JWKS)

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovery_doc)
    app.router.add_get("/keys", keys_doc)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    issuer = f"https://127.0.0.1:{port}"
    try:
        keys = OIDCKeys(OIDCConfig(issuer, CLIENT, ca_file=ca_file))
        assert set(await keys.fetch_remote()) == {"rsa1", "ec1"}
    finally:
        await runner.cleanup()
