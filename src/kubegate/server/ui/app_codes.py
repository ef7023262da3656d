"""Single-use, short-lived codes that carry a main-origin login to an app origin.

The main origin issues a code after checking its own session; the app origin redeems it
for an app-scoped session (server/ui/apps.py). Codes live in the API store so any replica
can redeem a code another issued. Only a SHA-256 of the code is a key, so the store never
holds a usable code. Redeeming deletes the key: the store's delete succeeds once, so a
replayed code finds nothing, even when two replicas race. A code is good for ``ttl``
seconds (60 by default); expired ones are refused and swept on later issues.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubegate.auth.types import UserInfo
from kubegate.store.base import KeyExists, KeyNotFound, Store, StoreError

log = logging.getLogger("kubegate.ui.apps")

PREFIX = "/registry/kubegate.io/appcodes/"
DEFAULT_TTL = 60.0
_SWEEP_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class Grant:
    """What a redeemed code stands for."""

    user: UserInfo
    host: str  # the app host (with port) the code was issued for
    then: str  # where to go after the exchange (a local path)
    state_hash: str  # SHA-256 of the state the app origin set in its own cookie
    parent: str = ""  # the store name of the main session that asked ("": none)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class AppCodes:
    def __init__(
        self, store: Store, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._last_sweep = 0.0

    async def issue(
        self, user: UserInfo, *, host: str, then: str, state: str, parent: str = ""
    ) -> str:
        """A new code for ``user`` on the app ``host``; the caller puts it in a redirect.
        ``parent``: the store name of the main session the app session must not outlive."""
        await self._sweep()
        code = secrets.token_urlsafe(32)
        name = digest(code)
        record = {
            "kind": "AppCode",
            "apiVersion": "kubegate.io/v1",
            "metadata": {"name": name},
            "user": user.to_json(),
            "host": host,
            "then": then,
            "stateHash": digest(state),
            "parent": parent,
            "expires": self.clock() + self.ttl,
        }
        try:
            await self.store.create(PREFIX + name, record)
        except KeyExists:  # 256 random bits: only a broken RNG gets here
            raise RuntimeError("app code collision") from None
        return code

    async def redeem(self, code: str) -> Grant | None:
        """The grant for ``code``, once; None when unknown, used or expired."""
        if not code or len(code) > 200:
            return None
        try:
            record = await self.store.delete(PREFIX + digest(code))
        except KeyNotFound:
            return None
        if float(record.get("expires") or 0) < self.clock():
            return None
        raw_user = record.get("user") or {}
        user = UserInfo(
            name=str(raw_user.get("username") or ""),
            uid=str(raw_user.get("uid") or ""),
            groups=tuple(raw_user.get("groups") or ()),
            extra={k: tuple(v) for k, v in (raw_user.get("extra") or {}).items()},
        )
        if not user.name:
            return None
        return Grant(
            user,
            str(record.get("host") or ""),
            str(record.get("then") or "/"),
            str(record.get("stateHash") or ""),
            str(record.get("parent") or ""),
        )

    async def _sweep(self) -> None:
        """Delete codes that expired unused (at most once a minute, never failing an issue)."""
        now = self.clock()
        if now - self._last_sweep < _SWEEP_EVERY:
            return
        self._last_sweep = now
        try:
            listed = await self.store.list(PREFIX)
            for item in listed.items:
                if float(item.get("expires") or 0) < now:
                    name = (item.get("metadata") or {}).get("name") or ""
                    try:
                        await self.store.delete(PREFIX + name)
                    except KeyNotFound:
                        pass
        except StoreError as exc:
            log.warning("sweeping expired app codes failed: %s", exc)
