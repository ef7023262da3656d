"""Attribute values: read them as a browser does, write them back so they stay one value.

Reading (:func:`decode_attribute`) resolves character references with the attribute-value
rules of WHATWG §13.2.5.72-80: numeric references (``&#47;``, ``&#x2F``, with or without
``;``; 0, surrogates and out-of-range code points become U+FFFD, 0x80-0x9F the
windows-1252 characters), named references by longest match, where a legacy name without
``;`` followed by ``=`` or an alphanumeric stays literal (``?a=1&copy=2`` keeps ``&copy``).

Bytes and characters are kept apart: raw bytes at or above 0x80 become lone surrogates
U+DC80-U+DCFF (``surrogateescape``), so the document's own encoding never has to be known,
while characters that came from references are real code points.

Writing (:func:`encode_attribute`) escapes, as character references, ``&``, ``<``, ``>``,
controls and the value's own quote — and for an unquoted value also whitespace, both
quotes, ``=`` and ``` ` ``` — and every non-ASCII code point that came from a reference as
``&#x…;``; surrogates go back to their original bytes. A rewritten value therefore cannot
end its attribute, its tag or start markup (security.md §2.10: ``<a href="/x&quot;
onmouseover=…">`` stays a single ``href``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.entities import html5
from typing import Final

__all__ = [
    "decode_attribute",
    "encode_attribute",
    "rewrite_refresh_content",
    "rewrite_srcset",
]

_REF_RE: Final = re.compile(r"&(?:#[xX]([0-9A-Fa-f]+);?|#([0-9]+);?|([A-Za-z][A-Za-z0-9]*);?)")
_LONGEST_NAME: Final = max(len(name) for name in html5)
_ESCAPE: Final = {
    "&": "&amp;",
    '"': "&quot;",
    "'": "&#39;",
    "<": "&lt;",
    ">": "&gt;",
    "=": "&#61;",
    "`": "&#96;",
}
# Unquoted values: everything that could end the value or mean markup in any state.
# One class each (sre searches a single class far faster than an alternation): the
# specials, and every non-ASCII code point but the lone surrogates that stand for bytes.
_NOT_ASCII: Final = r"\x80-\udc7f\udd00-\U0010ffff"
_UNQUOTED_ESCAPE_RE: Final = re.compile(r"[&\"'<>=`\x00-\x20\x7f" + _NOT_ASCII + r"]")
_QUOTED_ESCAPE_RE: Final = {
    quote: re.compile(r"[&" + quote + r"<>\x00-\x08\x0b\x0e-\x1f\x7f" + _NOT_ASCII + r"]")
    for quote in ('"', "'")
}


def decode_attribute(raw: bytes) -> str:
    """An attribute value's raw bytes (without quotes) as the text a browser reads."""
    text = raw.decode("ascii", "surrogateescape")
    if "&" not in text:
        return text
    return _REF_RE.sub(_reference, text)


def _reference(match: re.Match[str]) -> str:
    whole = match.group(0)
    if match.group(3) is None:  # numeric: html.unescape applies the spec's replacement table
        return html.unescape(whole if whole.endswith(";") else whole + ";")
    # Named: the longest prefix of the name (with the ';' when it is there) that is a known
    # reference; in an attribute a legacy match without ';' followed by '=' or an
    # alphanumeric is left alone.
    text = whole[1:]
    source = match.string
    for length in range(min(len(text), _LONGEST_NAME), 0, -1):
        name = text[:length]
        if name in html5:
            if not name.endswith(";"):
                after = (
                    text[length] if length < len(text) else source[match.end() : match.end() + 1]
                )
                if after == "=" or after.isalnum():
                    return whole
            return html5[name] + text[length:]
    return whole


def encode_attribute(text: str, quote: str = "") -> bytes:
    """Text as the bytes of an attribute value quoted with ``quote`` ('"', "'" or '' for
    unquoted): nothing in it can end the value or start markup."""
    pattern = _QUOTED_ESCAPE_RE[quote] if quote else _UNQUOTED_ESCAPE_RE
    if pattern.search(text) is not None:
        text = pattern.sub(_escape, text)
    return text.encode("ascii", "surrogateescape")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return _ESCAPE.get(char) or f"&#x{ord(char):x};"


# -- structured values -------------------------------------------------------------------

_SRCSET_SEPARATORS_RE: Final = re.compile(r"[\t\n\f\r ,]*")
_SRCSET_URL_RE: Final = re.compile(r"[^\t\n\f\r ]*")
_SRCSET_DESCRIPTORS_RE: Final = re.compile(r"[^,(]*")  # up to a comma, or a '(' to count


def rewrite_srcset(value: str, rewrite: Callable[[str], str | None]) -> str | None:
    """A ``srcset``/``imagesrcset`` list with each candidate's URL rewritten (WHATWG
    "parse a srcset attribute": URLs end at whitespace, trailing commas end a candidate,
    descriptors run to a comma outside parentheses); None when nothing changed."""
    out: list[str] = []
    changed = False
    position = 0
    length = len(value)
    while position < length:
        stop = _SRCSET_SEPARATORS_RE.match(value, position).end()  # type: ignore[union-attr]
        out.append(value[position:stop])
        position = stop
        if position >= length:
            break
        stop = _SRCSET_URL_RE.match(value, position).end()  # type: ignore[union-attr]
        url = value[position:stop]
        position = stop
        core = url.rstrip(",")
        new = rewrite(core) if core else None
        if new is not None:
            changed = True
            out.append(new + url[len(core) :])
        else:
            out.append(url)
        if len(core) != len(url):
            continue  # trailing commas ended the candidate
        stop = _SRCSET_DESCRIPTORS_RE.match(value, position).end()  # type: ignore[union-attr]
        if stop < length and value[stop] == "(":
            stop = _descriptors_end(value, stop)
        out.append(value[position:stop])
        position = stop
    return "".join(out) if changed else None


def _descriptors_end(value: str, position: int) -> int:
    """Where descriptors that reach a '(' end: the first comma outside parentheses."""
    depth = 0
    length = len(value)
    while position < length:
        char = value[position]
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char == "," and not depth:
            break
        position += 1
    return position


# WHATWG "shared declarative refresh steps": <time>[.fraction][;|,][url=]['"]<url>['"]
_REFRESH_RE: Final = re.compile(
    r"(?P<head>[\t\n\f\r ]*(?=[0-9.])[0-9]*(?:\.[0-9.]*)?[\t\n\f\r ]*[;,]?[\t\n\f\r ]*"
    r"(?:[uU][rR][lL][\t\n\f\r ]*=[\t\n\f\r ]*)?)(?P<quote>['\"]?)(?P<url>.*)",
    re.DOTALL,
)


def rewrite_refresh_content(value: str, rewrite: Callable[[str], str | None]) -> str | None:
    """A ``<meta http-equiv=refresh content=…>`` value with its URL rewritten; None when
    it has no URL or the URL stays."""
    match = _REFRESH_RE.fullmatch(value)
    if match is None:
        return None
    url, quote = match.group("url"), match.group("quote")
    tail = ""
    if quote:
        end = url.find(quote)
        if end >= 0:
            url, tail = url[:end], url[end:]
    if not url.strip():
        return None
    new = rewrite(url)
    if new is None:
        return None
    return match.group("head") + quote + new + tail
