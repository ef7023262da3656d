"""auth/sessions.py on the reference store with a controlled clock: secrets never stored,
idle and absolute expiry, throttled activity writes, revocation, scopes, sweeping, and two
mirrors of one store seeing each other's logins and logouts."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubegate.auth.sessions import (
    MAX_SESSIONS_PER_USER,
    SESSIONS_PREFIX,
    SessionLimits,
    SessionStore,
    session_key,
)
from kubegate.auth.types import UserInfo
from kubegate.store.memory import MemoryStore

ALICE = UserInfo("alice", "u-1", ("dev", "ops"), {"scopes": ("a", "b")})
LIMITS = SessionLimits(idle_timeout=100.0, max_age=1000.0)  # touch interval 25 s


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryStore):
    """A memory store that counts the writes made to session keys after creation."""

    def __init__(self) -> None:
        super().__init__()
        self.updates = 0

    async def guaranteed_update(self, key: str, mutate: Callable[[Any], Any], **kw: Any) -> Any:
        self.updates += 1
        return await super().guaranteed_update(key, mutate, **kw)


@pytest.fixture
async def store() -> AsyncIterator[CountingStore]:
    store = CountingStore()
    await store.start()
    yield store
    await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sessions(store: CountingStore, clock: Clock) -> AsyncIterator[SessionStore]:
    sessions = SessionStore(store, LIMITS, clock=clock)
    sessions.start()
    assert await sessions.wait_synced()
    yield sessions
    await sessions.stop()


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - state changed by the store's watch task
            await asyncio.sleep(0.005)


async def test_created_session_is_found_with_its_user(sessions: SessionStore) -> None:
    """lookup(secret) right after create returns the user, method and times."""
    secret = await sessions.create(ALICE, method="basic")
    session = sessions.lookup(secret)
    assert session is not None
    assert (session.user, session.method, session.scope) == (ALICE, "basic", "")


async def test_secret_is_256_bit_random(sessions: SessionStore) -> None:
    """Secrets are 43 URL-safe characters (32 random bytes) and never repeat."""
    secrets = {await sessions.create(ALICE, method="basic") for _ in range(5)}
    assert len(secrets) == 5
    assert all(len(s) == 43 and s.replace("-", "").replace("_", "").isalnum() for s in secrets)


async def test_store_holds_a_digest_not_the_secret(
    sessions: SessionStore, store: CountingStore
) -> None:
    """The store key is the SHA-256 of the secret and no stored byte contains the secret."""
    secret = await sessions.create(ALICE, method="basic")
    listed = await store.list_raw("/registry/")
    assert len(listed.items) == 1
    assert secret.encode() not in listed.items[0]
    key = SESSIONS_PREFIX + hashlib.sha256(secret.encode()).hexdigest()
    assert (await store.get(key))["user"]["username"] == "alice"


async def test_sessions_live_outside_every_api_resource_prefix(
    sessions: SessionStore, store: CountingStore
) -> None:
    """No resource collection of the API lists a session."""
    from kubegate.api.resources import RESOURCE_TYPES  # every served resource type

    await sessions.create(ALICE, method="basic")
    for resource in RESOURCE_TYPES:
        result = await store.list(f"/registry/{resource.plural}/")
        assert not result.items, resource.plural


async def test_unknown_and_malformed_secrets_find_nothing(sessions: SessionStore) -> None:
    """A guessed, empty or oversized secret is not a session."""
    await sessions.create(ALICE, method="basic")
    for secret in ("nope", "", "x" * 10_000):
        assert sessions.lookup(secret) is None


async def test_idle_session_expires(sessions: SessionStore, clock: Clock) -> None:
    """No request for the idle timeout ends the session."""
    secret = await sessions.create(ALICE, method="basic")
    clock.now += LIMITS.idle_timeout - 1
    assert sessions.lookup(secret) is not None
    clock.now += LIMITS.idle_timeout
    assert sessions.lookup(secret) is None


async def test_activity_keeps_a_session_alive_past_the_idle_timeout(
    sessions: SessionStore, clock: Clock
) -> None:
    """Requests closer together than the idle timeout keep the session going."""
    secret = await sessions.create(ALICE, method="basic")
    for _ in range(5):
        clock.now += LIMITS.idle_timeout * 0.9
        assert sessions.lookup(secret) is not None


async def test_absolute_expiry_ends_an_active_session(sessions: SessionStore, clock: Clock) -> None:
    """max_age after sign-in the session ends, however busy it is."""
    secret = await sessions.create(ALICE, method="basic")
    steps = int(LIMITS.max_age // 50)
    for _ in range(steps - 1):
        clock.now += 50
        assert sessions.lookup(secret) is not None
    clock.now += 50
    assert sessions.lookup(secret) is None


async def test_session_ends_with_its_credential(sessions: SessionStore, clock: Clock) -> None:
    """A session made from an expiring credential ends at that expiry."""
    secret = await sessions.create(ALICE, method="token", not_after=clock.now + 10)
    clock.now += 9
    assert sessions.lookup(secret) is not None
    clock.now += 1
    assert sessions.lookup(secret) is None


async def test_activity_writes_are_throttled(
    sessions: SessionStore, store: CountingStore, clock: Clock
) -> None:
    """Many requests within the touch interval cause no store write; the next one does."""
    secret = await sessions.create(ALICE, method="basic")
    for _ in range(100):
        clock.now += 0.1
        assert sessions.lookup(secret) is not None
    await asyncio.sleep(0.05)
    assert store.updates == 0
    clock.now += LIMITS.touch_interval
    sessions.lookup(secret)
    await until(lambda: store.updates == 1)
    key = session_key(secret)
    await until(lambda: (s := sessions.get_by_key(key)) is not None and s.last_seen == clock.now)
    assert (await store.get(key))["lastSeen"] == clock.now


async def test_revoked_session_is_gone(sessions: SessionStore, store: CountingStore) -> None:
    """revoke ends the session and deletes it from the store."""
    secret = await sessions.create(ALICE, method="basic")
    await sessions.revoke(secret)
    assert sessions.lookup(secret) is None
    assert not (await store.list(SESSIONS_PREFIX)).items


async def test_revoking_an_unknown_secret_is_harmless(sessions: SessionStore) -> None:
    """revoke of a secret that names nothing does nothing."""
    secret = await sessions.create(ALICE, method="basic")
    await sessions.revoke("unknown")
    await sessions.revoke("")
    assert sessions.lookup(secret) is not None


async def test_scopes_do_not_mix(sessions: SessionStore) -> None:
    """A session of one scope is not found in another (nor in the main one)."""
    app = await sessions.create(ALICE, method="apps", scope="8080--web--team.apps.localhost")
    main = await sessions.create(ALICE, method="basic")
    assert sessions.lookup(app) is None
    assert sessions.lookup(app, scope="8080--web--team.apps.localhost") is not None
    assert sessions.lookup(main, scope="8080--web--team.apps.localhost") is None


async def test_sweep_deletes_only_expired_sessions(
    sessions: SessionStore, store: CountingStore, clock: Clock
) -> None:
    """The sweeper removes expired sessions from the store and keeps live ones."""
    old = await sessions.create(ALICE, method="basic")
    clock.now += LIMITS.idle_timeout / 2
    fresh = await sessions.create(ALICE, method="basic")
    clock.now += LIMITS.idle_timeout / 2 + 1
    assert await sessions.sweep() == 1
    names = {item["metadata"]["name"] for item in (await store.list(SESSIONS_PREFIX)).items}
    assert names == {session_key(fresh).rsplit("/", 1)[1]}
    assert sessions.lookup(old) is None and sessions.lookup(fresh) is not None


async def test_sessions_per_user_are_capped(sessions: SessionStore, store: CountingStore) -> None:
    """Signing in again and again keeps at most MAX_SESSIONS_PER_USER sessions: the oldest go."""
    first = await sessions.create(ALICE, method="basic")
    for _ in range(MAX_SESSIONS_PER_USER):
        last = await sessions.create(ALICE, method="basic")
    assert len((await store.list(SESSIONS_PREFIX)).items) == MAX_SESSIONS_PER_USER
    assert sessions.lookup(first) is None and sessions.lookup(last) is not None


async def test_the_cap_counts_each_scope_apart(sessions: SessionStore) -> None:
    """Many app-scoped sessions never push out the user's main session."""
    main = await sessions.create(ALICE, method="basic")
    for number in range(MAX_SESSIONS_PER_USER + 1):
        await sessions.create(ALICE, method="apps", scope=f"app-{number}")
    assert sessions.lookup(main) is not None


