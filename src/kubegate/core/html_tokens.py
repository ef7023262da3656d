"""Compiled patterns that follow the HTML tokenizer (WHATWG §13.2.5) over bytes.

The rewriter must see markup exactly as a browser does, or a rewrite could land where the
browser sees something else. These patterns mirror the tokenizer states that matter:

* a start tag is ``<`` + ASCII letter + name up to whitespace, ``/`` or ``>``; attributes
  follow the attribute-name / before-value / quoted / unquoted value states: a name may
  start with ``=`` and holds ``"``, ``'`` and ``<``; a quoted value runs to its own quote
  (``>`` and ``<`` inside are data); an unquoted value runs to whitespace or ``>``; a quoted
  value may be followed by the next attribute with no whitespace; ``/`` between attributes
  is the self-closing flag;
* comments are ``<!--`` … ``-->`` (also ``--!>``; ``<!-->`` and ``<!--->`` are empty);
  ``<!…>``, ``<?…>`` and ``</`` + non-letter are bogus comments ending at the first ``>``;
  ``<![CDATA[`` … ``]]>`` is one opaque unit (real CDATA in SVG/MathML; in HTML the browser
  ends it at the first ``>`` — leaving the rest untouched is the safe reading);
* the contents of ``script``, ``style``, ``textarea``, ``title``, ``xmp``, ``iframe``,
  ``noembed``, ``noframes`` and ``noscript`` are text up to the matching end tag (ASCII
  case-insensitive), never markup; ``plaintext`` runs to the end of the document;
* a ``<`` that starts none of these is text.

All repetitions are possessive or atomic, so a scan is linear and an unfinished construct at
the end of the buffer simply fails to match (the streaming rewriter then holds it back).

:data:`BORING_RE` skips, in one C-level pass, everything a rewrite cannot touch: text,
comments, end tags, and start tags none of whose attributes might carry a URL to rewrite.
It stops in front of the next start tag that may need work, a raw-text element that needs
a closer look, or an unfinished construct. :data:`BORING_TOKEN_RE` takes one such
construct (where core.html_fast's fast lane stopped).
"""

from __future__ import annotations

import re
from typing import Final

_WS: Final = rb"[\t\n\f\r ]"
_TAG_NAME: Final = rb"[A-Za-z][^\t\n\f\r />]*+"
_ATTR_NAME: Final = rb"[^\t\n\f\r />][^\t\n\f\r /=>]*+"
_EQ: Final = _WS + rb"*+=" + _WS + rb"*+"
_NO_VALUE: Final = rb"(?!" + _WS + rb"*+=)"
_DQ: Final = rb'"[^"]*+"'
_SQ: Final = rb"'[^']*+'"
_UQ: Final = rb"""[^\t\n\f\r >"'][^\t\n\f\r >]*+"""
_ANY_VALUE: Final = rb"(?:" + _DQ + rb"|" + _SQ + rb"|" + _UQ + rb"|(?=>))"
ATTR: Final = rb"(?>" + _ATTR_NAME + rb"(?:" + _NO_VALUE + rb"|" + _EQ + _ANY_VALUE + rb"))"

