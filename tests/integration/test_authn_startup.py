"""Authentication settings seen from outside the process: unusable files and flags stop the
start with a clear message, and --anonymous-auth lets only credential-less requests in."""

from __future__ import annotations

import http.client
import importlib.util
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from serverkit import ServerProcess, start_server_process

SECRET = "tok-should-never-be-printed-5b1e"


def serve(data_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """Run `kubegate serve` expecting it to refuse to start."""
    cmd = [sys.executable, "-m", "kubegate.cli.main", "serve", "--secure-port", "0"]
    cmd += ["--data-dir", str(data_dir), "--store", "memory:", *flags]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("contents", "flag", "message"),
    [
        (f"{SECRET},alice\n", "--token-auth-file", "line 1: must have at least 3 columns"),
        (f'ok,alice,1\n"{SECRET},bob,2\n', "--token-auth-file", "line 2: unexpected end of data"),
        (f"{SECRET}\n", "--basic-auth-file", "(password, user name, user uid), found 1"),
        ("$2b$12$short,alice,1\n", "--basic-auth-file", "the bcrypt hash is malformed"),
        (
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA,alice,1\n",
            "--basic-auth-file",
            "argon2-cffi",
        ),
    ],
    ids=["token-columns", "token-quote", "basic-columns", "basic-bcrypt", "basic-argon2"],
)
def test_malformed_auth_file_stops_the_start(
    tmp_path: Path, contents: str, flag: str, message: str
) -> None:
    """A malformed file is exit 2 with a one-line error naming file and line; no traceback,
    no secret."""
    if "argon2" in contents and importlib.util.find_spec("argon2") is not None:
        pytest.skip("argon2-cffi is installed here")
    path = tmp_path / "auth.csv"
    path.write_text(contents)
    result = serve(tmp_path / "data", f"{flag}={path}")
    assert result.returncode == 2
    assert "error: " in result.stderr and message in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_missing_token_file_stops_the_start(tmp_path: Path) -> None:
    """A token file that does not exist is exit 2 naming it."""
    result = serve(tmp_path / "data", f"--token-auth-file={tmp_path / 'absent.csv'}")
    assert result.returncode == 2
    assert "absent.csv" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--oidc-issuer-url=http://issuer.example", "--oidc-client-id=x"], "https"),
        (["--oidc-issuer-url=https://issuer.example"], "--oidc-client-id"),
        (["--anonymous-auth=maybe"], "invalid boolean"),
    ],
)
def test_bad_auth_flags_stop_the_start(tmp_path: Path, flags: list[str], message: str) -> None:
    """Inconsistent authentication flags are exit 2 with a message."""
    result = serve(tmp_path / "data", *flags)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_broken_jwks_file_stops_the_start(tmp_path: Path) -> None:
    """An --oidc-jwks-file that is not a JWKS is exit 2 naming the flag."""
    jwks = tmp_path / "jwks.json"
    jwks.write_text("{}")
    result = serve(
        tmp_path / "data",
        "--oidc-issuer-url=https://issuer.example",
        "--oidc-client-id=x",
        f"--oidc-jwks-file={jwks}",
    )
    assert result.returncode == 2
    assert "--oidc-jwks-file" in result.stderr and "Traceback" not in result.stderr


# -- anonymous ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anonymous_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server_process(tmp_path_factory.mktemp("anon"), "--anonymous-auth")
    yield process
    process.stop()


def call(process: ServerProcess, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    url = urlsplit(process.url)
    context = ssl.create_default_context(cafile=str(process.data_dir / "ca.crt"))
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def test_anonymous_request_is_system_anonymous(anonymous_server: ServerProcess) -> None:
    """Without credentials the request is authorized as system:anonymous (and refused)."""
    status, body = call(anonymous_server, "/api/v1/namespaces", {})
    assert status == 403
    assert 'User "system:anonymous"' in body["message"]


@pytest.mark.parametrize("authorization", ["Bearer wrong", "Bearer ", "Basic Ym9iOng=", "Digest x"])
def test_presented_credentials_are_never_anonymous(
    anonymous_server: ServerProcess, authorization: str
) -> None:
    """Any Authorization header that does not authenticate is a 401, anonymous or not."""
    status, body = call(anonymous_server, "/api/v1/namespaces", {"Authorization": authorization})
    assert status == 401 and body["reason"] == "Unauthorized"


def test_no_basic_challenge_without_basic_auth(anonymous_server: ServerProcess) -> None:
    """Without --basic-auth-file a 401 asks for no Basic credentials."""
    url = urlsplit(anonymous_server.url)
    context = ssl.create_default_context(cafile=str(anonymous_server.data_dir / "ca.crt"))
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=30)
    try:
        conn.request("GET", "/api", headers={"Authorization": "Bearer wrong"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 401 and resp.getheader("www-authenticate") is None
    finally:
        conn.close()
