"""auth/sessions.py: an app-origin session lives within the main session it was made from
(``parent``) — revocation, idle expiry, credential expiry and sweeping of the parent end it,
on every mirror of the store; on the reference store with a controlled clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from kubegate.auth.sessions import (
    SESSIONS_PREFIX,
    SessionLimits,
    SessionStore,
    session_key,
    session_name,
)
from kubegate.auth.types import UserInfo
from kubegate.store.memory import MemoryStore

ALICE = UserInfo("alice", "u-1", ("dev",))
LIMITS = SessionLimits(idle_timeout=100.0, max_age=1000.0)
APP = "http--web--team.apps.localhost"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def started(store: MemoryStore, clock: Clock) -> SessionStore:
    sessions = SessionStore(store, LIMITS, clock=clock)
    sessions.start()
    assert await sessions.wait_synced()
    return sessions


@pytest.fixture
async def sessions(store: MemoryStore, clock: Clock) -> AsyncIterator[SessionStore]:
    sessions = await started(store, clock)
    yield sessions
    await sessions.stop()


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - state changed by the store's watch task
            await asyncio.sleep(0.005)


async def app_session_of(sessions: SessionStore, main: str) -> str:
    return await sessions.create(ALICE, method="apps", scope=APP, parent=session_name(main))


async def test_app_session_records_its_parents_name(
    sessions: SessionStore, store: MemoryStore
) -> None:
    """The stored app session names its parent by digest; the parent's secret is nowhere."""
    main = await sessions.create(ALICE, method="password")
    app = await app_session_of(sessions, main)
    stored = await store.get(session_key(app))
    assert stored["parent"] == session_name(main)
    assert main not in repr(stored)


async def test_app_session_works_while_its_parent_lives(sessions: SessionStore) -> None:
    """With a live parent the app session is found in its scope."""
    main = await sessions.create(ALICE, method="password")
    app = await app_session_of(sessions, main)
    found = sessions.lookup(app, scope=APP)
    assert found is not None and found.user == ALICE and found.parent == session_name(main)


async def test_revoking_the_parent_ends_the_app_session(sessions: SessionStore) -> None:
    """Logout (revoking the main session) makes the app session's lookup fail at once."""
    main = await sessions.create(ALICE, method="password")
    app = await app_session_of(sessions, main)
    await sessions.revoke(main)
    assert sessions.lookup(app, scope=APP) is None


async def test_a_parent_revoked_on_another_replica_ends_the_app_session_here(
    sessions: SessionStore, store: MemoryStore, clock: Clock
) -> None:
    """A logout on one mirror of the store ends the app session on the other (one watch event)."""
    other = await started(store, clock)
    try:
        main = await sessions.create(ALICE, method="password")
        app = await app_session_of(sessions, main)
        await until(lambda: other.lookup(app, scope=APP) is not None)
        await other.revoke(main)
        await until(lambda: sessions.lookup(app, scope=APP) is None)
    finally:
        await other.stop()


async def test_an_idle_parent_ends_an_active_app_session(
    sessions: SessionStore, clock: Clock
) -> None:
    """Using the app does not keep the main session alive; once it idles out, the app is refused."""
    main = await sessions.create(ALICE, method="password")
    app = await app_session_of(sessions, main)
    clock.now += 60
    assert sessions.lookup(app, scope=APP) is not None  # the app in use; the main origin not
    clock.now += 60  # the main session idle for 120 s (> 100), the app session for 60 s
    assert sessions.lookup(app, scope=APP) is None
    assert sessions.lookup(main) is None


async def test_the_parents_credential_expiry_ends_the_app_session(
    sessions: SessionStore, clock: Clock
) -> None:
    """A main session made from an expiring token takes its app sessions with it."""
    main = await sessions.create(ALICE, method="token", not_after=clock.now + 30)
    app = await app_session_of(sessions, main)
    clock.now += 29
    assert sessions.lookup(app, scope=APP) is not None
    clock.now += 1
    assert sessions.lookup(app, scope=APP) is None


async def test_an_unknown_parent_is_no_parent(sessions: SessionStore) -> None:
    """An app session naming a parent that does not exist is refused."""
    app = await sessions.create(ALICE, method="apps", scope=APP, parent="0" * 64)
    assert sessions.lookup(app, scope=APP) is None


async def test_only_a_main_session_can_be_a_parent(sessions: SessionStore) -> None:
    """An app session cannot lend its life to another: the parent must be main-scoped."""
    main = await sessions.create(ALICE, method="password")
    app = await app_session_of(sessions, main)
    child = await sessions.create(ALICE, method="apps", scope=APP, parent=session_name(app))
    assert sessions.lookup(child, scope=APP) is None


async def test_app_sessions_without_a_parent_keep_their_own_limits(
    sessions: SessionStore, clock: Clock
) -> None:
    """An app session signed in by another credential (no main session) lives by its own limits."""
    app = await sessions.create(ALICE, method="apps", scope=APP)
    clock.now += LIMITS.idle_timeout - 1
    assert sessions.lookup(app, scope=APP) is not None


async def test_sweep_deletes_app_sessions_whose_parent_is_gone(
    sessions: SessionStore, store: MemoryStore
) -> None:
    """The sweeper removes orphaned app sessions from the store and keeps the rest."""
    main = await sessions.create(ALICE, method="password")
    kept_main = await sessions.create(ALICE, method="password")
    orphan = await app_session_of(sessions, main)
    kept = await app_session_of(sessions, kept_main)
    await sessions.revoke(main)
    assert await sessions.sweep() == 1
    names = {item["metadata"]["name"] for item in (await store.list(SESSIONS_PREFIX)).items}
    assert names == {session_name(kept_main), session_name(kept)}
    assert session_name(orphan) not in names