# A value may need rewriting when it starts (after the quote) with what could begin a
# root-relative, network-path or absolute http(s) URL: controls and spaces (a URL parser
# strips them), / \ & (a character reference could spell anything) or http(s):.
_CANDIDATE: Final = rb"(?:[\x00-\x20/\\&]|[hH][tT][tT][pP][sS]?:)"
_PLAIN_VALUE: Final = (
    rb"(?:\"(?!" + _CANDIDATE + rb")[^\"]*+\"|'(?!" + _CANDIDATE + rb")[^']*+'"
    rb"|(?![\"'>]|" + _CANDIDATE + rb")[^\t\n\f\r >]++|(?=>))"
)
# style: CSS, boring while it has no url( and nothing escaped (an escape or a character
# reference could spell url().
_STYLE_VALUE: Final = (
    rb"(?:\"(?:[^\"uU&\\]++|[uU](?![rR][lL]\())*+\"|'(?:[^'uU&\\]++|[uU](?![rR][lL]\())*+'"
    rb"|(?![\"'>])(?:[^\t\n\f\r >uU&\\]++|[uU](?![rR][lL]\())++|(?=>))"
)
# content: only <meta http-equiv=refresh content="5; url=/x"> matters, whose value starts
# with a number; descriptions and the like do not.
_NOT_REFRESH: Final = rb"(?!" + _WS + rb"*+[0-9.&])"
_CONTENT_VALUE: Final = (
    rb"(?:\"" + _NOT_REFRESH + rb"[^\"]*+\"|'" + _NOT_REFRESH + rb"[^']*+'"
    rb"|(?![\"'>0-9.&])[^\t\n\f\r >]++|(?=>))"
)
# Names spelt out as character classes: sre tests these far faster than (?i:...) words.
_SPECIAL: Final = (
    rb"(?:[sS](?:[tT][yY][lL][eE]|[rR][cC](?:[sS][eE][tT]|[dD][oO][cC]))|[cC][oO][nN][tT][eE][nN][tT]"
    rb"|[iI][mM][aA][gG][eE][sS][rR][cC][sS][eE][tT])(?=[\t\n\f\r /=>])"
)
_STYLE: Final = rb"[sS][tT][yY][lL][eE](?=[\t\n\f\r /=>])"
_CONTENT: Final = rb"[cC][oO][nN][tT][eE][nN][tT](?=[\t\n\f\r /=>])"
# A name that starts with '=' or a quote is legal but odd: such attributes go to Python.
_PLAIN_NAME: Final = rb"[^\t\n\f\r />=\"'][^\t\n\f\r /=>]*+"
# An attribute that needs no work. When its value would need a look, the optional value
# group fails, the name alone matches, and the loop then meets the '=' it cannot take:
# the whole tag fails and the scan stops in front of it.
_BORING_ATTR: Final = (
    rb"(?:(?!" + _SPECIAL + rb")" + _PLAIN_NAME + rb"(?>" + _EQ + _PLAIN_VALUE + rb")?"
    rb"|(?=" + _STYLE + rb")" + _PLAIN_NAME + rb"(?>" + _EQ + _STYLE_VALUE + rb")?"
    rb"|(?=" + _CONTENT + rb")" + _PLAIN_NAME + rb"(?>" + _EQ + _CONTENT_VALUE + rb")?"
    rb"|(?=" + _SPECIAL + rb")" + _PLAIN_NAME + _NO_VALUE + rb")"
)
_SEP: Final = rb"[\t\n\f\r /]++"

# Elements whose content is text up to their end tag (``plaintext``: to the end).
RAW_TEXT_NAMES: Final = frozenset(
    {
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
    }
)
_RAW_SKIPPABLE: Final = (
    b"script",
    b"textarea",
    b"title",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
)
_RAW_ANY: Final = (
    rb"(?:[sS](?:[cC][rR][iI][pP][tT]|[tT][yY][lL][eE])|[tT](?:[eE][xX][tT][aA][rR][eE][aA]|[iI][tT][lL][eE])"
    rb"|[xX][mM][pP]|[iI][fF][rR][aA][mM][eE]|[nN][oO](?:[eE][mM][bB][eE][dD]|[fF][rR][aA][mM][eE][sS]"
    rb"|[sS][cC][rR][iI][pP][tT])|[pP][lL][aA][iI][nN][tT][eE][xX][tT])(?=[\t\n\f\r />])"
)

