"""auth/sessions.py with credential checks: a session whose credential fails is refused at
once and deleted from the store once settled; an unsure verdict only refuses; app sessions
end with a parent whose credential fails; the record reaches other mirrors. On the
reference store with a controlled clock and real token tables."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubegate.auth.session_credentials import CredentialChecks, fingerprint_key
from kubegate.auth.sessions import (
    CREDENTIAL_SETTLE,
    SESSIONS_PREFIX,
    SessionLimits,
    SessionStore,
    session_key,
    session_name,
)
from kubegate.auth.tokens import StaticTokens
from kubegate.auth.types import UserInfo
from kubegate.store.memory import MemoryStore

CAROL = UserInfo("carol", "u-carol")
TOKEN = "tok-carol-4a9f1c7e2b8d6a3f"
SA_USER = UserInfo("system:serviceaccount:team:builder", "uid-1")
LIMITS = SessionLimits(idle_timeout=100.0, max_age=1000.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Tables:
    """A token table that can be swapped for a new one, as a re-read token file is."""

    def __init__(self) -> None:
        self.current = self.with_carol()

    @staticmethod
    def with_carol() -> StaticTokens:
        table = StaticTokens()
        table.add(TOKEN, CAROL)
        return table

    def remove_carol(self) -> None:
        self.current = StaticTokens()


class Accounts:
    def __init__(self) -> None:
        self.synced = False

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def is_synced(self) -> bool:
        return self.synced


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tables() -> Tables:
    return Tables()


@pytest.fixture
def accounts() -> Accounts:
    return Accounts()


@pytest.fixture
def checks(tables: Tables, accounts: Accounts) -> CredentialChecks:
    return CredentialChecks(
        fingerprint_key(b"data dir secret"), tokens=[lambda: tables.current], accounts=accounts
    )


async def started(store: MemoryStore, clock: Clock, checks: CredentialChecks) -> SessionStore:
    sessions = SessionStore(store, LIMITS, clock=clock, credentials=checks)
    sessions.start()
    assert await sessions.wait_synced()
    return sessions


@pytest.fixture
async def sessions(
    store: MemoryStore, clock: Clock, checks: CredentialChecks
) -> AsyncIterator[SessionStore]:
    sessions = await started(store, clock, checks)
    yield sessions
    await sessions.stop()


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - state changed by the store's tasks
            await asyncio.sleep(0.005)


async def carol_session(sessions: SessionStore) -> str:
    credential = sessions.credentials.for_token(TOKEN, CAROL)  # type: ignore[union-attr]
    assert credential is not None
    return await sessions.create(CAROL, method="token", credential=credential)


async def stored(store: MemoryStore) -> list[Any]:
    return (await store.list(SESSIONS_PREFIX)).items


async def test_failed_credential_refuses_a_young_session_but_keeps_it(
    sessions: SessionStore, store: MemoryStore, tables: Tables
) -> None:
    """Just after sign-in, a failed credential refuses the session but leaves it stored (this
    replica may be behind the one that signed the user in)."""
    secret = await carol_session(sessions)
    assert sessions.lookup(secret) is not None
    tables.remove_carol()
    assert sessions.lookup(secret) is None
    await asyncio.sleep(0.05)
    assert len(await stored(store)) == 1


async def test_failed_credential_deletes_a_settled_session(
    sessions: SessionStore, store: MemoryStore, tables: Tables, clock: Clock
) -> None:
    """Once the session is older than the settle time, a lookup that finds its credential
    failed deletes it from the store in the background."""
    secret = await carol_session(sessions)
    tables.remove_carol()
    clock.now += CREDENTIAL_SETTLE
    assert sessions.lookup(secret) is None
    await until(lambda: sessions.get_by_key(session_key(secret)) is None)
    assert await stored(store) == []


async def test_sweeper_deletes_settled_sessions_with_failed_credentials(
    sessions: SessionStore, store: MemoryStore, tables: Tables, clock: Clock
) -> None:
    """A failed credential is swept like an expiry, without any lookup."""
    secret = await carol_session(sessions)
    other = await carol_session(sessions)
    clock.now += CREDENTIAL_SETTLE
    assert await sessions.sweep() == 0
    tables.remove_carol()
    assert await sessions.sweep() == 2
    assert await stored(store) == []
    assert sessions.lookup(secret) is None and sessions.lookup(other) is None


async def test_unsure_verdict_refuses_but_never_deletes(
    sessions: SessionStore, store: MemoryStore, accounts: Accounts, clock: Clock
) -> None:
    """While the ServiceAccount cache has not synced, an SA session is refused, not ended."""
    credential = sessions.credentials.for_token("a.jwt", SA_USER)  # type: ignore[union-attr]
    secret = await sessions.create(SA_USER, method="token", credential=credential)
    clock.now += CREDENTIAL_SETTLE * 2
    assert sessions.lookup(secret) is None
    assert await sessions.sweep() == 0
    await asyncio.sleep(0.05)
    assert len(await stored(store)) == 1


async def test_app_session_ends_with_its_parents_credential(
    sessions: SessionStore, tables: Tables
) -> None:
    """An app-origin session is refused once the credential of its main session fails."""
    main = await carol_session(sessions)
    app = await sessions.create(
        CAROL, method="apps", scope="http--web--team.apps.localhost", parent=session_name(main)
    )
    assert sessions.lookup(app, scope="http--web--team.apps.localhost") is not None
    tables.remove_carol()
    assert sessions.lookup(app, scope="http--web--team.apps.localhost") is None


async def test_a_second_mirror_checks_the_same_record(
    sessions: SessionStore,
    store: MemoryStore,
    clock: Clock,
    checks: CredentialChecks,
    tables: Tables,
) -> None:
    """The record is stored with the session: another replica reads and checks it too."""
    replica = await started(store, clock, checks)
    try:
        secret = await carol_session(sessions)
        await until(lambda: replica.lookup(secret) is not None)
        found = replica.lookup(secret)
        assert found is not None and found.credential is not None
        assert found.credential.kind == "token"
        tables.remove_carol()
        assert replica.lookup(secret) is None
    finally:
        await replica.stop()


async def test_sessions_without_checks_are_not_refused(store: MemoryStore, clock: Clock) -> None:
    """A SessionStore made without credential checks keeps every session to its limits."""
    plain = SessionStore(store, LIMITS, clock=clock)
    plain.start()
    try:
        assert await plain.wait_synced()
        secret = await plain.create(CAROL, method="token")
        assert plain.lookup(secret) is not None
    finally:
        await plain.stop()
