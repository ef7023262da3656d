"""The fast lane of core.rewrite_html: core.html_fast's patterns driven over a buffer.

:meth:`FastLane.scan` runs ``FAST_RE`` from a position the exact path has reached, match
after match, and writes the rewritten markup out: each stretch the gap took with the
prefix put after every NEEDLE (one ``split``/``join`` in C), each candidate value replaced
in Python. It stops where the gap stopped, or at a tag whose absolute URL is on the
backend's own host, and says where: from there the exact path reads. When a stretch holds
an ABSOLUTE that may point at the backend (an own host, or one spelt so that only the exact
path can tell), nothing of it is written: the exact path must read the whole stretch.
"""

from __future__ import annotations

from typing import Final

from kubegate.core.html_fast import (
    ABSOLUTE,
    FAST_RE,
    HOST_GROUPS,
    NEEDLE,
    PLAIN_GROUPS,
    TAG_GROUP,
    unsure_absolute_re,
)
from kubegate.core.html_values import decode_attribute, encode_attribute, rewrite_srcset
from kubegate.core.rewrite_url import UrlRule

__all__ = ["FastLane"]

_PREFIX_ENDS: Final = b"/?#"  # after the prefix, what makes a path already lie under it


class FastLane:
    """The fast lane for one rule (one response)."""

    def __init__(self, rule: UrlRule) -> None:
        self.rule = rule
        self._prefix = rule.prefix.encode("ascii")
        # The hosts of the rule's origins: an absolute URL on any other host stays as it is.
        self._hosts = frozenset(origin[1].encode("utf-8", "replace") for origin in rule.origins)
        self._unsure_absolute = unsure_absolute_re(frozenset(o[1] for o in rule.origins))
        self._needle_prefixed = NEEDLE[:2] + self._prefix  # a value maybe already prefixed
        self._needle_rewritten = NEEDLE[:2] + self._prefix + NEEDLE[2:]

    def scan(self, buffer: bytes, position: int, out: list[bytes]) -> tuple[int, int]:
        """Rewrite from ``position`` on, appending to ``out``; returns where the output
        stops (the exact path goes on from there) and how far the exact path must read
        before the fast lane may run again (0: no such bound)."""
        match = FAST_RE.match
        copied = position
        while True:
            found = match(buffer, position)
            assert found is not None  # FAST_RE matches anywhere, if only the empty string
            group = found.lastindex  # the last group that matched: the candidate's value
            if group is None:
                stop = found.end()
                break
            start, stop = found.span(group)
            if group in HOST_GROUPS:
                if buffer[start:stop].lower().removesuffix(b".") in self._hosts:
                    stop = found.start(TAG_GROUP)  # the backend's own host: the exact path
                    break
            else:
                new = self._candidate(buffer, group, start, stop)
                if new is not None:
                    stretch = self._stretch(buffer[copied:start])
                    if stretch is None:
                        return copied, found.end()
                    out.append(stretch)
                    out.append(new)
                    copied = start if group in PLAIN_GROUPS else stop
            position = found.end()
        stretch = self._stretch(buffer[copied:stop])
        if stretch is None:
            return copied, stop
        out.append(stretch)
        return stop, 0

    def _candidate(self, buffer: bytes, group: int, start: int, stop: int) -> bytes | None:
        """What goes in at a candidate value: the prefix in front of a plain path (None if
        it is already there), or a rewritten srcset (None if it stays)."""
        if group in PLAIN_GROUPS:
            prefix = self._prefix
            size = len(prefix)
            if buffer.startswith(prefix, start, stop) and (
                stop - start == size or buffer[start + size] in _PREFIX_ENDS
            ):
                return None
            return prefix
        text = rewrite_srcset(decode_attribute(buffer[start:stop]), self.rule.rewrite)
        return None if text is None else encode_attribute(text, '"')

    def _stretch(self, markup: bytes) -> bytes | None:
        """Markup the gap took, rewritten: the prefix after every NEEDLE (each starts a
        plain path in a URL attribute) unless it is already there. None when an ABSOLUTE
        in it may point at the backend."""
        if ABSOLUTE in markup and self._unsure_absolute.search(markup) is not None:
            return None
        if NEEDLE not in markup:
            return markup
        if self._needle_prefixed not in markup:
            return self._needle_rewritten.join(markup.split(NEEDLE))
        pieces = []
        copied = 0
        found = markup.find(NEEDLE)
        while found >= 0:
            start = found + 2
            stop = markup.index(b'"', start)
            if not self.rule.is_prefixed(markup[start:stop].decode("ascii", "surrogateescape")):
                pieces.append(markup[copied:start])
                pieces.append(self._prefix)
                copied = start
            found = markup.find(NEEDLE, stop)
        pieces.append(markup[copied:])
        return b"".join(pieces)
