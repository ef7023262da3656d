"""Code put at the top of a JavaScript body without changing what the body means.

kubegate prepends its shim to worker scripts (proxy/rewrite.py). "At the top" has to mean
after three things that must stay first:

* a byte order mark, which only counts as the first bytes of the body;
* a hashbang line (``#!…``), valid only at the very start of a script (ES2023);
* the directive prologue: the string-literal statements at the start (``"use strict";``),
  which are directives only while nothing precedes them. Code put before them would turn
  ``"use strict"`` into a plain expression and silently run the script in sloppy mode.

:func:`insertion_point` finds that place from the body's first bytes, skipping whitespace
and comments between directives as the ECMAScript grammar does. A directive ended by a line
break instead of ``;`` (automatic semicolon insertion) is recognised only when what follows
certainly starts a new statement (a string, ``{``, an identifier other than ``in`` or
``instanceof``); when in doubt the point stays before it: a script that loses strict mode
still runs, one with code cut into an expression would not. The code is put on the same
line as what follows it, so the script's line numbers stay as they were.

:class:`JsPrepend` applies it to a body arriving in pieces, holding back only the first
bytes until the place is known (at most :data:`HOLD_MAX` bytes; past that, what is held is
taken as the whole head).
"""

from __future__ import annotations

from typing import Final

__all__ = ["HOLD_MAX", "JsPrepend", "insertion_point"]

HOLD_MAX: Final = 64 * 1024
_BOM: Final = b"\xef\xbb\xbf"
_SPACE: Final = frozenset(b" \t\v\f")
_LINE: Final = frozenset(b"\n\r")
# Whitespace and line terminators beyond ASCII, in UTF-8: NBSP, ZWNBSP; LS and PS.
_WIDE_SPACE: Final = (b"\xc2\xa0", _BOM)
_WIDE_LINE: Final = (b"\xe2\x80\xa8", b"\xe2\x80\xa9")
_QUOTES: Final = frozenset(b"'\"")
_WORD: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
_WORD_START: Final = _WORD - frozenset(b"0123456789")
_CONTINUING_WORDS: Final = frozenset({b"in", b"instanceof"})  # binary operators


class _More(Exception):
    """The head ends before the answer is known."""


def insertion_point(head: bytes, *, final: bool) -> tuple[int, bytes] | None:
    """Where code prepended to the script whose first bytes are ``head`` goes, and what must
    come before it there (``b""``, ``b";"`` ending a directive that had no semicolon, or
    ``b"\\n"`` ending a hashbang line that had no line break); None when ``head`` is too
    short to tell — never when ``final`` (``head`` is the whole script)."""
    try:
        return _scan(head, final)
    except _More:
        return None


def _scan(head: bytes, final: bool) -> tuple[int, bytes]:
    n = len(head)
    pos = 0
    if head.startswith(_BOM):
        pos = 3
    elif n < 3 and _BOM.startswith(head):
        _more(final)
    if head.startswith(b"#!", pos):
        end = _line_end(head, pos)
        if end < 0:
            _more(final)
            return n, b"\n"
        pos = end
    elif n == pos + 1 and head[pos] == ord("#"):
        _more(final)
    best = (pos, b"")
    while True:
        start, _ = _skip(head, pos, final)
        if start >= n or head[start] not in _QUOTES:
            return best
        end = _string_end(head, start, final)
        if end < 0:
            return best
        after, line_break = _skip(head, end, final)
        if after < n and head[after] == ord(";"):
            best = (after + 1, b"")
        elif after >= n or (line_break and _starts_statement(head, after, final)):
            best = (end, b";")  # (after >= n: the whole script ends there)
        else:
            return best
        pos = best[0]


def _more(final: bool) -> None:
    if not final:
        raise _More


def _line_end(head: bytes, pos: int) -> int:
    """The index just past the line terminator ending the line at ``pos``; -1 if none."""
    for i in range(pos, len(head)):
        byte = head[i]
        if byte in _LINE:
            return i + 2 if head.startswith(b"\r\n", i) else i + 1
        if byte == 0xE2 and head[i : i + 3] in _WIDE_LINE:
            return i + 3
    return -1


