"""Authentication against a real server process: token file, basic auth (with its challenge
and throttling), ServiceAccount tokens through TokenRequest/TokenReview, OIDC from a JWKS
file, impersonation — and that no credential reaches a backend or the server's log."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import bcrypt
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from serverkit import ServerProcess, start_server_process

MASTER_TOKEN = "tok-master-7f3a9c2e51d84b6a"
PLAIN_TOKEN = "tok-carol-0d9e8f7a6b5c4d3e"
BCRYPT_PASSWORD = "pw-alice-Zq8#wonderland"
PLAIN_PASSWORD = "pw-bob-Kx2!builder"
ISSUER = "https://issuer.example"
OIDC_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
ECHO = "/api/v1/namespaces/kube-system/services/echo:http/proxy/"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    process: ServerProcess

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Response:
        url = urlsplit(self.process.url)
        context = ssl.create_default_context(cafile=str(self.process.data_dir / "ca.crt"))
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=30)
        try:
            payload = None if body is None else json.dumps(body)
            sent = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=payload, headers=sent)
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def admin(self, method: str, path: str, body: Any = None, **headers: str) -> Response:
        token = (self.process.data_dir / "admin.token").read_text().strip()
        return self.call(
            method, path, headers={"Authorization": f"Bearer {token}", **headers}, body=body
        )

    def whoami(self, authorization: str) -> Response:
        return self.call("POST", WHOAMI, headers={"Authorization": authorization}, body=SSR)

    @property
    def log(self) -> str:
        return "".join(self.process.output)


SSR = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def oidc_token(claims: dict[str, Any]) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "kubegate", "sub": "u-42", "iat": now, "exp": now + 300}
    return jwt.encode({**body, **claims}, OIDC_KEY, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with every authenticator configured, demo backends, and debug logging."""
    files = tmp_path_factory.mktemp("authn-files")
    tokens = files / "tokens.csv"
    tokens.write_text(
        f'{MASTER_TOKEN},mona,u-mona,"system:masters,ops"\n{PLAIN_TOKEN},carol,u-carol,dev\n'
    )
    alice_hash = bcrypt.hashpw(BCRYPT_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    passwords = files / "passwords.csv"
    passwords.write_text(
        f'{alice_hash},alice,u-alice,"system:masters"\n{PLAIN_PASSWORD},bob,u-bob,system:masters\n'
        f"{PLAIN_PASSWORD},victim,u-victim\n"
    )
    jwks = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(OIDC_KEY.public_key()))
    (files / "jwks.json").write_text(json.dumps({"keys": [{**jwks, "kid": "k1"}]}))
    process = start_server_process(
        tmp_path_factory.mktemp("authn-server"),
        "--demo",
        "-v",
        f"--token-auth-file={tokens}",
        f"--basic-auth-file={passwords}",
        f"--oidc-issuer-url={ISSUER}",
        "--oidc-client-id=kubegate",
        "--oidc-groups-claim=groups",
        "--oidc-groups-prefix=oidc:",
        f"--oidc-jwks-file={files / 'jwks.json'}",
        "--service-account-max-token-expiration=2h",
    )
    yield Server(process)
    process.stop()


# -- token file ---------------------------------------------------------------------------


def test_token_file_user_reaches_the_api(server: Server) -> None:
    """A token from --token-auth-file authenticates its user (here a system:master)."""
    resp = server.call(
        "GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {MASTER_TOKEN}"}
    )
    assert resp.status == 200


def test_token_file_user_has_its_identity(server: Server) -> None:
    """The token file's user, uid and groups (plus system:authenticated) are who is asking."""
    user = server.whoami(f"Bearer {MASTER_TOKEN}").json()["status"]["userInfo"]
    assert user == {
        "username": "mona",
        "uid": "u-mona",
        "groups": ["system:masters", "ops", "system:authenticated"],
    }


def test_unknown_bearer_token_is_401_status(server: Server) -> None:
    """An unknown token is a 401 with a Status body."""
    resp = server.call("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401
    assert resp.json()["reason"] == "Unauthorized"


def test_empty_bearer_token_is_401(server: Server) -> None:
    """`Authorization: Bearer` with nothing after it is a 401."""
    resp = server.call("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer "})
    assert resp.status == 401


# -- basic auth ---------------------------------------------------------------------------


def test_bcrypt_basic_user_reaches_the_api(server: Server) -> None:
    """Basic auth with a bcrypt-hashed password works."""
    resp = server.call(
        "GET", "/api/v1/namespaces", headers={"Authorization": basic("alice", BCRYPT_PASSWORD)}
    )
    assert resp.status == 200


