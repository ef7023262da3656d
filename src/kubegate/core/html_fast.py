"""The HTML rewriter's fast lane: one compiled pattern that skips what needs no change and
stops on the common rewrite, so that most of a page never reaches Python.

core.html_tokens follows the browser's tokenizer in full; that generality costs about
45 MB/s in ``re``. This pattern covers only a *sane* subset of markup, chosen so that on
that subset it reads exactly what the full tokenizer reads, and so that anything outside
it simply fails to match — the scan then stops and core.rewrite_html's exact path takes the
next construct. The subset: tag names and attribute names without quotes, ``<`` or ``=``;
``name=value`` with no space around ``=``; unquoted values without quotes, ``<``, ``=`` or
```` ` ````; whitespace or ``/`` between attributes (after a quoted value too). On it, a
start tag ends at its first ``>`` outside quotes — exactly where the tokenizer ends it —
so the fast lane can never disagree about where markup is, only decline to decide.

:data:`FAST_RE` always matches at a token boundary. Its first part (the *gap*) skips text,
end tags, comments, doctypes and other bogus comments, raw-text elements none of whose
attributes needs work (through their end tag), and start tags none of whose attributes
needs work — attributes are judged by their value's first characters, so ``class``,
``alt`` or ``href="rel/x"`` cost one character test. Then, optionally, it takes one
*candidate* start tag: any element but ``<meta>`` and the raw-text ones, where exactly one
attribute needs a look and it is a URL attribute (``href``, ``src``, … as in
core.rewrite_html) whose value is either

* a plain root-relative path (:data:`PLAIN_GROUPS`, one group per quoting style): the
  rewrite is the prefix put in front of the value's bytes, unless it is already there;
* an absolute ``http(s)://host[:port]`` URL (:data:`HOST_GROUPS`: the host): it stays as it
  is unless the host is one of the rule's origins, which the caller checks (and then hands
  the tag, from group :data:`TAG_GROUP`, to the exact path).

When no candidate follows, the match ends where the gap did: at the end of the buffer, or
in front of something the exact path must read (an unfinished construct at the end of the
buffer included: every construct here needs its closing delimiter to match, so the scan
never decides on a piece that more input could change).
"""

from __future__ import annotations

import re
from typing import Final

from kubegate.core.html_tokens import COMMENT

__all__ = ["FAST_RE", "HOST_GROUPS", "PLAIN_GROUPS", "TAG_GROUP"]

_WS: Final = rb"[\t\n\f\r ]"
_SEP: Final = rb"[\t\n\f\r /]++"
_NAME_REST: Final = rb"[^\t\n\f\r />\"'=<]*+"
_TAG_NAME: Final = rb"[A-Za-z]" + _NAME_REST
_UNQUOTED_REST: Final = rb"[^\t\n\f\r >\"'=<`]*+"


def _caseless(word: bytes) -> bytes:
    """``word`` as ASCII case-insensitive character classes (sre tests these far faster
    than ``(?i:…)``)."""
    return b"".join(
        b"[" + bytes([c]).upper() + bytes([c]) + b"]" if 97 <= c <= 122 else re.escape(bytes([c]))
        for c in word
    )


# A value may need rewriting when it starts (after the quote) with what could begin a
# root-relative, network-path or absolute http(s) URL: controls and spaces, / \ & or
# http(s): (core.html_tokens' rule). The first character decides for all but "h".
_NOT_HTTP: Final = rb"[hH](?![tT][tT][pP][sS]?:)"
_VALUE: Final = (
    rb"(?:\"(?:[^\x00-\x20/\\&hH\"]|" + _NOT_HTTP + rb")[^\"]*+\"|\"\""
    rb"|'(?:[^\x00-\x20/\\&hH']|" + _NOT_HTTP + rb")[^']*+'|''"
    rb"|(?:[^\x00-\x20/\\&hH>\"'=<`]|" + _NOT_HTTP + rb")" + _UNQUOTED_REST + rb")"
)
# style: CSS, which needs no look while it has no url( and nothing escaped (an escape or a
# character reference could spell url().
_STYLE_VALUE: Final = (
    rb"(?:\"(?:[^\"uU&\\]++|[uU](?![rR][lL]\())*+\"|'(?:[^'uU&\\]++|[uU](?![rR][lL]\())*+'"
    rb"|(?:[^\t\n\f\r >\"'=<`uU&\\]++|[uU](?![rR][lL]\())++)"
)
# An attribute no rewrite touches. Most names are settled by their first character; of
# those that start with s or i, style has its own values, and srcset and imagesrcset
# (whose every candidate may need work) match only without a value, so that a tag with
# one fails here and goes to the exact path.
_NO_VALUE: Final = rb"(?!=)"
_SPECIAL: Final = (
    rb"(?:"
    + _caseless(b"style")
    + rb"|"
    + _caseless(b"srcset")
    + rb"|"
    + _caseless(b"imagesrcset")
    + rb")(?=[\t\n\f\r /=>])"
)
_BORING_ATTR: Final = (
    rb"(?:[^\t\n\f\r />\"'=<sSiI]" + _NAME_REST + rb"(?:=" + _VALUE + rb"|" + _NO_VALUE + rb")"
    rb"|(?!" + _SPECIAL + rb")[sSiI]" + _NAME_REST + rb"(?:=" + _VALUE + rb"|" + _NO_VALUE + rb")"
    rb"|" + _caseless(b"style") + rb"(?:=" + _STYLE_VALUE + rb"|" + _NO_VALUE + rb")"
    rb"|(?:" + _caseless(b"image") + rb")?" + _caseless(b"srcset") + _NO_VALUE + rb")"
)
_ATTRS: Final = rb"(?:" + _SEP + _BORING_ATTR + rb")*+"
_TAG_END: Final = rb"[\t\n\f\r /]*+>"

