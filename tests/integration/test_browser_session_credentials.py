"""A browser session ends when the credential it was signed in with stops being valid,
against a real ``kubegate serve`` (SQLite store, so the stored sessions can be read): a user
removed from --basic-auth-file or given a new password, a token removed from
--token-auth-file, a ServiceAccount deleted or re-created under its name. Users whose
credential still holds keep their sessions, and the store holds no password or token, nor
their SHA-256 (auth/session_credentials.py; docs/auth.md, "Sessions").

The files are re-read about once a second, so refusals are polled for."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from integration.login_kit import Browser
from integration.proxy.cluster import start_server_process
from integration.proxy.harness import Cluster, Kubegate, new_cluster

WITHIN = 10.0  # the files are looked at about once a second
SETTLED_WITHIN = 20.0  # the store delete waits until the session is 5 s old
SESSIONS = "/registry/kubegate.io/sessions/"


# Every user and token exists from the start (a sign-in attempted before a re-read would
# count as a failure and soon be throttled); each test edits only its own lines.
PASSWORDS = {
    "removed": "pw-Removed-1!",
    "changed": "pw-Changed-2!",
    "keeper": "pw-Keeper-3!",
    "bystander": "pw-Bystander-3!",
    "deleted": "pw-Deleted-4!",
    "stored": "pw-Stored-5!",
}
TOKENS = {
    "tokened": "tok-removed-8c1f5e2d9a7b4c6e",
    "tokstored": "tok-stored-3e9b7c1d5f2a8b0d",
}


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def replace_user(path: Path, name: str, *lines: str) -> None:
    """Rewrite the CSV file at ``path`` with ``name``'s record replaced by ``lines``."""
    kept = [line for line in path.read_text().splitlines() if line.split(",")[1] != name]
    write_atomically(path, "".join(f"{line}\n" for line in [*kept, *lines]))


@dataclass
class Server:
    kg: Kubegate
    db: Path
    passwords: Path
    tokens: Path
    hashes: dict[str, str]

    def stored_sessions(self) -> list[dict]:
        """Every session object in the store, as stored."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            query = "SELECT value FROM kv WHERE key LIKE ?"
            rows = conn.execute(query, (SESSIONS + "%",)).fetchall()
        finally:
            conn.close()
        return [json.loads(value) for (value,) in rows]

    def sessions_of(self, username: str) -> list[dict]:
        return [s for s in self.stored_sessions() if s["user"]["username"] == username]

    async def signed_in_as(self, name: str) -> Browser:
        browser = Browser(self.kg)
        assert (await browser.login(name, PASSWORDS[name])).status == 303
        assert await signed_in(browser)
        return browser

    async def signed_in_with_token(self, name: str) -> Browser:
        browser = Browser(self.kg)
        assert (await browser.login_with_token(TOKENS[name])).status == 303
        assert await signed_in(browser)
        return browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    files = tmp_path_factory.mktemp("session-credential-files")
    passwords, tokens = files / "passwords.csv", files / "tokens.csv"
    hashes = {name: hashed(password) for name, password in PASSWORDS.items()}
    passwords.write_text("".join(f"{hashes[name]},{name},u-{name}\n" for name in PASSWORDS))
    tokens.write_text("".join(f"{token},{name},u-{name}\n" for name, token in TOKENS.items()))
    with tempfile.TemporaryDirectory(prefix="kubegate-session-credentials-") as tmp:
        db = Path(tmp) / "state.db"
        process = start_server_process(
            Path(tmp),
            "--shutdown-grace=2",
            f"--basic-auth-file={passwords}",
            f"--token-auth-file={tokens}",
            store=f"sqlite:{db}",
        )
        try:
            yield Server(Kubegate(process), db, passwords, tokens, hashes)
        finally:
            process.stop()


async def signed_in(browser: Browser) -> bool:
    """Whether the browser's session cookie still authenticates (the service index loads;
    without a session a page load is sent to /login)."""
    response = await browser.page("/")
    assert response.status in (200, 302), response
    return response.status == 200


async def refused(browser: Browser) -> bool:
    return not await signed_in(browser)


async def poll(probe: Callable[[], Awaitable[bool]], what: str, within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not await probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


# -- passwords ---------------------------------------------------------------------------------


async def test_removing_the_user_ends_the_session(server: Server) -> None:
    """Once the user is removed from --basic-auth-file, the cookie no longer authenticates:
    a page load goes to /login and an API-style request gets 401."""
    browser = await server.signed_in_as("removed")
    replace_user(server.passwords, "removed")
    await poll(lambda: refused(browser), "the session to be refused")
    assert (await browser.request("GET", "/")).status == 401


async def test_changing_the_password_ends_the_session(server: Server) -> None:
    """A new password for the user ends the session made with the old one."""
    browser = await server.signed_in_as("changed")
    replace_user(server.passwords, "changed", f"{hashed('pw-New-2!')},changed,u-changed")
    await poll(lambda: refused(browser), "the session to be refused")


async def test_a_user_still_in_the_file_keeps_the_session(server: Server) -> None:
    """Editing the file (another user removed) leaves a still-valid user's session working."""
    browser = await server.signed_in_as("keeper")
    bystander = await server.signed_in_as("bystander")
    replace_user(server.passwords, "bystander")
    await poll(lambda: refused(bystander), "the file to be re-read")
    assert await signed_in(browser)