async def test_a_second_mirror_sees_logins_and_logouts(
    sessions: SessionStore, store: CountingStore, clock: Clock
) -> None:
    """Another SessionStore on the same store (another replica) finds a new session and
    loses a revoked one, through its watch."""
    replica = SessionStore(store, LIMITS, clock=clock)
    replica.start()
    try:
        assert await replica.wait_synced()
        secret = await sessions.create(ALICE, method="basic")
        await until(lambda: replica.lookup(secret) is not None)
        assert replica.lookup(secret).user == ALICE  # type: ignore[union-attr]
        await replica.revoke(secret)
        await until(lambda: sessions.lookup(secret) is None)
    finally:
        await replica.stop()


async def test_a_replica_started_later_lists_existing_sessions(
    sessions: SessionStore, store: CountingStore, clock: Clock
) -> None:
    """A replica that starts after the login knows the session once synced."""
    secret = await sessions.create(ALICE, method="basic")
    replica = SessionStore(store, LIMITS, clock=clock)
    replica.start()
    try:
        assert await replica.wait_synced()
        assert replica.lookup(secret) is not None
    finally:
        await replica.stop()


async def test_malformed_stored_object_is_ignored(
    sessions: SessionStore, store: CountingStore
) -> None:
    """Garbage under the sessions prefix does not break the mirror (and is no session)."""
    await store.create(SESSIONS_PREFIX + "junk", {"metadata": {"name": "junk"}, "user": 3})
    secret = await sessions.create(ALICE, method="basic")
    assert sessions.lookup(secret) is not None
    assert len(sessions) == 1


def test_limits_must_be_positive() -> None:
    """A zero or negative timeout is refused."""
    with pytest.raises(ValueError):
        SessionLimits(idle_timeout=0).check()
    with pytest.raises(ValueError):
        SessionLimits(max_age=-1).check()


def test_touch_interval_is_bounded_by_the_idle_timeout() -> None:
    """Activity is written at most every minute, and often enough for short idle timeouts."""
    assert SessionLimits(idle_timeout=3600).touch_interval == 60
    assert SessionLimits(idle_timeout=8).touch_interval == 2
    assert json.dumps(SessionLimits().touch_interval)  # a plain number
