"""OIDC ID tokens as bearer tokens (kube's ``--oidc-*`` flags), verified with PyJWT.

A JWT whose unverified ``iss`` is not ``--oidc-issuer-url`` is not ours (None: another
source may know it). Ours must be signed (RS256 or ES256 only — never ``none`` or an HMAC
algorithm, and only with an RSA or EC key of the issuer's key set) by a key of the issuer,
carry ``aud`` = ``--oidc-client-id`` (among others), and be within ``exp``/``nbf``.

User names follow kube: the ``--oidc-username-claim`` (default ``sub``) value, prefixed with
``--oidc-username-prefix``; when no prefix is given, every claim but ``email`` is prefixed
with ``<issuer-url>#`` (k/k #31380), and ``-`` means no prefix. With the ``email`` claim an
``email_verified`` claim, if present, must be true. Groups come from
``--oidc-groups-claim`` (a string or a list of strings) with ``--oidc-groups-prefix``.

Keys come from ``--oidc-jwks-file`` (re-read, at most every 10 s, when a token names an
unknown ``kid``), else from the issuer's discovery document
(``<issuer>/.well-known/openid-configuration`` → ``jwks_uri``), fetched by a background task
at startup and again on an unknown ``kid``, with a timeout; failures are logged, never fatal.
A token whose key is not known yet is a 401; the client's retry finds the refreshed keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt import PyJWK, PyJWKSet

from kubegate.auth.bearer import VerifiedTokens
from kubegate.auth.types import UserInfo
from kubegate.errors import Unauthorized

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
FETCH_TIMEOUT = 10.0
MAX_DOCUMENT_BYTES = 1 << 20
REFRESH_INTERVAL = 10.0  # at most one unknown-kid refresh per this many seconds
VERIFIED_TTL = 60.0  # how long a verified ID token skips the signature check
_KEY_TYPES: dict[str, type] = {"RS256": rsa.RSAPublicKey, "ES256": ec.EllipticCurvePublicKey}

FetchJSON = Callable[[str, "ssl.SSLContext | None"], Any]


@dataclass(frozen=True, slots=True)
class OIDCConfig:
    issuer_url: str
    client_id: str
    username_claim: str = "sub"
    username_prefix: str = ""  # "": kube's default rule; "-": none
    groups_claim: str = ""
    groups_prefix: str = ""
    jwks_file: Path | None = None
    ca_file: Path | None = None
    # The browser login's authorization-code flow (auth/oidc_flow.py); not kube's flags.
    client_secret_file: Path | None = None  # None: a public client (PKCE alone)
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    redirect_url: str = ""  # "": https://<the Host the browser used>/oauth2/callback

    def validate(self) -> None:
        """Kube's flag checks; raises ValueError."""
        if not self.issuer_url.startswith("https://"):
            raise ValueError(f"--oidc-issuer-url ({self.issuer_url!r}) must be an https URL")
        if not self.client_id:
            raise ValueError("--oidc-client-id is required with --oidc-issuer-url")
        if not self.username_claim:
            raise ValueError("--oidc-username-claim must not be empty")
        if "openid" not in self.scopes:
            raise ValueError("--oidc-scopes must include openid")
        if self.redirect_url and not self.redirect_url.startswith("https://"):
            raise ValueError(f"--oidc-redirect-url ({self.redirect_url!r}) must be an https URL")

    @property
    def effective_username_prefix(self) -> str:
        if self.username_prefix == "-":
            return ""
        if not self.username_prefix and self.username_claim != "email":
            return self.issuer_url + "#"
        return self.username_prefix


def parse_jwks(document: Any) -> dict[str, list[PyJWK]]:
    """kid -> signing keys (RSA and EC only; "" for keys without a kid)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS document is an object with a 'keys' list")
    try:
        keys = PyJWKSet(document["keys"]).keys
    except jwt.PyJWTError as exc:
        raise ValueError(f"no usable key in the JWKS document: {exc}") from None
    found: dict[str, list[PyJWK]] = {}
    for key in keys:
        if key.public_key_use not in (None, "sig"):
            continue
        if not isinstance(key.key, tuple(_KEY_TYPES.values())):
            continue  # symmetric ("oct") keys would allow algorithm confusion
        found.setdefault(key.key_id or "", []).append(key)
    if not found:
        raise ValueError("no RSA or EC signing key in the JWKS document")
    return found


def fetch_json(url: str, context: ssl.SSLContext | None) -> Any:
    """GET a JSON document (blocking; run it in a thread), with a timeout and a size cap."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT, context=context) as response:
        body = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
    return json.loads(body)


