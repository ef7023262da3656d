"""Which local identities a via-apiserver mirror refuses to impersonate upstream.

Impersonation hands the upstream whatever user name and groups kubegate asserts, so a
local identity that means more upstream than intended is refused before any request
leaves: above all a member of ``system:masters``, which kube-apiserver lets past every
authorization check (RBAC cannot take it away) and which kubegate's own admin credential
carries. The upstream's RBAC, restricted with ``resourceNames`` on ``impersonate``, is the
real boundary (docs/mirror.md); this list is kubegate's own refusal, so that a cluster whose
RBAC grants ``impersonate`` on every group does not turn the mirror's admin into the
cluster's.

Entries are exact names, or a prefix followed by ``*`` (``system:node:*``). Only the groups
that are impersonated count: ``system:authenticated`` and ``system:unauthenticated`` are
never sent (``impersonation_headers.DERIVED_GROUPS``), so listing them refuses nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from kubegate.core.impersonation_headers import DERIVED_GROUPS

__all__ = [
    "DEFAULT_DENIED_GROUPS",
    "ImpersonationDenyList",
    "ImpersonationRefusal",
    "parse_deny_entries",
]

DEFAULT_DENIED_GROUPS: Final = ("system:masters",)


@dataclass(frozen=True, slots=True)
class ImpersonationRefusal:
    """Why an identity is not impersonated: the ``kind`` ("users" or "groups", as kube's
    impersonation resources), the refused ``name`` and the deny-list ``entry`` it matched."""

    kind: str
    name: str
    entry: str


@dataclass(frozen=True, slots=True)
class ImpersonationDenyList:
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = DEFAULT_DENIED_GROUPS

    def refusal(self, user: str, groups: Sequence[str]) -> ImpersonationRefusal | None:
        """The first reason not to impersonate ``user`` with ``groups``; None to go ahead."""
        entry = _first_match(self.users, user)
        if entry is not None:
            return ImpersonationRefusal("users", user, entry)
        for group in groups:
            if group in DERIVED_GROUPS:
                continue
            entry = _first_match(self.groups, group)
            if entry is not None:
                return ImpersonationRefusal("groups", group, entry)
        return None


def parse_deny_entries(text: str) -> tuple[str, ...]:
    """A comma-separated deny list (blanks ignored); ValueError for a ``*`` anywhere but at
    the end of an entry, or an entry that is ``*`` alone (use RBAC to refuse everyone)."""
    entries = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        if "*" in entry[:-1] or entry == "*":
            raise ValueError(f"{entry!r}: '*' may only end a prefix, as in 'system:node:*'")
        entries.append(entry)
    return tuple(dict.fromkeys(entries))


def _first_match(entries: Iterable[str], name: str) -> str | None:
    for entry in entries:
        if entry.endswith("*") and name.startswith(entry[:-1]):
            return entry
        if entry == name:
            return entry
    return None
