"""The OIDC authorization-code flow with PKCE, by which the login page signs browsers in.

    start      a fresh ``state``, ``nonce`` and PKCE ``code_verifier`` (each 256-bit random),
               kept by the browser in a short-lived HttpOnly cookie; the browser is sent to
               the issuer's ``authorization_endpoint`` with ``code_challenge`` = S256 of the
               verifier (RFC 7636)
    callback   the issuer sends the browser back with ``code`` and ``state``; ``state`` must
               equal the cookie's (so a callback is only accepted in the browser that
               started it: no login CSRF), the code is redeemed at ``token_endpoint`` with
               the verifier (and the client secret, if configured, as HTTP Basic: OIDC's
               default ``client_secret_basic``), and the returned ID token is verified by the
               same :class:`OIDCAuthenticator` that checks bearer ID tokens — issuer,
               audience, signature, expiry — and must carry the cookie's ``nonce``

Endpoints come from the issuer's discovery document and must be https, like the issuer.
Every network call runs in a thread with a timeout and a size cap (as key fetching does).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import secrets
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode

import jwt

from kubegate.auth.oidc import (
    DISCOVERY_PATH,
    FETCH_TIMEOUT,
    MAX_DOCUMENT_BYTES,
    FetchJSON,
    OIDCAuthenticator,
    fetch_json,
)
from kubegate.auth.types import UserInfo
from kubegate.errors import Unauthorized

FLOW_LIFETIME = 600.0  # seconds a browser has to come back from the issuer

PostForm = Callable[[str, dict[str, str], dict[str, str], "ssl.SSLContext | None"], Any]


class LoginFailed(Exception):
    """The flow failed; the message is for the server log (the browser gets a generic one)."""


@dataclass(frozen=True, slots=True)
class Flow:
    """What the browser keeps between start and callback (in the flow cookie)."""

    state: str
    nonce: str
    verifier: str
    then: str
    started: float

    @classmethod
    def new(cls, then: str, now: float) -> Flow:
        return cls(
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(48),
            then,
            now,
        )

    def encode(self) -> str:
        raw = json.dumps(asdict(self), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, value: str) -> Flow | None:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            data = json.loads(raw)
            flow = cls(**data)
        except (binascii.Error, ValueError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (flow.state, flow.nonce, flow.verifier, flow.then)):
            return None
        if not isinstance(flow.started, int | float):
            return None
        return flow


def code_challenge(verifier: str) -> str:
    """PKCE's S256 challenge: base64url(SHA-256(verifier)) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorization: str
    token: str


def post_form(
    url: str, form: dict[str, str], headers: dict[str, str], context: ssl.SSLContext | None
) -> Any:
    """POST a form and read a JSON answer (blocking; run it in a thread)."""
    request = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **headers,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT, context=context) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as exc:  # the error answer says why (RFC 6749 §5.2)
        body = exc.read(MAX_DOCUMENT_BYTES + 1)
        try:
            error = json.loads(body).get("error", "")
        except (ValueError, AttributeError):
            error = ""
        raise LoginFailed(f"the token endpoint answered {exc.code} {error}".rstrip()) from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise LoginFailed("the token endpoint's answer is too large")
    return json.loads(body)


