"""Content-Security-Policy edits for proxied pages (CSP Level 3).

:func:`allow_inline_script` lets exactly one injected inline script run under a backend's
policy, and nothing else: in every policy of the header (comma-separated) it finds the
directive that governs ``<script>`` elements — ``script-src-elem``, else ``script-src``,
else ``default-src`` (the first of a repeated name counts, as in a browser) — and appends the
script's hash source (``'sha256-…'``). It changes nothing when the policy has no such
directive, or when that directive already allows inline scripts (``'unsafe-inline'`` with
no nonce, hash or ``'strict-dynamic'`` beside it — adding a hash would switch
``'unsafe-inline'`` off and break the page's own scripts). ``'none'`` is dropped from the
edited directive only, as it cannot stand next to another source. Every other directive
keeps its exact text: the policy is never weakened beyond that one script.

:func:`sandbox_policy` builds the ``sandbox`` policy of the ``kubegate.io/sandbox``
annotation from its tokens.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

__all__ = [
    "allow_inline_script",
    "restricts_inline_scripts",
    "sandbox_policy",
    "script_hash_source",
]

_GOVERNING: Final = ("script-src-elem", "script-src", "default-src")
_KEEPS_INLINE_OFF: Final = ("'nonce-", "'sha256-", "'sha384-", "'sha512-", "'strict-dynamic'")
_SANDBOX_TOKEN_RE: Final = re.compile(r"allow-[a-z][a-z-]*")


def script_hash_source(script_text: str) -> str:
    """The CSP hash source of an inline script's text (``'sha256-<base64>'``)."""
    digest = hashlib.sha256(script_text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def allow_inline_script(header_value: str, source: str) -> str:
    """The header value with ``source`` (a hash or nonce source, or several separated by
    spaces) allowed for scripts."""
    return ",".join(_policy_with(policy, source) for policy in header_value.split(","))


def restricts_inline_scripts(header_value: str) -> bool:
    """Whether a policy of the header keeps some inline script from running (an inline
    script's text must then match a hash, or carry a nonce)."""
    return any(_governing(policy) is not None for policy in header_value.split(","))


def _governing(policy: str) -> tuple[list[str], int] | None:
    """The policy's directives and the index of the one governing ``<script>`` elements;
    None when nothing restricts inline scripts."""
    directives = policy.split(";")
    names = [
        directive.strip().split(None, 1)[0].lower() if directive.strip() else ""
        for directive in directives
    ]
    for governing in _GOVERNING:
        if governing in names:
            index = names.index(governing)
            break
    else:
        return None
    sources = [token.lower() for token in directives[index].split()[1:]]
    if "'unsafe-inline'" in sources and not any(s.startswith(_KEEPS_INLINE_OFF) for s in sources):
        return None
    return directives, index


def _policy_with(policy: str, source: str) -> str:
    found = _governing(policy)
    if found is None:
        return policy
    directives, index = found
    tokens = directives[index].split()
    kept = [tokens[0]] + [t for t in tokens[1:] if t.lower() != "'none'"]
    leading = directives[index][: len(directives[index]) - len(directives[index].lstrip())]
    directives[index] = leading + " ".join([*kept, source])
    return ";".join(directives)


def sandbox_policy(tokens: str) -> str:
    """``sandbox`` with the annotation's ``allow-*`` tokens; anything else in it is left
    out, so a malformed value fails closed (the strictest sandbox)."""
    allowed = [token for token in tokens.split() if _SANDBOX_TOKEN_RE.fullmatch(token)]
    return " ".join(["sandbox", *allowed])
