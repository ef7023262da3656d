"""The fast lane's first tier: most of core.html_fast's gap, run as a DFA by RE2.

Python's ``re`` is a backtracking engine: the gap's grammar costs it an opcode dispatch or
a charset call at nearly every byte and a branch per tag, about 14 ns a byte on a
tag-dense page. RE2 (``google-re2`` on PyPI, Google's own bindings) compiles a regular
language into a DFA whose cost per byte does not depend on the grammar: about 2.5 ns. It
has no lookaround, no possessive repetition and no backreferences, so this module spells
a *sub-grammar* of the gap in plain regular-expression form:

* every construct :data:`GAP` takes is one that core.html_fast's gap takes, with the same
  extent, so the stretch keeps the gap's invariants (every NEEDLE starts a plain
  root-relative path in a double-quoted URL attribute; an ABSOLUTE may appear, and the
  caller checks it); where the sub-grammar would need a lookaround, it is narrower
  instead — a double-quoted value may not end with ``=`` (so that no value's last ``=``,
  its closing quote and a following ``/`` can spell NEEDLE), comments hold no ``<``, ``>``
  or ``=``, raw text no ``<`` and no ``=`` before a quote; ``style``,
  ``imagesrcset`` and ``srcset`` attributes (but see below), values starting ``H``/``h``
  + a case variant of ``ttp``, path segments starting ``%`` and ``<![CDATA[`` are not
  taken at all;
* one construct more than the sre gap: a ``srcset`` attribute spelt in lower case with
  any double-quoted value (not ending with ``=``). In what this grammar takes, every
  ``="`` opens a double-quoted attribute value (text, raw text, comments and other values
  never hold one), so a ``srcset="`` after whitespace is such an attribute and nothing
  else: core.html_fast_lane finds each in the DFA's stretch and rewrites its value as the
  exact path does, around the stretch's NEEDLE rewrite. It is the only place the two
  grammars differ (the differential test adds it to the sre gap to compare them);
* where it stops, the caller runs the sre patterns for one construct (or a candidate
  tag) and comes back here. The grammar has no ambiguity that could make a
  leftmost-first match end anywhere but after the last whole construct (every run
  excludes the delimiter that ends it), which is what the sre gap's possessive
  repetitions guarantee.

RE2 works on the bytes as Latin-1 (one byte, one character), as ``re`` does on bytes.
Without the package (it is a declared dependency; a missing wheel should not break the
proxy), :data:`GAP` is None and the fast lane runs on sre alone. The differential tests
hold both to the exact path's output byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from kubegate.core.html_fast import _EXACT_ONLY, _SKIPPABLE_RAW, _URL_NAMES, _caseless

__all__ = ["GAP", "GAP_PATTERN", "SRCSET_MARK"]

log = logging.getLogger("kubegate.core.html_fast_dfa")

_WS: Final = rb"[\t\n\f\r ]"
_NAME_CHARS: Final = rb"\t\n\f\r />\"'=<"  # what ends a tag or attribute name
_NAME_REST: Final = rb"[^" + _NAME_CHARS + rb"]*"


def _trie(words: tuple[bytes, ...], first: bytes) -> bytes:
    """A name that is none of ``words`` (lower case, matched caselessly), followed by the
    end of the name: a trie whose nodes either go on with the next letter of a word or
    leave the words (any other name character, then the rest of the name), and may end
    there unless the node spells a whole word. ``first``: the body of the class of
    characters a name may not start with. No lookahead: RE2 has none."""

    def node(prefix: bytes) -> bytes:
        depth = len(prefix)
        nexts = sorted({w[depth] for w in words if w.startswith(prefix) and len(w) > depth})
        branches = [_caseless(bytes([c])) + node(prefix + bytes([c])) for c in nexts]
        stops = first if not prefix else _NAME_CHARS
        leave = b"".join(
            _class_member(c) + (_class_member(c - 32) if 97 <= c <= 122 else b"") for c in nexts
        )
        branches.append(rb"[^" + stops + leave + rb"]" + _NAME_REST)
        if prefix and prefix not in words:
            branches.append(b"")  # the name may end here
        return rb"(?:" + rb"|".join(branches) + rb")"

    return node(b"")


def _class_member(c: int) -> bytes:
    """Byte ``c`` written to stand for itself inside a character class."""
    char = bytes([c])
    return b"\\" + char if char in b"\\]^-[" else char


# -- attributes ---------------------------------------------------------------------------

# A plain root-relative path (core.html_fast._plain_path without its '%' segments, which
# need a lookahead): segments that start with none of . / %, no references, backslashes,
# controls, spaces, quotes or angle brackets; not ending with '=' (see the docstring).
_SEG_FIRST: Final = rb"[^\x00-\x20\\&\"'<>\x7f/.%]"
_SEG_CHAR: Final = rb"[^\x00-\x20\\&\"'<>\x7f/]"
_SEG_LAST: Final = rb"[^\x00-\x20\\&\"'<>\x7f/=]"  # the path may not end with '=' either
_PLAIN_PATH: Final = (
    rb"(?:(?:/" + _SEG_FIRST + _SEG_CHAR + rb"*)*"
    rb"/(?:" + _SEG_FIRST + _SEG_CHAR + rb"*" + _SEG_LAST + rb"|" + _SEG_FIRST[:-1] + rb"=])/?|/)"
)
_PLAIN_URL: Final = rb"=\"" + _PLAIN_PATH + rb"\""
# A double-quoted value: not starting like a URL (see html_fast's _VALUES: lower-case
# http(s) is taken, the caller checks it) and not ending with '=' (see above).
_DQ_FIRST: Final = rb"\x00-\x20/\\&\"hH"
_DQ_REST: Final = rb"(?:[^\"]*[^\"=])?"
_DQ_VALUE: Final = (
    rb"\"(?:[^" + _DQ_FIRST + rb"=]"  # one character
    rb"|[^" + _DQ_FIRST + rb"][^\"]*[^\"=]"  # more
    rb"|h(?:ttp" + _DQ_REST + rb"|[^tT\"=]" + _DQ_REST + rb")?"
    rb"|H(?:[^tT\"=]" + _DQ_REST + rb")?"
    rb")?\""
)
_SQ_VALUE: Final = rb"'(?:[^\x00-\x20/\\&hH'=][^'=]*)?'"
_UQ_VALUE: Final = rb"[^\x00-\x20/\\&hH>\"'=<`][^\t\n\f\r >\"'=<`]*"
_VALUE: Final = rb"(?:=(?:" + _DQ_VALUE + rb"|" + _SQ_VALUE + rb"|" + _UQ_VALUE + rb"))?"
_URL_ATTR: Final = rb"(?:" + rb"|".join(_caseless(name) for name in _URL_NAMES) + rb")" + _PLAIN_URL
# Any other name but style, srcset, imagesrcset and srcdoc (their values need a closer look).
_OTHER_ATTR: Final = _trie((b"style", b"srcset", b"imagesrcset", b"srcdoc"), _NAME_CHARS) + _VALUE
# A srcset spelt in lower case, any double-quoted value (not ending with '=', see above):
# the lane finds each one in the stretch (SRCSET_MARK) and rewrites its value itself.
SRCSET_MARK: Final = b'srcset="'
_SRCSET_ATTR: Final = SRCSET_MARK + rb'(?:[^"]*[^"=])?"'
_ATTRS: Final = (
    rb"(?:" + _WS + rb"+(?:" + _URL_ATTR + rb"|" + _SRCSET_ATTR + rb"|" + _OTHER_ATTR + rb"))*"
)
_TAG_END: Final = rb"[\t\n\f\r /]*>"

# -- constructs ---------------------------------------------------------------------------

_START_TAG: Final = _trie(_EXACT_ONLY, rb"\x00-@\[-`{-\xff") + _ATTRS + _TAG_END
_END_TAG: Final = rb"/[A-Za-z]" + _NAME_REST + _WS + rb"*>"
# A <meta> without http-equiv (html_fast's _META): no URL attribute, no srcset.
_META_ATTR: Final = _trie((b"style", b"srcset", b"imagesrcset", b"http-equiv"), _NAME_CHARS)
_META: Final = _caseless(b"meta") + rb"(?:" + _WS + rb"+" + _META_ATTR + _VALUE + rb")*" + _TAG_END
_COMMENT: Final = rb"!--(?:[^-=<>]|-[^-=<>])*-->"
_BOGUS: Final = rb"(?:![A-Za-z]|\?)[^<>=]*>"
_LT_TEXT: Final = rb"[^A-Za-z!/?<=]"  # a '<' that is text, and the text byte after it
# Raw text: no '<' (so the first '<' must start the end tag), and '=' only followed by
# something else than a quote (the sre gap refuses '="/' and '="h' there: NEEDLE and
# ABSOLUTE) or by the end tag's '<'.
_RAW_TEXT: Final = rb"[^<=]*(?:=+[^<=\"][^<=]*)*"
# Text: '=' where no '"' follows (as in the sre gap); '='s right before a construct's '<'
# are taken with the construct, so that the gap never ends on an '=' it cannot judge.
_TEXT: Final = rb"(?:[^<=]|=+[^<=\"])*"
_RAW: Final = rb"|".join(
    _caseless(name) + _ATTRS + _TAG_END + _RAW_TEXT + rb"</" + _caseless(name) + _WS + rb"*>"
    for name in _SKIPPABLE_RAW
)
GAP_PATTERN: Final = (
    _TEXT
    + rb"(?:=*<(?:"
    + rb"|".join((_END_TAG, _START_TAG, _META, _COMMENT, _RAW, _BOGUS, _LT_TEXT))
    + rb")"
    + _TEXT
    + rb")*"
)


def _compile() -> Callable[[bytes, int], int] | None:
    try:
        import re2  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # pragma: no cover - the package is a declared dependency
        log.warning("google-re2 is not installed: HTML rewriting runs on Python's re alone")
        return None
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    options.never_capture = True
    regexp = re2.compile(GAP_PATTERN, options)

    def gap_end(buffer: bytes, position: int) -> int:
        return int(regexp.match(buffer, position).end())

    # The bindings' own entry point saves a generator and a Match object per call (a
    # tenth of the lane's time on a tag-dense page). It is not public API: used only when
    # it is there and answers as the public one does.
    try:
        match = regexp._regexp.Match
        anchor = re2._Anchor.ANCHOR_START
        probe = b'<p class="x">t</p><!-- c --><a href="/x">'
        if match(anchor, probe, 3, len(probe))[0][1] != gap_end(probe, 3):
            return gap_end
    except Exception:  # any change in the bindings: the public API it is
        return gap_end

    def raw_gap_end(buffer: bytes, position: int) -> int:
        return int(match(anchor, buffer, position, len(buffer))[0][1])

    return raw_gap_end


# Where the gap that starts at a position ends (``GAP(buffer, position)``), or None
# without the package.
GAP: Final = _compile()