def test_plain_basic_user_reaches_the_api(server: Server) -> None:
    """Basic auth with a plain password column works."""
    resp = server.call(
        "GET", "/api/v1/namespaces", headers={"Authorization": basic("bob", PLAIN_PASSWORD)}
    )
    assert resp.status == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic("alice", "wrong"),
        basic("nobody", "x"),
        "Basic !!!",
        "Basic " + base64.b64encode(b"nocolon").decode(),
    ],
)
def test_401_carries_the_basic_challenge(server: Server, authorization: str | None) -> None:
    """Every 401 asks for Basic credentials in realm "kubegate" (browsers then prompt)."""
    headers = {"Authorization": authorization} if authorization else {}
    resp = server.call("GET", "/api/v1/namespaces", headers=headers)
    assert resp.status == 401
    assert resp.headers["www-authenticate"].startswith('Basic realm="kubegate"')


def test_unknown_user_and_wrong_password_answer_alike(server: Server) -> None:
    """The same status and body for an unknown user and a wrong password."""
    unknown = server.call(
        "GET", "/api/v1/namespaces", headers={"Authorization": basic("nobody", "x")}
    )
    wrong = server.call("GET", "/api/v1/namespaces", headers={"Authorization": basic("alice", "x")})
    assert (unknown.status, unknown.json()) == (wrong.status, wrong.json())


def test_repeated_wrong_passwords_get_429_with_retry_after(server: Server) -> None:
    """After the burst of failures, further attempts get 429 and a Retry-After."""
    statuses = []
    for i in range(11):
        resp = server.call(
            "GET", "/api/v1/namespaces", headers={"Authorization": basic("victim", f"g{i}")}
        )
        statuses.append(resp.status)
    assert statuses == [401] * 10 + [429]
    assert int(resp.headers["retry-after"]) > 0
    assert resp.json()["reason"] == "TooManyRequests"


# -- ServiceAccount tokens ----------------------------------------------------------------


def make_account(server: Server, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
    assert server.admin("POST", "/api/v1/namespaces/default/serviceaccounts", body).status == 201


def request_token(server: Server, name: str, spec: dict[str, Any] | None = None) -> Response:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}}
    return server.admin("POST", f"/api/v1/namespaces/default/serviceaccounts/{name}/token", body)


