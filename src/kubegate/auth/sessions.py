"""Browser sessions, kept in the API store so every replica on that store shares them.

A session is created at login and named by a 256-bit random secret (the cookie value).
The store never holds the secret: the key is ``/registry/kubegate.io/sessions/<sha256 hex of
the secret>``, outside every resource prefix the API serves, so neither a list nor a watch
of any API resource can reveal it, and a copy of the store cannot be replayed as cookies.

Each replica mirrors the prefix with an informer (list + watch), so :meth:`SessionStore.lookup`
is a synchronous dict lookup — the authenticator protocol is synchronous — and a login or
logout on one replica is seen by the others within one watch event.

Expiry, in wall-clock seconds (replicas share it):

- **idle**: no request for ``idle_timeout`` (default 1 h) ends the session;
- **absolute**: ``max_age`` (default 12 h) after login it ends whatever the activity;
- **credential**: a session made from an expiring credential (a pasted JWT) ends with it;
  and one whose credential stops being valid — a user removed from the password file or
  given another password, a token removed from the token file, a deleted or re-created
  ServiceAccount — is refused from then on (auth/session_credentials.py records what to
  check at sign-in and checks it on every lookup). It is deleted from the store in the
  background once it is ``CREDENTIAL_SETTLE`` seconds old: a replica whose view of the files
  or the ServiceAccounts lags the one that signed the user in by a moment refuses a
  brand-new session but does not delete it;
- **parent**: an app origin's session (``--apps-domain``) names the main session it was
  made from (``parent``: that session's store name, never its secret) and is refused
  the moment the parent is gone or expired — signing out on the main origin, or the main
  session idling out or reaching its credential's expiry, ends every app session made from
  it. The check is a lookup in the same watch-fed map, so a logout on one replica (a store
  delete) ends the app sessions on every replica within one watch event. Using an app does
  not keep its parent alive: a parent's activity is its own origin's requests.

Activity is recorded in memory on every lookup and written to the store at most once per
``touch_interval`` per session (a quarter of the idle timeout, at most a minute) by one
background task, so requests never wait for a store write and other replicas see a
session's activity at most that late. A sweeper deletes expired sessions from the store
periodically; several replicas sweeping at once is harmless (a delete is conditional on the
revision the sweeper saw).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubegate.auth.session_credentials import CredentialChecks, SessionCredential, Verdict
from kubegate.auth.session_objects import Session, from_object, to_object, touched
from kubegate.auth.types import UserInfo
from kubegate.store.base import JSON, KeyExists, KeyNotFound, Store, StoreError, VersionConflict
from kubegate.store.informer import Informer, ObjectCache, resource_version, wait_synced

log = logging.getLogger(__name__)

SESSIONS_PREFIX = "/registry/kubegate.io/sessions/"
DEFAULT_IDLE_TIMEOUT = 3600.0
DEFAULT_MAX_AGE = 12 * 3600.0
# Per user and scope: a user signing in in a loop cannot grow the store without bound, and
# opening many app origins (one scope each) never pushes out the main session.
MAX_SESSIONS_PER_USER = 64
MAX_SECRET_LENGTH = 128  # token_urlsafe(32) is 43 characters; anything much longer is junk
CREDENTIAL_SETTLE = 5.0  # see the module docstring: a file re-read (1 s) plus clock skew


@dataclass(frozen=True, slots=True)
class SessionLimits:
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_age: float = DEFAULT_MAX_AGE

    @property
    def touch_interval(self) -> float:
        """How stale the stored last-seen time may get while a session is in use."""
        return min(60.0, self.idle_timeout / 4)

    @property
    def sweep_interval(self) -> float:
        return max(0.5, min(60.0, self.idle_timeout / 2))

    def check(self) -> None:
        """Raises ValueError for unusable limits."""
        if self.idle_timeout <= 0 or self.max_age <= 0:
            raise ValueError("session timeouts must be positive")


def session_name(secret: str) -> str:
    """The store name of the session a secret names: its SHA-256 (the secret is never stored)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def session_key(secret: str) -> str:
    """The store key of the session a secret names."""
    return SESSIONS_PREFIX + session_name(secret)