class OIDCKeys:
    """The issuer's current signing keys and the means to refresh them."""

    def __init__(
        self,
        config: OIDCConfig,
        *,
        fetch: FetchJSON = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, list[PyJWK]] = {}
        self._last_refresh = -REFRESH_INTERVAL
        self._last_forced = -REFRESH_INTERVAL
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        if config.jwks_file is not None:
            self._keys = self._read_file()  # a broken file is a startup error
            self._last_refresh = clock()

    def find(self, kid: str | None, algorithm: str) -> list[PyJWK]:
        """Keys that may have signed a token with this header (all keys without a kid)."""
        wanted = _KEY_TYPES[algorithm]
        pool = self._keys.get(kid, []) if kid else [k for ks in self._keys.values() for k in ks]
        return [k for k in pool if isinstance(k.key, wanted) and _curve_ok(k.key, algorithm)]

    def request_refresh(self) -> bool:
        """A token named a key we do not know: look again (rate-limited). True if the keys
        were re-read at once (a JWKS file); a remote refresh happens in the background."""
        now = self._clock()
        if now - self._last_refresh < REFRESH_INTERVAL:
            return False
        self._last_refresh = now
        if self.config.jwks_file is None:
            self._wanted.set()
            return False
        try:
            self._keys = self._read_file()
        except ValueError as exc:
            log.warning("%s; keeping the previous keys", exc)
            return False
        return True

    def _read_file(self) -> dict[str, list[PyJWK]]:
        path = self.config.jwks_file
        assert path is not None
        try:
            return parse_jwks(json.loads(path.read_bytes()))
        except (OSError, ValueError) as exc:
            raise ValueError(f"--oidc-jwks-file '{path}': {exc}") from None

    def start(self) -> None:
        """Fetch the remote keys in the background (nothing to do with a JWKS file)."""
        if self.config.jwks_file is None:
            self._wanted.set()
            self._task = asyncio.create_task(self._run(), name="oidc-jwks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                async with asyncio.timeout(2 * FETCH_TIMEOUT + 1):
                    self._keys = await self.fetch_remote()
                log.info("fetched %d OIDC signing keys", sum(map(len, self._keys.values())))
            except Exception as exc:  # a flaky issuer must not take the server down
                log.warning("fetching the OIDC signing keys failed: %s", exc)

    async def refresh_now(self) -> None:
        """Fetch the keys at once (the login flow, which cannot ask the client to retry);
        rate-limited like an unknown kid. Raises what fetching raises."""
        now = self._clock()
        if now - self._last_forced < REFRESH_INTERVAL:
            return
        self._last_forced = self._last_refresh = now
        if self.config.jwks_file is not None:
            self._keys = self._read_file()
            return
        async with asyncio.timeout(2 * FETCH_TIMEOUT + 1):
            self._keys = await self.fetch_remote()

    async def fetch_remote(self) -> dict[str, list[PyJWK]]:
        issuer = self.config.issuer_url
        context = ssl.create_default_context(
            cafile=str(self.config.ca_file) if self.config.ca_file else None
        )
        discovery = await asyncio.to_thread(
            self._fetch, issuer.rstrip("/") + DISCOVERY_PATH, context
        )
        if not isinstance(discovery, dict) or discovery.get("issuer") != issuer:
            raise ValueError(f"the discovery document does not name {issuer!r} as its issuer")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise ValueError("the discovery document has no https jwks_uri")
        return parse_jwks(await asyncio.to_thread(self._fetch, jwks_uri, context))


def _curve_ok(key: Any, algorithm: str) -> bool:
    return algorithm != "ES256" or key.curve.name == "secp256r1"


class OIDCAuthenticator:
    """Token lookups for ID tokens of one issuer (audience-agnostic, as in kube)."""

    def __init__(
        self, config: OIDCConfig, keys: OIDCKeys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.keys = keys
        self._clock = clock
        self._verified: VerifiedTokens[UserInfo] = VerifiedTokens(clock=clock)

    def lookup(self, token: str) -> UserInfo | None:
        user = self._verified.get(token)
        if user is None:
            user = self._verify(token)
        return user

    def _verify(self, token: str) -> UserInfo | None:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        if unverified.get("iss") != self.config.issuer_url:
            return None
        claims = self._verified_claims(token, header)
        user = UserInfo(self._username(claims), groups=self._groups(claims))
        # Kept until exp, but at most VERIFIED_TTL: a key the issuer withdraws stops working.
        self._verified.put(token, user, min(float(claims["exp"]), self._clock() + VERIFIED_TTL))
        return user

    def _verified_claims(self, token: str, header: dict[str, Any]) -> dict[str, Any]:
        algorithm = header.get("alg")
        if algorithm not in _KEY_TYPES:
            raise Unauthorized(f"oidc: token signed with unsupported algorithm {algorithm!r}")
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) else None
        candidates = self.keys.find(kid, algorithm)
        if not candidates and self.keys.request_refresh():
            candidates = self.keys.find(kid, algorithm)
        if not candidates:
            raise Unauthorized("oidc: no known key matches the token")
        for key in candidates:
            try:
                return jwt.decode(
                    token,
                    key.key,
                    algorithms=[algorithm],
                    audience=self.config.client_id,
                    issuer=self.config.issuer_url,
                    options={"require": ["exp"]},
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError:
                raise Unauthorized("oidc: token is expired") from None
            except jwt.PyJWTError as exc:
                raise Unauthorized(f"oidc: {exc}") from None
        raise Unauthorized("oidc: signature does not verify")

    def _username(self, claims: dict[str, Any]) -> str:
        claim = self.config.username_claim
        value = claims.get(claim)
        if not isinstance(value, str) or not value:
            raise Unauthorized(f"oidc: claim {claim!r} is missing or not a string")
        if claim == "email" and "email_verified" in claims and claims["email_verified"] is not True:
            raise Unauthorized("oidc: email not verified")
        return self.config.effective_username_prefix + value

    def _groups(self, claims: dict[str, Any]) -> tuple[str, ...]:
        claim = self.config.groups_claim
        if not claim or claim not in claims:
            return ()
        value = claims[claim]
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Unauthorized(f"oidc: claim {claim!r} is not a string or a list of strings")
        return tuple(self.config.groups_prefix + v for v in values)
