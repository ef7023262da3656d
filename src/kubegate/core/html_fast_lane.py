"""The fast lane of core.rewrite_html: core.html_fast's patterns driven over a buffer.

:meth:`FastLane.scan` reads from a position the exact path has reached and writes the
rewritten markup out: each stretch of the gap with the prefix put after every NEEDLE (one
``split``/``join`` in C), each candidate value replaced in Python. Two tiers read the gap:
core.html_fast_dfa's DFA (RE2) takes as much as its narrower grammar allows, then
``STEP_RE`` (sre) takes one construct or a candidate tag, and the DFA goes on; without
RE2, ``FAST_RE`` reads it all. The scan stops where neither can go on, or at a tag whose
absolute URL is on the backend's own host, and says where: from there the exact path
reads. When a stretch holds an ABSOLUTE that may point at the backend (an own host, or
one spelt so that only the exact path can tell), nothing of it is written: the exact
path must read the whole stretch.

The DFA also takes lower-case ``srcset`` attributes whole; the scan finds each in the
DFA's stretch (``srcset="`` after whitespace: there every ``="`` opens a value) and
cuts it out of the stretch as a candidate value. A candidate ``srcset`` whose every URL
is a plain root-relative path (the common case) is rewritten in bytes
(:data:`_PLAIN_SRCSET_RE`); any other goes through core.html_values, as the exact path
does. Everything that touches every byte is a pass in C (RE2, sre's literal scans,
``split``/``join``); Python runs per stretch and per candidate, a few dozen times a page.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from kubegate.core.html_fast import (
    FAST_RE,
    HOST_GROUPS,
    NEEDLE,
    PLAIN_GROUPS,
    SRCSET_GROUPS,
    STEP_RE,
    TAG_GROUP,
    unsure_absolute_re,
)
from kubegate.core.html_fast_dfa import GAP, SRCSET_MARK
from kubegate.core.html_values import decode_attribute, encode_attribute, rewrite_srcset
from kubegate.core.rewrite_url import UrlRule

__all__ = ["FastLane"]

_PREFIX_ENDS: Final = b"/?#"  # after the prefix, what makes a path already lie under it
_SRCSET_GROUP: Final = min(SRCSET_GROUPS)
_NEEDLE_RE: Final = re.compile(re.escape(NEEDLE))
_WHITESPACE: Final = frozenset(b"\t\n\f\r ")

# A srcset (raw bytes, from double quotes) read as core.html_values.rewrite_srcset reads
# it — separators, then a URL up to whitespace less its trailing commas, then descriptors
# up to a comma — whose every URL is a plain root-relative path without commas, and whose
# descriptors hold no '/' and nothing that decoding and re-encoding would change.
_WS: Final = rb"[\t\n\f\r ]"
_SRCSET_URL: Final = rb"(?:(?:/[^\x00-\x20\\&\"'<>\x7f/.%,][^\x00-\x20\\&\"'<>\x7f/,]*+)++/?|/)"
_SRCSET_AFTER: Final = (
    rb"(?:,++(?:" + _WS + rb"[\t\n\f\r ,]*+|\Z)"
    rb"|" + _WS + rb"++[^,(&<>/\x00-\x08\x0b\x0e-\x1f\x7f]*+(?:,[\t\n\f\r ,]*+|\Z)|\Z)"
)
_PLAIN_SRCSET_RE: Final = re.compile(rb"[\t\n\f\r ,]*+(?:" + _SRCSET_URL + _SRCSET_AFTER + rb")*+")
# In such a srcset, a '/' starts a URL where it starts the value or follows whitespace or a
# comma (descriptors hold no '/', URLs no whitespace or comma): split there, in C, and
# join with the prefix.
_SRCSET_URL_START_RE: Final = re.compile(rb"(?<=[\t\n\f\r ,])(?=/)")


@functools.lru_cache(maxsize=256)
def _needle_split_re(prefix: bytes) -> re.Pattern[bytes]:
    """A NEEDLE whose value does not already lie under ``prefix`` (rule.is_prefixed: the
    prefix, then the end of the value or one of ``/?#``)."""
    return re.compile(
        re.escape(NEEDLE[:2]) + rb"(?!" + re.escape(prefix) + rb'[/?#"])' + re.escape(NEEDLE[2:])
    )


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
        self._split_unprefixed = _needle_split_re(self._prefix).split

    def scan(self, buffer: bytes, position: int, out: list[bytes]) -> tuple[int, int]:
        """Rewrite from ``position`` on, appending to ``out``; returns where the output
        stops (the exact path goes on from there) and how far the exact path must read
        before the fast lane may run again (0: no such bound)."""
        dfa = GAP
        match = FAST_RE.match if dfa is None else STEP_RE.match
        copied = position
        # Where each srcset value the DFA took since ``copied`` starts and stops, in turn.
        values: list[int] = []
        while True:
            if dfa is not None:
                start = position
                position = dfa(buffer, position)
                # In the DFA's stretch every '="' opens a double-quoted value, so a
                # SRCSET_MARK after whitespace is a srcset attribute (html_fast_dfa).
                mark = buffer.find(SRCSET_MARK, start, position)
                while mark >= 0:
                    value = mark + len(SRCSET_MARK)
                    stop = buffer.index(b'"', value)
                    if mark > start and buffer[mark - 1] in _WHITESPACE:
                        values += (value, stop)
                    mark = buffer.find(SRCSET_MARK, stop, position)
            found = match(buffer, position)
            assert found is not None  # both match anywhere, if only the empty string
            group = found.lastindex  # the last group that matched: the candidate's value
            if group is None:
                stop = found.end()
                if dfa is not None and stop > position:
                    position = stop  # one construct the DFA does not take: on with the DFA
                    continue
                break
            start, stop = found.span(group)
            tag, end = found.start(TAG_GROUP), found.end()
            if group in HOST_GROUPS:
                if buffer[start:stop].lower().removesuffix(b".") in self._hosts:
                    stop = tag  # the backend's own host: the exact path
                    break
            else:
                new = self._candidate(buffer, group, start, stop)
                if new is not None:
                    # The whole tag goes out now, so that the output never stops inside a
                    # tag: the exact path can only go on from where a construct starts.
                    before = self._region(buffer, copied, tag, values)
                    if before is None:
                        return copied, end
                    head = self._stretch(buffer[tag:start])
                    tail = self._stretch(buffer[start if group in PLAIN_GROUPS else stop : end])
                    if head is None or tail is None:
                        out += before
                        return tag, end
                    out += before
                    out += (head, new, tail)
                    copied = end
            position = end
        region = self._region(buffer, copied, stop, values)
        if region is None:
            return copied, stop
        out += region
        return stop, 0

    def _region(
        self, buffer: bytes, start: int, stop: int, values: list[int]
    ) -> list[bytes] | None:
        """``buffer[start:stop]`` rewritten: stretches of the gap around the srcset values
        at ``values`` (emptied), each value as :meth:`_candidate` writes it. None when an
        ABSOLUTE in a stretch may point at the backend."""
        pieces: list[bytes] = []
        for index in range(0, len(values), 2):
            value, end = values[index], values[index + 1]
            stretch = self._stretch(buffer[start:value])
            new = self._candidate(buffer, _SRCSET_GROUP, value, end)
            if stretch is None or new is None:
                return None
            pieces += (stretch, new)
            start = end
        values.clear()
        stretch = self._stretch(buffer[start:stop])
        if stretch is None:
            return None
        pieces.append(stretch)
        return pieces

    def _candidate(self, buffer: bytes, group: int, start: int, stop: int) -> bytes | None:
        """What goes in at a candidate value: the prefix in front of a plain path (None if
        it is already there), or the srcset, rewritten or as it was."""
        if group in PLAIN_GROUPS:
            prefix = self._prefix
            size = len(prefix)
            if buffer.startswith(prefix, start, stop) and (
                stop - start == size or buffer[start + size] in _PREFIX_ENDS
            ):
                return None
            return prefix
        raw = buffer[start:stop]
        if _PLAIN_SRCSET_RE.fullmatch(raw) is not None and self._prefix not in raw:
            rewritten = self._prefix.join(_SRCSET_URL_START_RE.split(raw))
            return self._prefix + rewritten if raw[:1] == b"/" else rewritten
        text = rewrite_srcset(decode_attribute(raw), self.rule.rewrite)
        # Unchanged, the value still goes in by itself: left in the stretch, a value that
        # starts with '/' would make a NEEDLE there.
        return raw if text is None else encode_attribute(text, '"')

    def _stretch(self, markup: bytes) -> bytes | None:
        """Markup the gap took, rewritten: the prefix after every NEEDLE (each starts a
        plain path in a URL attribute) unless it is already there. None when an ABSOLUTE
        in it may point at the backend."""
        # Three passes over the bytes, in C. On markup, sre's scan for a literal is faster
        # than bytes.find's (whose skip table the frequent '"', '=' and '/' defeat): about
        # 0.6 ns a byte for each, 0.15 for the ``in`` of a long needle.
        if self._unsure_absolute.search(markup) is not None:
            return None
        if self._needle_prefixed in markup:  # rare: some value may already be prefixed
            return self._needle_rewritten.join(self._split_unprefixed(markup))
        return self._needle_rewritten.join(_NEEDLE_RE.split(markup))
