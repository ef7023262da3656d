"""Go's ``strconv`` integer parsing, for the rules Kubernetes states in terms of it (label
selector ``gt``/``lt`` values, numeric proxy ports), where Python's ``int()`` would accept
more (underscores, whitespace, non-ASCII digits, unbounded values)."""

from __future__ import annotations

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