# Start tags the exact path must read: the raw-text elements (their content is not
# markup) and <meta> (its content="N;url=…" counts only next to http-equiv=refresh).
# Names that start with none of their letters skip the test.
_EXACT_ONLY: Final = (
    rb"(?:"
    + rb"|".join(
        _caseless(name)
        for name in (
            b"script",
            b"style",
            b"textarea",
            b"title",
            b"xmp",
            b"iframe",
            b"noembed",
            b"noframes",
            b"noscript",
            b"plaintext",
            b"meta",
        )
    )
    + rb")(?=[\t\n\f\r />])"
)
_START_NAME: Final = (
    rb"(?:[A-Za-z](?<![sStTxXiInNpPmM])|(?!" + _EXACT_ONLY + rb")[A-Za-z])" + _NAME_REST
)
# Raw-text elements skipped whole when their start tag needs nothing (not style: its CSS
# is rewritten; not plaintext), each spelt out: a backreference would need a group inside
# a possessive loop, which makes Python 3.11's re raise SystemError (CPython gh-101955).
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
        + rb"(?:[^<]++|<(?!/"
        + spelt
        + rb"[\t\n\f\r />]))*+</"
        + spelt
        + _WS
        + rb"*+>"
    )


_RAW_ELEMENT: Final = rb"(?:" + rb"|".join(_raw_element(name) for name in _SKIPPABLE_RAW) + rb")"
_BOGUS_REST: Final = rb"[^>]*+>"
# One construct that needs no work, dispatched on the character after '<'.
_BORING_TOKEN: Final = (
    rb"<(?:"
    + _START_NAME
    + _ATTRS
    + _TAG_END
    + rb"|/(?:[A-Za-z]"
    + _NAME_REST
    + _WS
    + rb"*+>|(?![A-Za-z])"
    + _BOGUS_REST
    + rb")"
    + rb"|!(?:"
    + COMMENT[2:]
    + rb"|\[CDATA\[(?:[^\]]++|\](?!\]>))*+\]\]>|(?!--|\[CDATA\[)"
    + _BOGUS_REST
    + rb")"
    + rb"|\?"
    + _BOGUS_REST
    + rb"|"
    + _RAW_ELEMENT
    + rb"|(?=[^A-Za-z!/?]))"
)
_GAP: Final = rb"[^<]*+(?:" + _BORING_TOKEN + rb"[^<]*+)*+"

_URL_NAME: Final = (
    rb"(?:"
    + rb"|".join(
        _caseless(name)
        for name in (
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
    )
    + rb")="
)


def _plain_path(extra: bytes, end: bytes) -> bytes:
    """core.rewrite_html's plain root-relative path, ending where the value ends."""
    return (
        rb"/(?![/\\])(?:[^&\\\x00-\x20./%" + extra + rb"]++|%(?!2[eE])"
        rb"|\.(?!\.?(?:/|" + end + rb"))|/(?!\.\.?(?:/|" + end + rb")))*+"
    )


def _absolute(quote: str, end: bytes) -> bytes:
    return (
        rb"[hH][tT][tT][pP][sS]?://(?P<host_" + quote.encode() + rb">[A-Za-z0-9.\-]++)"
        rb"(?::[0-9]*+)?(?=[/\\?#]|" + end + rb")"
    )


_UNQUOTED_END: Final = rb"[\t\n\f\r >]"
_CANDIDATE_VALUE: Final = (
    rb"(?:\"(?:(?P<path_dq>"
    + _plain_path(b'"', b'"')
    + rb")|"
    + _absolute("dq", b'"')
    + rb"[^\"]*+)\"|'(?:(?P<path_sq>"
    + _plain_path(b"'", b"'")
    + rb")|"
    + _absolute("sq", b"'")
    + rb"[^']*+)'|(?:(?P<path_uq>"
    + _plain_path(b">\"'=<`", _UNQUOTED_END)
    + rb")|"
    + _absolute("uq", _UNQUOTED_END)
    + _UNQUOTED_REST
    + rb")(?="
    + _UNQUOTED_END
    + rb"))"
)
_CANDIDATE_TAG: Final = (
    rb"(?P<tag>)<" + _START_NAME + _ATTRS + _SEP + _URL_NAME + _CANDIDATE_VALUE + _ATTRS + _TAG_END
)

FAST_RE: Final = re.compile(_GAP + rb"(?:" + _CANDIDATE_TAG + rb")?")
TAG_GROUP: Final = FAST_RE.groupindex["tag"]
PLAIN_GROUPS: Final = frozenset(FAST_RE.groupindex[f"path_{q}"] for q in ("dq", "sq", "uq"))
HOST_GROUPS: Final = frozenset(FAST_RE.groupindex[f"host_{q}"] for q in ("dq", "sq", "uq"))
