"""The authorizer named by ``--authorization-mode``, set up and started for the server.

``RBAC`` (the default): the bootstrap roles and bindings are created if missing, then the
RBAC authorizer's caches are filled before the server accepts a request (a request decided
against half-listed bindings would be denied for no reason). ``AlwaysAllow``: every
authenticated request is allowed; said loudly, since it turns the proxy into an open door
for anyone holding any valid credential.

Under RBAC, writes of Roles and bindings also pass kube's privilege-escalation check
(``auth/escalation.py``); under AlwaysAllow every user may bind and escalate anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TextIO

from kubegate.auth.bootstrap_policy import ensure_bootstrap_policy
from kubegate.auth.chain import AlwaysAllow
from kubegate.auth.escalation import EscalationGuard
from kubegate.auth.rbac import RBACAuthorizer
from kubegate.auth.types import Authorizer
from kubegate.store.base import Store

log = logging.getLogger("kubegate.authz")

AUTHORIZATION_MODES = ("RBAC", "AlwaysAllow")
SYNC_LIMIT = 30.0


async def _nothing() -> None:
    return None


async def start_authorizer(
    mode: str, store: Store, out: TextIO
) -> tuple[Authorizer, Callable[[], Awaitable[None]]]:
    """The started authorizer and an async ``stop`` for it."""
    if mode not in AUTHORIZATION_MODES:
        raise ValueError(f"unknown authorization mode {mode!r} (want one of {AUTHORIZATION_MODES})")
    # Created in both modes, so switching to RBAC later finds the defaults in place.
    await ensure_bootstrap_policy(store)
    if mode == "AlwaysAllow":
        warning = (
            "WARNING: --authorization-mode AlwaysAllow: every authenticated user may do "
            "anything, including reaching every backend through the proxy"
        )
        log.warning(warning)
        print(warning, file=out, flush=True)
        return AlwaysAllow(), _nothing
    rbac = RBACAuthorizer(store)
    rbac.start()
    if not await rbac.wait_synced(SYNC_LIMIT):
        await rbac.stop()
        raise RuntimeError(f"RBAC caches did not sync within {SYNC_LIMIT:.0f}s")
    return rbac, rbac.stop


def escalation_check_for(authorizer: Authorizer, store: Store) -> EscalationGuard | None:
    """The RBAC write guard for ``ResourceHandlers`` (None unless the authorizer is RBAC)."""
    if isinstance(authorizer, RBACAuthorizer):
        return EscalationGuard(authorizer, store)
    return None