async def test_a_session_whose_credential_failed_is_deleted_from_the_store(
    server: Server,
) -> None:
    """The refused session is also deleted from the store, in the background."""
    browser = await server.signed_in_as("deleted")
    assert len(server.sessions_of("deleted")) == 1
    replace_user(server.passwords, "deleted")
    await poll(lambda: refused(browser), "the session to be refused")

    async def gone() -> bool:
        await browser.page("/")  # each refused request asks for the delete again
        return not server.sessions_of("deleted")

    await poll(gone, "the session to leave the store", within=SETTLED_WITHIN)


async def test_the_store_holds_no_password_material(server: Server) -> None:
    """The stored session of a password sign-in holds neither the password, its SHA-256
    nor the stored hash."""
    await server.signed_in_as("stored")
    [session] = server.sessions_of("stored")
    assert session["credential"]["kind"] == "password"
    text = json.dumps(session)
    password = PASSWORDS["stored"]
    for secret in (
        password,
        server.hashes["stored"],
        hashlib.sha256(password.encode()).hexdigest(),
    ):
        assert secret not in text


# -- static tokens -----------------------------------------------------------------------------


async def test_removing_the_token_ends_the_session(server: Server) -> None:
    """A session signed in with a --token-auth-file token ends once the token is removed."""
    browser = await server.signed_in_with_token("tokened")
    replace_user(server.tokens, "tokened")
    await poll(lambda: refused(browser), "the session to be refused")


async def test_the_store_holds_neither_the_token_nor_its_sha256(server: Server) -> None:
    """The stored session of a token sign-in holds neither the token nor its SHA-256."""
    await server.signed_in_with_token("tokstored")
    [session] = server.sessions_of("tokstored")
    assert session["credential"]["kind"] == "token"
    text = json.dumps(session)
    token = TOKENS["tokstored"]
    assert token not in text
    assert hashlib.sha256(token.encode()).hexdigest() not in text


# -- ServiceAccount tokens ---------------------------------------------------------------------


async def service_account(cluster: Cluster, name: str) -> str:
    """Create ServiceAccount ``name`` and return a token for it (TokenRequest)."""
    await cluster.create(
        f"/api/v1/namespaces/{cluster.namespace}/serviceaccounts", {"metadata": {"name": name}}
    )
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    issued = await cluster.create(
        f"/api/v1/namespaces/{cluster.namespace}/serviceaccounts/{name}/token", request
    )
    return issued["status"]["token"]


async def sa_browser(server: Server) -> tuple[Cluster, Browser]:
    cluster = await new_cluster(server.kg, "sa-session")
    token = await service_account(cluster, "builder")
    browser = Browser(server.kg)
    assert (await browser.login_with_token(token)).status == 303
    assert await signed_in(browser)
    return cluster, browser


async def authenticates(server: Server, token: str) -> bool:
    """Whether ``token`` is accepted as a bearer token (a SelfSubjectReview is created)."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    response = await server.kg.request(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        headers=[("Authorization", f"Bearer {token}"), ("Content-Type", "application/json")],
        body=json.dumps(review).encode(),
        auth=None,
    )
    return response.status == 201


async def delete_account(cluster: Cluster, name: str) -> None:
    path = f"/api/v1/namespaces/{cluster.namespace}/serviceaccounts/{name}"
    response = await cluster.kg.api("DELETE", path)
    assert response.status == 200, response

    async def gone() -> bool:
        return (await cluster.kg.api("GET", path)).status == 404

    await poll(gone, "the ServiceAccount to be deleted")


async def test_deleting_the_service_account_ends_the_session(server: Server) -> None:
    """A session signed in with a ServiceAccount token ends when the account is deleted."""
    cluster, browser = await sa_browser(server)
    await delete_account(cluster, "builder")
    await poll(lambda: refused(browser), "the session to be refused")


async def test_recreating_the_service_account_ends_the_session(server: Server) -> None:
    """Deleting the account and creating one of the same name (a new UID) ends the session."""
    cluster, browser = await sa_browser(server)
    await delete_account(cluster, "builder")
    new_token = await service_account(cluster, "builder")
    await poll(lambda: authenticates(server, new_token), "the new account to be known")
    assert await refused(browser)


async def test_a_service_account_session_records_the_account(server: Server) -> None:
    """The stored record of a ServiceAccount sign-in is the account's namespace, name and UID,
    and no part of the token."""
    cluster = await new_cluster(server.kg, "sa-record")
    token = await service_account(cluster, "recorded")
    assert (await Browser(server.kg).login_with_token(token)).status == 303
    path = f"/api/v1/namespaces/{cluster.namespace}/serviceaccounts/recorded"
    uid = (await server.kg.api("GET", path)).json()["metadata"]["uid"]
    username = f"system:serviceaccount:{cluster.namespace}:recorded"
    [session] = server.sessions_of(username)
    assert session["credential"] == {
        "kind": "serviceaccount",
        "namespace": cluster.namespace,
        "name": "recorded",
        "uid": uid,
    }
    assert token.split(".")[2] not in json.dumps(session)


async def test_a_service_account_that_still_exists_keeps_the_session(server: Server) -> None:
    """Another account's deletion in the namespace leaves this account's session working."""
    cluster, browser = await sa_browser(server)
    await service_account(cluster, "bystander")
    await delete_account(cluster, "bystander")
    assert await signed_in(browser)
