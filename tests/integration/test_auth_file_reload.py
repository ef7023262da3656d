"""--token-auth-file and --basic-auth-file are re-read when they change, on a running server:
new credentials work, removed ones stop working, a malformed edit keeps the previous file."""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from integration.proxy.cluster import ServerProcess, start_server_process

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
SSR = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
WITHIN = 10.0  # the files are looked at about once a second


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Server:
    process: ServerProcess
    tokens: Path
    passwords: Path

    def whoami(self, authorization: str) -> str | int:
        """The user name the server sees for ``authorization``, or the error status."""
        url = urlsplit(self.process.url)
        context = ssl.create_default_context(cafile=str(self.process.data_dir / "ca.crt"))
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
        try:
            conn.request(
                "POST",
                WHOAMI,
                body=json.dumps(SSR),
                headers={"Authorization": authorization, "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 201:
            return response.status
        return json.loads(body)["status"]["userInfo"]["username"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    files = tmp_path_factory.mktemp("reload-files")
    tokens, passwords = files / "tokens.csv", files / "passwords.csv"
    tokens.write_text("tok-first-1a2b3c4d5e6f7a8b,first,u-first\n")
    passwords.write_text("pw-first-Qx7!aa,first-basic,u-fb\n")
    process = start_server_process(
        tmp_path_factory.mktemp("reload-server"),
        f"--token-auth-file={tokens}",
        f"--basic-auth-file={passwords}",
    )
    yield Server(process, tokens, passwords)
    process.stop()


def test_token_added_to_the_file_is_accepted_without_a_restart(server: Server) -> None:
    """A token line appended to --token-auth-file authenticates within seconds."""
    assert server.whoami("Bearer tok-second-9f8e7d6c5b4a") == 401
    write_atomically(
        server.tokens,
        server.tokens.read_text() + "tok-second-9f8e7d6c5b4a,second,u-second\n",
    )
    wait_until(lambda: server.whoami("Bearer tok-second-9f8e7d6c5b4a") == "second", "the token")


def test_changed_password_replaces_the_old_one(server: Server) -> None:
    """After the basic-auth file changes a password, the new one works and the old one not."""
    assert server.whoami(basic("first-basic", "pw-first-Qx7!aa")) == "first-basic"
    write_atomically(server.passwords, "pw-second-Zk3?bb,first-basic,u-fb\n")
    wait_until(
        lambda: server.whoami(basic("first-basic", "pw-second-Zk3?bb")) == "first-basic",
        "the new password",
    )
    assert server.whoami(basic("first-basic", "pw-first-Qx7!aa")) == 401


def test_malformed_edit_keeps_the_previous_tokens(server: Server) -> None:
    """A token file that no longer parses is ignored (logged); its previous users keep working."""
    before = server.tokens.read_text()
    write_atomically(server.tokens, "only-one-column\n")

    def refused_and_still_served() -> bool:
        # The file is looked at when a credential is checked, at most once a second.
        assert server.whoami("Bearer tok-first-1a2b3c4d5e6f7a8b") == "first"
        return any("keeping the previous contents" in line for line in server.process.output)

    wait_until(refused_and_still_served, "the reload error in the log")
    write_atomically(server.tokens, before)
