"""Entity tags of rewritten responses (RFC 9110 §8.8.3): pure functions, no IO.

A rewritten body is not the backend's bytes, so its ``ETag`` is relayed weak (``W/"x"``):
still good for ``If-None-Match`` (weak comparison), never for ``If-Range`` (strong only),
which would splice the backend's bytes into the rewritten copy. A 304 stands for the 200
the client cached, so it must carry the same (weak) form.
"""

from __future__ import annotations

import re

_ENTITY_TAG = re.compile(r'(?:W/)?"[^"]*"')


def weak_etag(etag: str) -> str:
    """``etag`` as a weak validator (unchanged if it already is one)."""
    return etag if etag.startswith("W/") else "W/" + etag


def holds_weak_form(if_none_match: str | None, etag: str) -> bool:
    """Whether the client's ``If-None-Match`` lists the weak form of the strong ``etag``: it
    cached a response whose validator kubegate (or the backend) had weakened."""
    if not if_none_match or etag.startswith("W/"):
        return False
    return ("W/" + etag) in _ENTITY_TAG.findall(if_none_match)