COMMENT: Final = rb"<!--(?:>|->|(?:[^-]++|-(?!-!?>))*+--!?>)"
_CDATA: Final = rb"<!\[CDATA\[(?:[^\]]++|\](?!\]>))*+\]\]>"
_BOGUS: Final = rb"<(?:!(?!--|\[CDATA\[)|\?|/(?![A-Za-z]))[^>]*+>"
END_TAG: Final = rb"</" + _TAG_NAME + rb"(?:" + _SEP + rb"|" + ATTR + rb")*+>"
_LT_TEXT: Final = rb"<(?=[^A-Za-z!/?])"
_BORING_START: Final = (
    rb"<(?!" + _RAW_ANY + rb")" + _TAG_NAME + rb"(?:" + _SEP + rb"|" + _BORING_ATTR + rb")*+>"
)
# A raw-text element none of whose attributes needs work, through its end tag. Each name
# is spelt out: a backreference needs a group, and a group inside the possessive loop of
# BORING_RE makes Python 3.11's re raise SystemError (CPython gh-101955), e.g. on
# "<title>x</title> 1 < 2".
_BORING_RAW: Final = (
    rb"<(?:"
    + rb"|".join(
        rb"(?i:" + name + rb")(?=[\t\n\f\r />])(?:" + _SEP + rb"|" + _BORING_ATTR + rb")*+>"
        rb"(?:[^<]++|<(?!/(?i:" + name + rb")[\t\n\f\r />]))*+"
        rb"</(?i:" + name + rb")(?:" + _SEP + rb"|" + ATTR + rb")*+>"
        for name in _RAW_SKIPPABLE
    )
    + rb")"
)

_BORING_TOKEN: Final = (
    rb"(?:[^<]++|"
    + _BORING_START
    + rb"|"
    + END_TAG
    + rb"|"
    + COMMENT
    + rb"|"
    + _BORING_RAW
    + rb"|"
    + _CDATA
    + rb"|"
    + _BOGUS
    + rb"|"
    + _LT_TEXT
    + rb")"
)
BORING_RE: Final = re.compile(_BORING_TOKEN + rb"*+")
# One such construct (where core.html_fast stopped): None when the next needs a look.
BORING_TOKEN_RE: Final = re.compile(_BORING_TOKEN)
# What to do where BORING_RE stopped: the start of a start tag (with its name), else one of
# the constructs that were unfinished.
START_TAG_RE: Final = re.compile(rb"<(" + _TAG_NAME + rb")")
COMMENT_RE: Final = re.compile(COMMENT)
CDATA_RE: Final = re.compile(_CDATA)
BOGUS_RE: Final = re.compile(_BOGUS)
END_TAG_RE: Final = re.compile(END_TAG)
# A whole start tag: its name, and the span of its attributes.
START_TAG_WHOLE_RE: Final = re.compile(
    rb"<(" + _TAG_NAME + rb")((?:" + _SEP + rb"|" + ATTR + rb")*+)>"
)
# Within a start tag's attribute span: skip (in C) the attributes no rewrite looks at, stop
# at the next one that might matter: its name, and its raw value with any quotes.
_WATCHED: Final = (
    rb"(?i:href|src|action|formaction|poster|cite|background|longdesc|manifest|icon|xlink:href"
    rb"|data|srcset|imagesrcset|srcdoc|style|content|http-equiv)(?=[\t\n\f\r /=>]|\Z)"
)
WATCHED_ATTR_RE: Final = re.compile(
    rb"(?:" + _SEP + rb"|(?!" + _WATCHED + rb")" + ATTR + rb")*+(" + _WATCHED + rb")"
    rb"(?:" + _NO_VALUE + rb"|" + _EQ + rb"(" + _DQ + rb"|" + _SQ + rb"|" + _UQ + rb"|(?=>)|\Z))"
)
# The prologue before which nothing may come when a script is injected: a byte order mark,
# whitespace, comments, a doctype and other bogus comments.
PROLOGUE_RE: Final = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:" + _WS + rb"++|" + COMMENT + rb"|" + _BOGUS + rb")*+"
)


def raw_text_end_re(name: bytes) -> re.Pattern[bytes]:
    """The end tag that closes the raw-text element ``name`` (ASCII case-insensitive)."""
    return re.compile(rb"</" + re.escape(name) + rb"(?=[\t\n\f\r />])", re.IGNORECASE)
