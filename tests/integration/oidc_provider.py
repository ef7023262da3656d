"""A minimal but honest OpenID Connect provider on loopback, for the sign-in tests.

Nothing real can run offline, so this stands in for the issuer: HTTPS with its own CA
(trustme), discovery, a JWKS, an authorization endpoint that signs in one configured user
and redirects back with a code, and a token endpoint that enforces what a real provider does —
a registered redirect URI, the client secret (``client_secret_basic``), single-use codes,
PKCE S256 — and returns an RS256 ID token (PyJWT) carrying the request's nonce.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "kubegate"
CLIENT_SECRET = "s3cr3t-client-Qm9"
KID = "idp-key-1"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    used: bool = False


@dataclass
class Provider:
    """The provider's state; tests read what it saw and steer how it behaves."""

    issuer: str = ""
    ca_file: Path | None = None
    subject: dict[str, Any] = field(default_factory=lambda: {"sub": "u-42", "groups": ["devs"]})
    redirect_uris: set[str] = field(default_factory=set)
    wrong_nonce: bool = False  # misbehave: sign a nonce other than the one asked for
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """(status, headers, JSON body or None): a redirect back with a code, or an error."""
        self.authorize_requests.append(query)
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or redirect_uri not in self.redirect_uris:
            return 400, {}, {"error": "invalid_request"}  # never redirect to an unknown URI
        state = query.get("state", "")
        problems = [
            query.get("response_type") != "code",
            "openid" not in query.get("scope", "").split(),
            query.get("code_challenge_method") != "S256",
            len(query.get("code_challenge", "")) != 43,
            not query.get("nonce"),
        ]
        if any(problems):
            target = redirect_uri + "?" + urlencode({"error": "invalid_request", "state": state})
            return 302, {"Location": target}, None
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.grants[code] = Grant(
                CLIENT_ID, redirect_uri, query["code_challenge"], query["nonce"]
            )
        target = redirect_uri + "?" + urlencode({"code": code, "state": state})
        return 302, {"Location": target}, None

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, Any]:
        self.token_requests.append(form)
        if not _client_authenticated(authorization):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self.lock:
            grant = self.grants.get(form.get("code", ""))
            if grant is None or grant.used:
                return 400, {"error": "invalid_grant"}
            grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {
            **self.subject,
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": "not-the-nonce" if self.wrong_nonce else grant.nonce,
        }
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }


def _client_authenticated(authorization: str) -> bool:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return False
    return unquote(user) == CLIENT_ID and unquote(password) == CLIENT_SECRET


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif url.path == "/jwks":
                self._json(200, provider.jwks())
            elif url.path == "/authorize":
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, headers, body = provider.authorize(query)
                if body is None:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._json(status, body)
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/token":
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            status, body = provider.token(form, self.headers.get("Authorization") or "")
            self._json(status, body)

    return Handler


class RunningProvider:
    """The provider served over HTTPS on 127.0.0.1 in a thread."""

    def __init__(self, directory: Path) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        self.ca_file = directory / "idp-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.secret_file = directory / "client-secret"
        self.secret_file.write_text(CLIENT_SECRET + "\n")
        self.provider = Provider(ca_file=self.ca_file)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.provider))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.provider.issuer = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oidc-provider", daemon=True
        )
        self._thread.start()
        self.client_context = ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
