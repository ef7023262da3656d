"""CSS rewriting: ``url(…)`` and ``@import "…"`` moved under the proxy prefix.

Tokens follow CSS Syntax Level 3 as far as URLs are concerned: comments (``/* … */``) and
strings are skipped whole (``content: "url(/x)"`` is not a URL), ``url(`` counts only at the
start of an identifier (``myurl(`` is another function), its argument is a string or an
unquoted URL (whitespace around it allowed; a quote, ``(``, whitespace or a control inside
makes it a bad URL, left alone), and ``@import`` takes a string or ``url(…)``. Escapes in a
URL (``\\2f``) are decoded before deciding and re-encoded after, with ``<`` and ``>`` always
escaped so a rewritten URL can never spell ``</style``.

The text model is the one of core.html_values: raw bytes at or above 0x80 are lone
surrogates; decoded escapes are real code points (written back as ``\\HHHH``).
:func:`rewrite_css` takes a whole text (a ``style`` attribute); :class:`CssStream` takes a
stylesheet in pieces, holding back an unfinished token until the next piece.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["CssStream", "rewrite_css"]

Rewrite = Callable[[str], "str | None"]

_WS: Final = r"[ \t\n\r\f]"
_COMMENT: Final = r"/\*(?:[^*]++|\*(?!/))*+\*/"
_STRING: Final = r"\"(?:[^\"\\\n\r\f]++|\\[\s\S])*+\"|'(?:[^'\\\n\r\f]++|\\[\s\S])*+'"
# Everything a rewrite cannot touch. Lookaheads demand the characters they look at, so at
# the end of a piece the scan stops (and the rest is held) instead of guessing.
_BORING_RE: Final = re.compile(
    r"(?:[^/\"'uU@\\]++|"
    + _COMMENT
    + r"|"
    + _STRING
    + r"|/(?=[^*])|[uU](?=[\s\S]{3})(?![rR][lL]\()|@(?=[\s\S]{6})(?![iI][mM][pP][oO][rR][tT])"
    r"|\\[\s\S])*+"
)
_UNQUOTED: Final = (
    r"(?:[^\"'()\\ \t\n\r\f\x00-\x08\x0b\x0e-\x1f\x7f]++"
    r"|\\(?:[0-9A-Fa-f]{1,6}[ \t\n\r\f]?|[^\n\r\f0-9A-Fa-f]))*+"
)
_URL_RE: Final = re.compile(
    r"[uU][rR][lL]\("
    + _WS
    + r"*+(?:(?P<quoted>"
    + _STRING
    + r")|(?P<bare>"
    + _UNQUOTED
    + r"))"
    + _WS
    + r"*+\)"
)
_IMPORT_RE: Final = re.compile(
    r"@[iI][mM][pP][oO][rR][tT]" + _WS + r"*+(?P<quoted>" + _STRING + r")"
)
_NAME_CHAR_RE: Final = re.compile(r"[A-Za-z0-9_\-\\\x80-\U0010ffff]")
_ESCAPE_RE: Final = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})[ \t\n\f]?|\r\n|([\s\S]))")
# The longest unfinished token held back (a data: URL in a string can be long) before the
# scan takes it for malformed and reads on.
_WINDOW: Final = 1 << 20


def rewrite_css(text: str, rewrite: Rewrite) -> str | None:
    """The CSS text with its URLs rewritten; None when nothing changed."""
    stream = _Scanner(rewrite)
    out = stream.scan(text, final=True)
    return out if stream.changed else None


class CssStream:
    """A stylesheet rewritten piece by piece (bytes in, bytes out, same total content)."""

    def __init__(self, rewrite: Rewrite) -> None:
        self._scanner = _Scanner(rewrite)
        self._held = ""

    def feed(self, data: bytes) -> bytes:
        text = self._held + data.decode("ascii", "surrogateescape")
        out = self._scanner.scan(text, final=False)
        self._held = text[self._scanner.stopped :]
        return out.encode("ascii", "surrogateescape")

    def finish(self) -> bytes:
        text, self._held = self._held, ""
        return self._scanner.scan(text, final=True).encode("ascii", "surrogateescape")


class _Scanner:
    def __init__(self, rewrite: Rewrite) -> None:
        self.rewrite = rewrite
        self.changed = False
        self.stopped = 0  # where the last scan stopped (the rest is unfinished)

    def scan(self, text: str, *, final: bool) -> str:
        out: list[str] = []
        copied = 0
        position = 0
        end = len(text)
        while True:
            boring = _BORING_RE.match(text, position)  # always matches, maybe empty
            position = boring.end() if boring is not None else position
            if position >= end:
                break
            replaced = self._at_url(text, position) if text[position] in "uU" else None
            if replaced is None and text[position] == "@":
                replaced = self._at_import(text, position)
            if replaced is not None:
                match_end, new = replaced
                if new is not None:
                    out.append(text[copied:position])
                    out.append(new)
                    copied = match_end
                    self.changed = True
                position = match_end
                continue
            if not final and end - position < _WINDOW:
                break  # perhaps unfinished: wait for more
            if text[position] in "/\"'":
                # An unterminated comment or string: at the very end it takes the rest.
                position = end if final else position + 1
            else:
                position += 1  # a malformed url( or @import is plain text
        stop = end if final else position
        out.append(text[copied:stop])
        self.stopped = stop
        return "".join(out)

    def _at_url(self, text: str, position: int) -> tuple[int, str | None] | None:
        match = _URL_RE.match(text, position)
        if match is None:
            return None
        if position and _NAME_CHAR_RE.match(text, position - 1):
            return match.end(), None  # part of a longer identifier: another function
        quoted = match.group("quoted")
        raw = quoted if quoted is not None else match.group("bare")
        new = self._rewritten(raw, quoted is not None)
        if new is None:
            return match.end(), None
        start, stop = match.span("quoted" if quoted is not None else "bare")
        return match.end(), text[position:start] + new + text[stop : match.end()]

    def _at_import(self, text: str, position: int) -> tuple[int, str | None] | None:
        match = _IMPORT_RE.match(text, position)
        if match is None:
            return None
        new = self._rewritten(match.group("quoted"), True)
        if new is None:
            return match.end(), None
        start = match.start("quoted")
        return match.end(), text[position:start] + new

    def _rewritten(self, raw: str, quoted: bool) -> str | None:
        body = raw[1:-1] if quoted else raw
        url = _ESCAPE_RE.sub(_unescape, body) if "\\" in body else body
        new = self.rewrite(url)
        if new is None:
            return None
        if quoted:
            return raw[0] + _escape(new, raw[0]) + raw[0]
        return _escape(new, "")


def _unescape(match: re.Match[str]) -> str:
    hex_digits, char = match.group(1), match.group(2)
    if hex_digits is not None:
        code = int(hex_digits, 16)
        if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            return "\ufffd"
        return chr(code)
    return char if char is not None else ""  # an escaped newline continues the string


def _escape(text: str, quote: str) -> str:
    special = "\\<>" + (quote or "\"'() ")
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(char)  # a raw byte of the document: back as it was
        elif char in special or code < 0x20 or code == 0x7F or code > 0x7F:
            out.append(f"\\{code:x} ")
        else:
            out.append(char)
    return "".join(out)
