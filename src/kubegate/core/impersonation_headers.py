"""The ``Impersonate-*`` request headers that ask an API server to act as another identity.

What client-go's ``transport.NewImpersonatingRoundTripper`` sends (``transport/round_trippers.go``),
for mirror mode's via-apiserver proxy (the kube-oidc-proxy model: kubegate authenticates
the user, the upstream API server authorizes the impersonated identity)::

    Impersonate-User: alice
    Impersonate-Uid: u-42                     (only when the user has a uid)
    Impersonate-Group: dev                    (one header per group)
    Impersonate-Extra-<escaped key>: value    (one header per value)

Extra keys are escaped as client-go's ``headerKeyEscape`` does: every byte that is not
legal in a header name, and ``%`` itself, becomes ``%XX`` — the upstream unescapes it with
``url.PathUnescape`` (kube's ``unescapeExtraKey``), so ``example.com/scopes`` survives.

``system:authenticated`` and ``system:unauthenticated`` are not sent: they are derived
groups the upstream's impersonation filter adds by itself (and asking for them would need
an extra ``impersonate`` grant on ``groups`` there for no gain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

__all__ = [
    "DERIVED_GROUPS",
    "ImpersonationValueError",
    "header_key_escape",
    "impersonation_headers",
]

DERIVED_GROUPS: Final = frozenset({"system:authenticated", "system:unauthenticated"})

# RFC 9110 token characters: what a header field name may contain.
_TOKEN: Final = frozenset(
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


class ImpersonationValueError(ValueError):
    """An identity value that cannot travel in a header (a control character)."""


def header_key_escape(key: str) -> str:
    """``key`` with every byte that may not appear in a header name (and ``%``) as ``%XX``."""
    out = []
    for byte in key.encode("utf-8"):
        if byte in _TOKEN and byte != ord("%"):
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def impersonation_headers(
    user: str,
    *,
    uid: str = "",
    groups: Sequence[str] = (),
    extra: Mapping[str, Sequence[str]] | None = None,
) -> list[tuple[str, str]]:
    """The headers that impersonate this identity; raises ImpersonationValueError when a
    value holds a control character (it would split or corrupt the request head)."""
    if not user:
        raise ImpersonationValueError("cannot impersonate an empty user name")
    headers = [("Impersonate-User", _value(user))]
    if uid:
        headers.append(("Impersonate-Uid", _value(uid)))
    headers += [("Impersonate-Group", _value(g)) for g in groups if g not in DERIVED_GROUPS]
    for key, values in sorted((extra or {}).items()):
        name = "Impersonate-Extra-" + header_key_escape(key)
        headers += [(name, _value(v)) for v in values]
    return headers


def _value(text: str) -> str:
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in text):
        raise ImpersonationValueError("an identity value may not contain control characters")
    return text
