"""Go's ``strconv``, for the rules Kubernetes states in terms of it: integer parsing (label
selector ``gt``/``lt`` values, numeric proxy ports), where Python's ``int()`` would accept
more (underscores, whitespace, non-ASCII digits, unbounded values); and ``Quote`` (``%q``),
so that messages quoting a value match kube's byte for byte."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def parse_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: optional sign, ASCII digits only, 64-bit range;
    None where Go returns an error."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` (strconv.Quote) prints it, so messages match kube's."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():  # Go's unicode.IsPrint: L, M, N, P, S and ASCII space
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # not a valid rune: Go prints the replacement char
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES: Final[Mapping[str, str]] = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}