def test_token_request_returns_a_working_token(server: Server) -> None:
    """TokenRequest answers 201 with a token that authenticates as the service account."""
    make_account(server, "robot-a")
    resp = request_token(server, "robot-a")
    assert resp.status == 201
    token = resp.json()["status"]["token"]
    user = server.whoami(f"Bearer {token}").json()["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:default:robot-a"
    assert "system:serviceaccounts:default" in user["groups"]


def test_token_request_defaults_to_an_hour(server: Server) -> None:
    """Without expirationSeconds a token lives 3600 s, for the API audience."""
    make_account(server, "robot-b")
    spec = request_token(server, "robot-b").json()["spec"]
    assert spec["expirationSeconds"] == 3600
    assert spec["audiences"] == ["https://kubernetes.default.svc"]


def test_token_request_is_capped_at_the_maximum(server: Server) -> None:
    """A longer request is granted --service-account-max-token-expiration (2h here)."""
    make_account(server, "robot-c")
    resp = request_token(server, "robot-c", {"expirationSeconds": 86400})
    assert resp.json()["spec"]["expirationSeconds"] == 7200


def test_token_request_below_ten_minutes_is_invalid(server: Server) -> None:
    """expirationSeconds under 600 is a 422, as kube validates."""
    make_account(server, "robot-d")
    resp = request_token(server, "robot-d", {"expirationSeconds": 300})
    assert resp.status == 422
    assert "may not specify a duration less than 600 seconds" in resp.json()["message"]


def test_token_request_for_a_missing_account_is_404(server: Server) -> None:
    """No such ServiceAccount: 404 naming it."""
    resp = request_token(server, "ghost")
    assert resp.status == 404
    assert resp.json()["message"] == 'serviceaccounts "ghost" not found'


def test_token_request_bound_to_an_object_is_refused(server: Server) -> None:
    """Pod- or Secret-bound tokens are not supported: 400 rather than an unbound token."""
    make_account(server, "robot-e")
    resp = request_token(server, "robot-e", {"boundObjectRef": {"kind": "Pod", "name": "p"}})
    assert resp.status == 400


def test_token_for_another_audience_is_refused_by_the_api(server: Server) -> None:
    """A token requested for "vault" does not work on the API."""
    make_account(server, "robot-f")
    token = request_token(server, "robot-f", {"audiences": ["vault"]}).json()["status"]["token"]
    assert server.whoami(f"Bearer {token}").status == 401


def test_deleting_the_account_revokes_its_token(server: Server) -> None:
    """Once the ServiceAccount is deleted its token is a 401."""
    make_account(server, "robot-g")
    token = request_token(server, "robot-g").json()["status"]["token"]
    assert server.whoami(f"Bearer {token}").status == 201
    assert (
        server.admin("DELETE", "/api/v1/namespaces/default/serviceaccounts/robot-g").status == 200
    )
    deadline = time.monotonic() + 10
    while server.whoami(f"Bearer {token}").status != 401:
        assert time.monotonic() < deadline, "token still accepted after the account was deleted"
        time.sleep(0.05)


def token_review(server: Server, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"token": token}
    if audiences:
        spec["audiences"] = audiences
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    resp = server.admin("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body)
    assert resp.status == 201
    return resp.json()["status"]


def test_token_review_accepts_a_service_account_token(server: Server) -> None:
    """TokenReview reports the service account behind a valid token."""
    make_account(server, "robot-h")
    token = request_token(server, "robot-h").json()["status"]["token"]
    status = token_review(server, token)
    assert status["authenticated"] is True
    assert status["user"]["username"] == "system:serviceaccount:default:robot-h"
    assert status["audiences"] == ["https://kubernetes.default.svc"]


def test_token_review_checks_the_requested_audience(server: Server) -> None:
    """A token for "vault" reviews as valid when "vault" is asked for."""
    make_account(server, "robot-i")
    token = request_token(server, "robot-i", {"audiences": ["vault"]}).json()["status"]["token"]
    assert token_review(server, token, ["vault"])["audiences"] == ["vault"]


def test_token_review_covers_the_token_file(server: Server) -> None:
    """Static tokens are reviewed too."""
    assert token_review(server, PLAIN_TOKEN)["user"]["username"] == "carol"


def test_token_review_refuses_garbage(server: Server) -> None:
    """An unknown token reviews as not authenticated, with an error."""
    status = token_review(server, "garbage")
    assert "authenticated" not in status and status["error"]


def test_token_review_without_a_token_is_400(server: Server) -> None:
    """spec.token is required."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {}}
    assert server.admin("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body).status == 400


# -- OIDC ---------------------------------------------------------------------------------


def test_oidc_token_authenticates_with_prefixes(server: Server) -> None:
    """An ID token signed by the JWKS key is '<issuer>#sub' with prefixed groups."""
    token = oidc_token({"groups": ["devs"]})
    user = token_review(server, token)["user"]
    assert user["username"] == f"{ISSUER}#u-42"
    assert user["groups"] == ["oidc:devs", "system:authenticated"]


def test_oidc_token_for_another_client_is_refused(server: Server) -> None:
    """An ID token with the wrong audience is a 401."""
    assert server.whoami("Bearer " + oidc_token({"aud": "other"})).status == 401


# -- impersonation ------------------------------------------------------------------------


def test_master_may_impersonate(server: Server) -> None:
    """A system:masters member acting as bob in group g is bob in g."""
    resp = server.admin(
        "POST", WHOAMI, SSR, **{"Impersonate-User": "bob", "Impersonate-Group": "g"}
    )
    assert resp.json()["status"]["userInfo"] == {
        "username": "bob",
        "groups": ["g", "system:authenticated"],
    }


def test_ordinary_user_may_not_impersonate(server: Server) -> None:
    """carol cannot impersonate: 403 with kube's message."""
    resp = server.call(
        "GET",
        "/api/v1/namespaces",
        headers={"Authorization": f"Bearer {PLAIN_TOKEN}", "Impersonate-User": "mona"},
    )
    assert resp.status == 403
    assert resp.json()["message"] == (
        'users "mona" is forbidden: User "carol" cannot impersonate resource "users" '
        'in API group "" at the cluster scope'
    )


# -- credentials stay put ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {MASTER_TOKEN}"},
        {"Authorization": basic("alice", BCRYPT_PASSWORD)},
        {
            "Authorization": f"Bearer {MASTER_TOKEN}",
            "Impersonate-User": "bob",
            "Impersonate-Group": "system:masters",
            "Impersonate-Extra-Scopes": "all",
        },
    ],
    ids=["bearer", "basic", "impersonation"],
)
def test_backend_never_sees_credentials(server: Server, headers: dict[str, str]) -> None:
    """Through the proxy, the echo backend receives no Authorization or Impersonate-* header."""
    resp = server.call("GET", ECHO, headers=headers)
    assert resp.status == 200, resp.body
    echoed = resp.json()
    names = {name.lower() for name in echoed["headers"]} | {
        name.lower() for name in echoed["redacted_headers"]
    }
    assert "authorization" not in names
    assert not [name for name in names if name.startswith("impersonate-")]


def test_log_never_contains_credentials(server: Server) -> None:
    """Tokens and passwords sent to the server (valid or not) never appear in its -v log."""
    secrets = [MASTER_TOKEN, PLAIN_TOKEN, BCRYPT_PASSWORD, PLAIN_PASSWORD]
    for secret in secrets:
        server.call("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {secret}x"})
        server.call("GET", "/api/v1/namespaces", headers={"Authorization": basic("alice", secret)})
    server.call("GET", ECHO, headers={"Authorization": f"Bearer {MASTER_TOKEN}"})
    encoded = [base64.b64encode(f"alice:{s}".encode()).decode() for s in secrets]
    assert "DEBUG" in server.log  # the log really is verbose
    for secret in secrets + encoded:
        assert secret not in server.log
