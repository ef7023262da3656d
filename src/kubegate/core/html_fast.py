"""The HTML rewriter's fast lane: compiled patterns that prove, in C, that a stretch of
markup needs nothing but the prefix put after every :data:`NEEDLE` (``="/``), and stop at
anything else.

core.html_tokens follows the browser's tokenizer in full; that generality costs about
45 MB/s in ``re``, and a trip through Python per URL attribute costs more. These patterns
cover a *sane* subset of markup, chosen so that on it they read exactly what the full
tokenizer reads, and anything outside it simply fails to match: the scan stops and
core.rewrite_html's exact path takes the next construct. The subset: tag and attribute
names without quotes, ``<`` or ``=``; ``name=value`` with no space around ``=``; unquoted
values without quotes, ``<``, ``=`` or a backtick; whitespace between attributes.
On it a start tag ends at its first ``>`` outside quotes, exactly where the tokenizer ends
it, so the fast lane can never disagree about where markup is — only decline to decide.

**The gap** (:data:`GAP_RE`) takes text, end tags, comments, doctypes and other bogus
comments, raw-text elements (through their end tag), ``<meta>`` tags without
``http-equiv`` whose values cannot hold NEEDLE, and start tags (not ``<meta>``,
``<style>`` or ``<plaintext>``) whose every attribute is one of:

* an attribute whose value cannot need a rewrite (judged by its first characters, as
  core.html_tokens does: not a control or space, ``/``, ``\\``, ``&`` or ``http(s):``);
* ``style`` without ``url(``, escapes or references (and, in double quotes, not starting
  with ``/``: that would make a NEEDLE); ``srcset``/``imagesrcset`` without a value;
* a URL attribute (``href``, ``src``, … as in core.rewrite_html) whose double-quoted value
  is a *plain* root-relative path: one that the exact path rewrites by putting the prefix
  in front of its bytes (no references, controls, spaces, backslashes, ``<``, ``>``, dot
  segments or ``%2e`` segments, no ``//`` anywhere).

It refuses every other ``="/``: in text (text takes ``=`` only when no ``"`` follows),
comments, raw text, other values, or made of a value's last ``=``, its closing quote and a
following ``/``. So in a stretch the gap took, the whole rewrite is
NEEDLE → ``="<prefix>/`` — one ``bytes.replace`` — unless some value there already starts
with the prefix (the caller checks). Every construct needs its closing delimiter to match,
so an unfinished one at the end of a streamed piece is never decided.

**The candidate** (:data:`FAST_RE`: the gap, then optionally one start tag from the empty
group :data:`TAG_GROUP` on) that the gap refused for one URL attribute whose value is a
plain path in single quotes, none, or double quotes but with ``<`` or ``>``
(:data:`PLAIN_GROUPS`: the prefix goes in front unless it is already there), or an absolute
``http(s)://host[:port]`` URL (:data:`HOST_GROUPS`: the host; the URL stays unless the host
is one of the rule's origins, which the caller checks before handing the tag to the exact
path).

:data:`STEP_RE` is the same with at most one construct of the gap before the candidate:
core.html_fast_lane takes it where core.html_fast_dfa's DFA, which reads most of the gap
far faster, stopped.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from kubegate.core.html_tokens import RAW_TEXT_NAMES

__all__ = [
    "ABSOLUTE",
    "FAST_RE",
    "HOST_GROUPS",
    "NEEDLE",
    "PLAIN_GROUPS",
    "SRCSET_GROUPS",
    "STEP_RE",
    "TAG_GROUP",
    "unsure_absolute_re",
]

NEEDLE: Final = b'="/'
ABSOLUTE: Final = b'="http'

_WS: Final = rb"[\t\n\f\r ]"
_NAME_REST: Final = rb"[^\t\n\f\r />\"'=<]*+"
# Between attributes: whitespace (a '/' there is rare; the exact path reads it). Before '>':
# a '/' right after a closing quote must not complete a stray NEEDLE with the value's
# last '='.
_SEP: Final = rb"[\t\n\f\r ]++"
_TAG_END: Final = rb"(?:>|[\t\n\f\r ][\t\n\f\r /]*+>|/(?<!=\"/)[\t\n\f\r /]*+>)"
_EQ_OK: Final = rb"=(?!\"[/h])"  # an '=' that starts neither NEEDLE nor ABSOLUTE

# Costs in sre, which shape everything below: a run of "anything but one byte" ([^<]*+)
# is a tight C loop, several times faster per byte than a run of a class; entering a
# branch or a lookaround costs a few runs' worth, but a branch that starts with a literal
# or a class is skipped on its first byte without entering it. Case-insensitive words are
# spelt as classes for the same reason.


def _caseless(word: bytes) -> bytes:
    """``word`` matched ASCII case-insensitively, as character classes."""
    return b"".join(
        b"[" + bytes([c]).upper() + bytes([c]) + b"]" if 97 <= c <= 122 else re.escape(bytes([c]))
        for c in word
    )


def _words(words: tuple[bytes, ...], then: bytes) -> bytes:
    """Any of ``words`` (caseless) followed by ``then``, one branch per first letter."""
    by_first: dict[bytes, list[bytes]] = {}
    for word in words:
        by_first.setdefault(word[:1], []).append(word[1:])
    return (
        rb"(?:"
        + rb"|".join(
            _caseless(first) + rb"(?:" + rb"|".join(_caseless(rest) for rest in rests) + rb")"
            for first, rests in by_first.items()
        )
        + rb")"
        + then
    )


def _class(chars: set[int]) -> bytes:
    """The body of a character class holding ``chars``, letters in both cases."""
    return b"".join(
        bytes([c]) + bytes([c]).upper() if 97 <= c <= 122 else re.escape(bytes([c]))
        for c in sorted(chars)
    )


def _trie(words: dict[bytes, tuple[bytes | None, bool]], generic: bytes, first: bytes) -> bytes:
    """A name, then what follows it: after each of ``words`` (lower case, matched
    caselessly) its own pattern (None: nothing, the word is refused) and, unless the word
    is *exclusive*, ``generic`` too; after any other name, ``generic``. ``first`` is the
    body of the class of characters a name may not start with.

    Spelt as a trie, one branch per next letter, so that each branch starts with a class
    that sre tests before entering it, and no branch re-reads what another read: a name
    costs a branch or two, not a lookahead per word."""

    def node(prefix: bytes) -> bytes:
        depth = len(prefix)
        nexts = {word[depth] for word in words if word.startswith(prefix) and len(word) > depth}
        branches = [_caseless(bytes([c])) + node(prefix + bytes([c])) for c in sorted(nexts)]
        stops = first if not prefix else rb"\t\n\f\r />\"'=<"
        branches.append(rb"[^" + stops + _class(nexts) + rb"]" + _NAME_REST + generic)
        if prefix:
            pattern, exclusive = words.get(prefix, (None, False))
            if pattern is not None:
                branches.append(pattern)
            if not exclusive:
                branches.append(generic)
        return rb"(?:" + rb"|".join(branches) + rb")"

    return node(b"")


# -- attributes ---------------------------------------------------------------------------

_NOT_HTTP: Final = rb"[hH](?![tT][tT][pP][sS]?:)"
_UNQUOTED_REST: Final = rb"[^\t\n\f\r >\"'=<`]*+"
# A value that cannot need a rewrite; the common cases first, each one class test and one
# run. A single-quoted value must not hold NEEDLE (a double-quoted one cannot).
_VALUES: Final = (
    rb"\"[^\x00-\x20/\\&hH\"][^\"]*+\"",
    rb"'[^\x00-\x20/\\&hH'=][^'=]*+'",
    rb"[^\x00-\x20/\\&hH>\"'=<`]" + _UNQUOTED_REST,
    rb"\"\"",
    rb"''",
    # Lower-case http(s): in double quotes is taken (the caller looks at every ABSOLUTE);
    # any other spelling of it is refused.
    rb"\"h(?:ttps?:|(?![tT][tT][pP][sS]?:))[^\"]*+\"",
    rb"\"H(?![tT][tT][pP][sS]?:)[^\"]*+\"",
    rb"'(?:[^\x00-\x20/\\&hH'=]|"
    + _NOT_HTTP
    + rb"|"
    + _EQ_OK
    + rb")(?:[^'=]++|"
    + _EQ_OK
    + rb")*+'",
    _NOT_HTTP + _UNQUOTED_REST,
)
# style: CSS, which needs no look while it has no url( and nothing escaped (an escape or a
# character reference could spell url().
_NOT_URL: Final = rb"[uU](?![rR][lL]\()"
_STYLE_VALUE: Final = (
    rb"(?:\"(?!/)(?:[^\"uU&\\]++|" + _NOT_URL + rb")*+\""  # '="/' would be a NEEDLE
    rb"|'(?:[^'uU&\\=]++|" + _NOT_URL + rb"|" + _EQ_OK + rb")*+'"
    rb"|(?:[^\t\n\f\r >\"'=<`uU&\\]++|" + _NOT_URL + rb")++)"
)
_URL_NAMES: Final = (
    b"href",
    b"src",
    b"action",
    b"formaction",
    b"poster",
    b"cite",
    b"background",
    b"longdesc",
    b"manifest",
    b"icon",
    b"xlink:href",
)


def _plain_path(end: bytes) -> bytes:
    """A path the exact path rewrites by putting the prefix in front of its bytes, either
    way it goes: core.rewrite_html's plain path, or core.rewrite_url's fast path with
    nothing core.html_values would escape. Segment by segment: none starts with '.', '/'
    or '%2e'; no references, backslashes, controls, spaces, quotes, '<', '>' or what
    ``end`` (a class body) says ends the value."""
    char = rb"[^\x00-\x20\\&\"'<>\x7f/" + end + rb"]"
    first = rb"[^\x00-\x20\\&\"'<>\x7f/.%" + end + rb"]"
    return rb"(?:(?:/" + first + char + rb"*+|/%(?!2[eE])" + char + rb"*+)++/?|/)"


_NO_VALUE: Final = rb"(?!=)"
# '=' and a value that cannot need a rewrite, or no value ('=' inside each branch: one
# branch entered for the commonest values, not two).
_GENERIC: Final = rb"(?:=" + rb"|=".join(_VALUES) + rb"|" + _NO_VALUE + rb")"
_PLAIN_URL: Final = b'="' + _plain_path(b"") + b'"'
# An attribute that needs nothing but NEEDLE's rewrite (see the module docstring): href
# and src with a plain path first (the commonest URL attributes, one class test each to
# skip otherwise), then names with a value that needs no look, or none (names starting
# like a special one take a lookahead), then the other URL attributes, style, srcset.
_BORING_ATTR: Final = (
    rb"(?:[hH][rR][eE][fF]"
    + _PLAIN_URL
    + rb"|[sS][rR][cC]"
    + _PLAIN_URL
    + rb"|[^\t\n\f\r />\"'=<sSiI]"
    + _NAME_REST
    + _GENERIC
    + rb"|[sS](?![tT][yY][lL][eE][\t\n\f\r /=>]|[rR][cC](?:[sS][eE][tT]|[dD][oO][cC])[\t\n\f\r /=>])"
    + _NAME_REST
    + _GENERIC
    + rb"|[iI](?![mM][aA][gG][eE][sS][rR][cC][sS][eE][tT][\t\n\f\r /=>])"
    + _NAME_REST
    + _GENERIC
    + rb"|"
    + _words(_URL_NAMES, _PLAIN_URL)
    + rb"|"
    + _caseless(b"style")
    + rb"(?:="
    + _STYLE_VALUE
    + rb"|"
    + _NO_VALUE
    + rb")"
    + rb"|"
    + _words((b"srcset", b"imagesrcset"), _NO_VALUE)
    + rb")"
)
_ATTRS: Final = rb"(?:" + _SEP + _BORING_ATTR + rb")*+"

# -- constructs ---------------------------------------------------------------------------

# Start tags only the exact path reads: <style> (CSS to rewrite), <plaintext> (the rest is
# text), <meta> (content="N;url=…" counts only next to http-equiv=refresh; _META takes the
# others). The other raw-text elements are skipped whole, below.
_EXACT_ONLY: Final = (*sorted(RAW_TEXT_NAMES), b"meta")
_START_NAME: Final = _trie({name: (None, True) for name in _EXACT_ONLY}, b"", rb"\x00-@\[-`{-\xff")
# Each raw-text element spelt out: a backreference would need a group inside a possessive
# loop, which makes Python 3.11's re raise SystemError (CPython gh-101955).
_SKIPPABLE_RAW: Final = (
    b"script",
    b"textarea",
    b"title",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
)


def _raw_element(name: bytes) -> bytes:
    spelt = _caseless(name)
    return (
        spelt
        + rb"(?=[\t\n\f\r />])"
        + _ATTRS
        + _TAG_END
        + rb"(?:[^<=]++|<(?!/"
        + spelt
        + rb"[\t\n\f\r />])|"
        + _EQ_OK
        + rb")*+</"
        + spelt
        + _WS
        + rb"*+>"
    )


# A <meta> without http-equiv: the exact path rewrites none of its attributes, so any name
# will do, with a value that cannot hold NEEDLE (nor ABSOLUTE but in double quotes).
_META: Final = (
    _caseless(b"meta")
    + rb"(?=[\t\n\f\r />])(?:"
    + _SEP
    + rb"(?!"
    + _words((b"http-equiv",), rb"[\t\n\f\r /=>]")
    + rb")[^\t\n\f\r />\"'=<]"
    + _NAME_REST
    + _GENERIC
    + rb")*+"
    + _TAG_END
)
_BOGUS_REST: Final = rb"(?:[^>=]++|" + _EQ_OK + rb")*+>"
# One construct that needs no work, by the character after '<' (end tags first: as common
# as start tags, and cheapest).
_BORING_TOKEN: Final = (
    rb"<(?:/[A-Za-z]" + _NAME_REST + _WS + rb"*+>"
    rb"|"
    + _START_NAME
    + _ATTRS
    + _TAG_END
    + rb"|"
    + _META
    + rb"|!--(?:>|->|(?:[^-=]++|-(?!-!?>)|"
    + _EQ_OK
    + rb")*+--!?>)"
    rb"|/(?![A-Za-z])"
    + _BOGUS_REST
    + rb"|!(?!--|\[CDATA\[)"
    + _BOGUS_REST
    + rb"|!\[CDATA\[(?:[^\]=]++|\](?!\]>)|"
    + _EQ_OK
    + rb")*+\]\]>"
    rb"|\?"
    + _BOGUS_REST
    + rb"|"
    + rb"|".join(_raw_element(name) for name in _SKIPPABLE_RAW)
    + rb"|(?=[^A-Za-z!/?]))"
)
# Text: '=' only where it starts neither NEEDLE nor ABSOLUTE nor any other '="' (so that in
# a stretch every '="' opens a double-quoted attribute value).
_TEXT: Final = rb"(?:[^<=]++|=(?!\"))*+"
_GAP: Final = _TEXT + rb"(?:" + _BORING_TOKEN + _TEXT + rb")*+"

# -- the candidate ------------------------------------------------------------------------


def _absolute(quote: str, end: bytes) -> bytes:
    return (
        rb"[hH][tT][tT][pP][sS]?://(?P<host_" + quote.encode() + rb">[A-Za-z0-9.\-]++)"
        rb"(?::[0-9]*+)?(?=[/\\?#]|" + end + rb")"
    )


_UNQUOTED_END: Final = rb"[\t\n\f\r >]"
# core.rewrite_html's plain path in double quotes, '<' and '>' allowed.
_PLAIN_DQ: Final = (
    rb"/(?![/\\])(?:[^&\\\x00-\x20./%\"]++|%(?!2[eE])|\.(?!\.?[/\"])|/(?!\.\.?[/\"]))*+"
)
_CANDIDATE_VALUE: Final = (
    rb"(?:\"(?:(?P<path_dq>" + _PLAIN_DQ + rb")|" + _absolute("dq", b'"') + rb"[^\"]*+)\""
    rb"|'(?:(?P<path_sq>"
    + _plain_path(b"")
    + rb")|"
    + _absolute("sq", b"'")
    + rb"(?:[^'=]++|"
    + _EQ_OK
    + rb")*+)'"
    rb"|(?:(?P<path_uq>"
    + _plain_path(rb"=`")
    + rb")|"
    + _absolute("uq", _UNQUOTED_END)
    + _UNQUOTED_REST
    + rb")(?="
    + _UNQUOTED_END
    + rb"))"
)
_CANDIDATE: Final = (
    rb"(?P<tag>)<"
    + _START_NAME
    + _ATTRS
    + _SEP
    + rb"(?:"
    + _words(_URL_NAMES, b"=")
    + _CANDIDATE_VALUE
    + rb"|"
    + _words((b"srcset", b"imagesrcset"), b'="(?P<srcset_dq>[^"]*+)"')
    + rb")"
    + _ATTRS
    + _TAG_END
)
FAST_RE: Final = re.compile(_GAP + rb"(?:" + _CANDIDATE + rb")?")
# The same, but at most one construct of the gap before the candidate: the step taken
# where core.html_fast_dfa's gap (the same constructs, fewer of them, in RE2) stopped.
STEP_RE: Final = re.compile(
    _TEXT + rb"(?:" + _BORING_TOKEN + _TEXT + rb")?(?:" + _CANDIDATE + rb")?"
)
TAG_GROUP: Final = FAST_RE.groupindex["tag"]
PLAIN_GROUPS: Final = frozenset(FAST_RE.groupindex[f"path_{q}"] for q in ("dq", "sq", "uq"))
HOST_GROUPS: Final = frozenset(FAST_RE.groupindex[f"host_{q}"] for q in ("dq", "sq", "uq"))
SRCSET_GROUPS: Final = frozenset({FAST_RE.groupindex["srcset_dq"]})
_ODD_ABSOLUTE: Final = rb'(?!s?://[A-Za-z0-9.\-]++(?::[0-9]*+)?[/\\?#"])'  # after ABSOLUTE


@functools.lru_cache(maxsize=256)
def unsure_absolute_re(hosts: frozenset[str]) -> re.Pattern[bytes]:
    """An ABSOLUTE that may point at one of ``hosts`` (lower case): one whose host is not
    plainly spelt (references, userinfo, IPv6, no "//"…: only the exact path can say), or
    is one of them (caseless, with or without a final dot, any port)."""
    plain = sorted(host for host in hosts if re.fullmatch(r"[a-z0-9.\-]+", host))
    # ABSOLUTE spelt out in front: sre then looks only at its occurrences, not at every '='.
    if not plain:
        return re.compile(ABSOLUTE + _ODD_ABSOLUTE)
    names = b"|".join(re.escape(host.encode("ascii")) for host in plain)
    return re.compile(
        ABSOLUTE + rb"(?:" + _ODD_ABSOLUTE + rb"|s?://(?i:" + names + rb')\.?(?::[0-9]*+)?[/\\?#"])'
    )