def _skip(head: bytes, pos: int, final: bool) -> tuple[int, bool]:
    """Past the whitespace and comments at ``pos``; and whether they held a line break."""
    n = len(head)
    line_break = False
    while pos < n:
        byte = head[pos]
        if byte in _SPACE:
            pos += 1
        elif byte in _LINE:
            pos, line_break = pos + 1, True
        elif byte == ord("/"):
            if pos + 1 >= n:
                _more(final)
                return pos, line_break
            follower = head[pos + 1]
            if follower == ord("/"):
                end = _line_end(head, pos)
                if end < 0:
                    _more(final)
                    return n, line_break
                pos, line_break = end, True
            elif follower == ord("*"):
                end = head.find(b"*/", pos + 2)
                if end < 0:
                    _more(final)
                    return n, line_break
                comment = head[pos + 2 : end]
                line_break = line_break or any(b in comment for b in (b"\n", b"\r", *_WIDE_LINE))
                pos = end + 2
            else:
                return pos, line_break  # a division or a regular expression: a token
        elif byte >= 0x80:
            rest = head[pos : pos + 3]
            wide = next((s for s in (*_WIDE_SPACE, *_WIDE_LINE) if rest.startswith(s)), None)
            if wide is None:
                if any(s.startswith(rest) for s in (*_WIDE_SPACE, *_WIDE_LINE)):
                    _more(final)  # cut in the middle of one
                return pos, line_break
            pos += len(wide)
            line_break = line_break or wide in _WIDE_LINE
        else:
            return pos, line_break
    _more(final)
    return pos, line_break


def _string_end(head: bytes, start: int, final: bool) -> int:
    """The index just past the string literal at ``start``; -1 if it is not one."""
    quote = head[start]
    n = len(head)
    i = start + 1
    while i < n:
        byte = head[i]
        if byte == quote:
            return i + 1
        if byte in _LINE:
            return -1  # (a line break ends no string: only an escaped one continues it)
        if byte == ord("\\"):
            if i + 2 >= n:
                _more(final)
            i += 3 if head.startswith(b"\\\r\n", i) else 2
        else:
            i += 1
    _more(final)
    return -1


def _starts_statement(head: bytes, pos: int, final: bool) -> bool:
    """Whether the token at ``pos`` cannot continue the expression before it (so that a
    line break before it ends that statement)."""
    byte = head[pos]
    if byte in _QUOTES or byte == ord("{"):
        return True
    if byte not in _WORD_START:
        return False  # ( [ ` . + - / = ?… or anything not ASCII: it may continue
    end = pos
    while end < len(head) and head[end] in _WORD:
        end += 1
    if end == len(head):
        _more(final)
    return head[pos:end] not in _CONTINUING_WORDS and (end == len(head) or head[end] < 0x80)


class JsPrepend:
    """A script with ``code`` put in at its :func:`insertion_point`, piece by piece (bytes
    in, bytes out); until the place is known its first bytes are held back."""

    def __init__(self, code: bytes, *, hold_max: int = HOLD_MAX) -> None:
        self._code = code
        self._hold_max = hold_max
        self._held = b""
        self._done = False

    def feed(self, data: bytes) -> bytes:
        if self._done:
            return data
        held = self._held + data
        point = insertion_point(held, final=len(held) >= self._hold_max)
        if point is None:
            self._held = held
            return b""
        return self._put(held, point)

    def finish(self) -> bytes:
        if self._done:
            return b""
        point = insertion_point(self._held, final=True)
        assert point is not None  # (final: always an answer)
        return self._put(self._held, point)

    def _put(self, held: bytes, point: tuple[int, bytes]) -> bytes:
        self._done = True
        self._held = b""
        offset, lead = point
        return held[:offset] + lead + self._code + held[offset:]