class SessionStore:
    """Sessions on the API store, mirrored in memory; see the module docstring."""

    def __init__(
        self,
        store: Store,
        limits: SessionLimits | None = None,
        *,
        clock: Callable[[], float] = time.time,
        credentials: CredentialChecks | None = None,
    ) -> None:
        self.limits = limits or SessionLimits()
        self.credentials = credentials  # None: sessions are not checked against credentials
        self._store = store
        self._clock = clock
        self._cache = ObjectCache()
        self._sessions: dict[str, tuple[Session, int]] = {}  # key -> (session, revision)
        self._seen: dict[str, float] = {}  # key -> last request seen by this replica
        self._touches: dict[str, float] = {}  # key -> last-seen time to write
        self._queued: dict[str, float] = {}  # key -> the last time a touch was queued
        self._touch_wanted = asyncio.Event()
        self._to_end: set[str] = set()  # keys whose credential failed: to delete
        self._end_wanted = asyncio.Event()
        self._informer = Informer(store, SESSIONS_PREFIX, self._cache, self._on_change)
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._informer.run(), name="session-informer"),
            asyncio.create_task(self._touch_loop(), name="session-touch"),
            asyncio.create_task(self._sweep_loop(), name="session-sweep"),
            asyncio.create_task(self._end_loop(), name="session-credential-revoke"),
        ]

    async def wait_synced(self, limit: float = 10.0) -> bool:
        return await wait_synced([self._informer], limit)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # -- the interface -----------------------------------------------------------------------

    async def create(
        self,
        user: UserInfo,
        *,
        method: str,
        scope: str = "",
        not_after: float | None = None,
        parent: str = "",
        credential: SessionCredential | None = None,
    ) -> str:
        """A new session for ``user``; returns its secret (the cookie value). ``parent``: the
        store name (:func:`session_name`) of the main session this one must not outlive;
        ``credential``: what to re-check on every lookup (auth/session_credentials.py)."""
        now = self._clock()
        session = Session(user, method, now, now, scope, not_after or 0.0, parent, credential)
        while True:
            secret = secrets.token_urlsafe(32)
            key = session_key(secret)
            try:
                stored = await self._store.create(key, to_object(session, key.rsplit("/", 1)[1]))
            except KeyExists:  # 2^-256; but never hand out someone else's session
                continue
            break
        self._adopt(key, stored)
        await self._enforce_user_cap(user.name, scope, keep=key)
        return secret

    def lookup(self, secret: str, *, scope: str = "") -> Session | None:
        """The live session ``secret`` names in ``scope``; None when it is unknown, expired,
        revoked, of another scope, its credential no longer holds, or its parent is no longer
        live. Records the activity (see the module docstring)."""
        if not secret or len(secret) > MAX_SECRET_LENGTH:
            return None
        key = session_key(secret)
        entry = self._sessions.get(key)
        if entry is None or entry[0].scope != scope:
            return None
        session = entry[0]
        now = self._clock()
        if self._expired(session, self._last_seen(key, session), now):
            return None
        verdict = self._verdict(session)
        if verdict is not Verdict.HOLDS:
            if verdict is Verdict.FAILS and now - session.created >= CREDENTIAL_SETTLE:
                self._to_end.add(key)
                self._end_wanted.set()
            return None
        self._seen[key] = now
        written = max(session.last_seen, self._queued.get(key, 0.0))
        if now - written >= self.limits.touch_interval:
            self._queued[key] = self._touches[key] = now
            self._touch_wanted.set()
        return session

    async def revoke(self, secret: str) -> None:
        """End the session ``secret`` names, on every replica (unknown secrets: no-op)."""
        if not secret or len(secret) > MAX_SECRET_LENGTH:
            return
        await self._delete(session_key(secret))

    # -- expiry ------------------------------------------------------------------------------

    def _expired(self, session: Session, seen: float, now: float) -> bool:
        limits = self.limits
        return (
            now - seen >= limits.idle_timeout
            or now - session.created >= limits.max_age
            or (session.not_after > 0 and now >= session.not_after)
            or (bool(session.parent) and not self._parent_live(session.parent, now))
        )

    def _parent_live(self, name: str, now: float) -> bool:
        """Whether the main session named ``name`` exists and has not expired (read-only:
        looking at a parent is not activity on it)."""
        key = SESSIONS_PREFIX + name
        entry = self._sessions.get(key)
        if entry is None:
            return False
        parent = entry[0]
        if parent.scope or parent.parent:  # only a main-origin session can be a parent
            return False
        if self._expired(parent, self._last_seen(key, parent), now):
            return False
        return self._verdict(parent) is Verdict.HOLDS

    def _verdict(self, session: Session) -> Verdict:
        """Whether the credential ``session`` was made from still holds."""
        if self.credentials is None:
            return Verdict.HOLDS
        return self.credentials.verdict(
            session.method, session.user, session.credential, session.not_after
        )

    def _credential_failed(self, session: Session, now: float) -> bool:
        """Settled: the credential fails, and the session is old enough that this replica's
        view of it is not just behind the one that signed the user in."""
        return (
            now - session.created >= CREDENTIAL_SETTLE and self._verdict(session) is Verdict.FAILS
        )

    def _last_seen(self, key: str, session: Session) -> float:
        return max(session.last_seen, self._seen.get(key, 0.0))

    async def sweep(self) -> int:
        """Delete every expired session from the store; returns how many went."""
        now = self._clock()
        if not self._informer.synced.is_set():
            return 0  # a parent not mirrored yet would look gone
        expired = [
            (key, revision)
            for key, (session, revision) in self._sessions.items()
            if self._expired(session, self._last_seen(key, session), now)
            or self._credential_failed(session, now)
        ]
        for key, revision in expired:
            await self._delete(key, revision)
        return len(expired)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.limits.sweep_interval)
            try:
                swept = await self.sweep()
            except StoreError as exc:
                log.warning("sweeping expired sessions failed: %s", exc)
                continue
            if swept:
                log.debug("swept %d expired sessions", swept)

    async def _end_loop(self) -> None:
        """Delete the sessions lookups found with a failed credential, soon and off the
        request's path (any revision: whatever was touched since, the credential is gone)."""
        while True:
            await self._end_wanted.wait()
            self._end_wanted.clear()
            to_end, self._to_end = self._to_end, set()
            for key in to_end:
                entry = self._sessions.get(key)
                if entry is None:
                    continue
                try:
                    await self._delete(key)
                except StoreError as exc:
                    log.warning("ending a session whose credential failed: %s", exc)
                    continue
                log.info(
                    "ended a session of %r: its credential is no longer valid", entry[0].user.name
                )

    # -- the store and the mirror ------------------------------------------------------------

    async def _delete(self, key: str, revision: int | None = None) -> None:
        try:
            last = await self._store.delete(key, revision)
        except (KeyNotFound, VersionConflict):
            return  # gone already, or touched since (a sweeper must not end a live session)
        self._cache.remove(key, resource_version(last))
        self._forget(key)

    async def _enforce_user_cap(self, username: str, scope: str, *, keep: str) -> None:
        mine = sorted(  # oldest first; the store revision orders sign-ins within one tick
            (session.created, revision, key)
            for key, (session, revision) in self._sessions.items()
            if session.user.name == username and session.scope == scope and key != keep
        )
        for _, revision, key in mine[: max(0, len(mine) + 1 - MAX_SESSIONS_PER_USER)]:
            await self._delete(key, revision)

    async def _touch_loop(self) -> None:
        while True:
            await self._touch_wanted.wait()
            self._touch_wanted.clear()
            pending, self._touches = self._touches, {}
            for key, seen in pending.items():
                try:
                    stored = await self._store.guaranteed_update(key, touched(seen))
                except KeyNotFound:
                    continue  # revoked meanwhile
                except (StoreError, TypeError, ValueError) as exc:
                    log.warning("recording session activity failed: %s", exc)
                    continue
                self._adopt(key, stored)

    def _adopt(self, key: str, obj: JSON) -> None:
        """Take an object this replica just wrote (never moves the mirror backwards)."""
        changed = self._cache.upsert(key, obj)
        if changed is not None:
            self._on_change(key, changed[0], changed[1])

    def _on_change(self, key: str, old: JSON | None, new: JSON | None) -> None:
        if new is None:
            self._forget(key)
            return
        try:
            session = from_object(new)
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("ignoring a malformed session object in the store")
            self._forget(key)
            return
        self._sessions[key] = (session, resource_version(new))

    def _forget(self, key: str) -> None:
        self._sessions.pop(key, None)
        self._seen.pop(key, None)
        self._touches.pop(key, None)
        self._queued.pop(key, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def get_by_key(self, key: str) -> Session | None:
        """The mirrored session under a store key, expired or not (tests, diagnostics)."""
        entry = self._sessions.get(key)
        return None if entry is None else entry[0]