class OIDCLogin:
    """The code flow against one issuer (``--oidc-issuer-url``)."""

    def __init__(
        self,
        authenticator: OIDCAuthenticator,
        *,
        client_secret: str | None = None,
        fetch: FetchJSON = fetch_json,
        post: PostForm = post_form,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authenticator = authenticator
        self.config = authenticator.config
        self._client_secret = client_secret
        self._fetch = fetch
        self._post = post
        self._clock = clock
        self._endpoints: Endpoints | None = None
        ca_file = self.config.ca_file
        self._context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def start(self, then: str) -> Flow:
        return Flow.new(then, self._clock())

    def redirect_uri(self, own_origin: str) -> str:
        return self.config.redirect_url or f"{own_origin}/oauth2/callback"

    async def authorization_url(self, flow: Flow, redirect_uri: str) -> str:
        endpoints = await self.endpoints()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.config.scopes),
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": code_challenge(flow.verifier),
                "code_challenge_method": "S256",
            },
            quote_via=quote,
        )
        separator = "&" if "?" in endpoints.authorization else "?"
        return endpoints.authorization + separator + query

    async def finish(
        self, flow: Flow, *, state: str, code: str, redirect_uri: str
    ) -> tuple[UserInfo, float]:
        """The signed-in user and the ID token's expiry; raises LoginFailed."""
        if not hmac.compare_digest(flow.state.encode(), state.encode()):
            raise LoginFailed("the state does not match this browser's login")
        if self._clock() - flow.started > FLOW_LIFETIME:
            raise LoginFailed("the login took too long")
        if not code:
            raise LoginFailed("the issuer sent no code")
        endpoints = await self.endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": flow.verifier,
        }
        headers: dict[str, str] = {}
        if self._client_secret is not None:
            pair = f"{quote(self.config.client_id, safe='')}:{quote(self._client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.config.client_id
        try:
            answer = await asyncio.to_thread(
                self._post, endpoints.token, form, headers, self._context
            )
        except LoginFailed:
            raise
        except (OSError, ValueError) as exc:
            raise LoginFailed(f"redeeming the code failed: {exc}") from None
        id_token = answer.get("id_token") if isinstance(answer, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise LoginFailed("the token endpoint returned no id_token")
        return await self._verified(id_token, flow.nonce)

    async def _verified(self, id_token: str, nonce: str) -> tuple[UserInfo, float]:
        try:
            user = self._lookup(id_token)
        except Unauthorized as exc:
            if "no known key" not in exc.message:
                raise LoginFailed(f"the ID token is invalid: {exc.message}") from None
            try:  # keys not fetched yet (just started) or rotated: look once more, now
                await self.authenticator.keys.refresh_now()
                user = self._lookup(id_token)
            except Unauthorized as again:
                raise LoginFailed(f"the ID token is invalid: {again.message}") from None
            except (OSError, ValueError) as fetch_error:
                raise LoginFailed(f"fetching the issuer's keys failed: {fetch_error}") from None
        # The signature was just verified over these very bytes, so the claims can be read.
        claims = jwt.decode(id_token, options={"verify_signature": False})
        claimed = claims.get("nonce")
        if not isinstance(claimed, str) or not hmac.compare_digest(
            claimed.encode(), nonce.encode()
        ):
            raise LoginFailed("the ID token's nonce does not match this login")
        return user, float(claims["exp"])

    def _lookup(self, id_token: str) -> UserInfo:
        user = self.authenticator.lookup(id_token)
        if user is None:
            raise Unauthorized("the ID token is not from the configured issuer")
        return user

    async def endpoints(self) -> Endpoints:
        """The issuer's endpoints (discovered once; a failure is retried on the next login)."""
        if self._endpoints is not None:
            return self._endpoints
        issuer = self.config.issuer_url
        try:
            document = await asyncio.to_thread(
                self._fetch, issuer.rstrip("/") + DISCOVERY_PATH, self._context
            )
        except (OSError, ValueError) as exc:
            raise LoginFailed(f"fetching the issuer's discovery document failed: {exc}") from None
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            raise LoginFailed(f"the discovery document does not name {issuer!r} as its issuer")
        authorization = document.get("authorization_endpoint")
        token = document.get("token_endpoint")
        for name, url in (("authorization_endpoint", authorization), ("token_endpoint", token)):
            if not isinstance(url, str) or not url.startswith("https://"):
                raise LoginFailed(f"the discovery document has no https {name}")
        assert isinstance(authorization, str) and isinstance(token, str)
        self._endpoints = Endpoints(authorization, token)
        return self._endpoints
