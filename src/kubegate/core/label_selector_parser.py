"""The label selector grammar: ``?labelSelector=`` and ``kubectl -l`` text -> ``LabelSelector``.

It follows k8s.io/apimachinery/pkg/labels (``Lexer`` and ``Parser``)::

    selector    := requirement ("," requirement)*
    requirement := ["!"] KEY [ ("in" | "notin") "(" VALUE ("," VALUE)* ")"
                             | ("=" | "==" | "!=" | ">" | "<") VALUE ]

Whitespace separates tokens and is otherwise ignored. Parse errors are ``SelectorError`` with
the message kube's parser produces; the server answers them with 400 Bad Request. What a
parsed selector is, and how it matches, is :mod:`kubegate.core.selectors`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Final

from kubegate.core.selector_errors import SelectorError
from kubegate.core.selectors import (
    LabelSelector,
    Operator,
    Requirement,
    invalid_key,
    new_requirement,
)

__all__ = ["parse_label_selector"]

# -- lexer ---------------------------------------------------------------------------


class _Tok(enum.Enum):
    END = enum.auto()
    CLOSE = enum.auto()
    COMMA = enum.auto()
    BANG = enum.auto()
    DOUBLE_EQUALS = enum.auto()
    EQUALS = enum.auto()
    GREATER = enum.auto()
    IDENT = enum.auto()
    IN = enum.auto()
    LESS = enum.auto()
    NOT_EQUALS = enum.auto()
    NOT_IN = enum.auto()
    OPEN = enum.auto()


_LITERAL_TOKENS: Final = {
    ")": _Tok.CLOSE,
    ",": _Tok.COMMA,
    "!": _Tok.BANG,
    "==": _Tok.DOUBLE_EQUALS,
    "=": _Tok.EQUALS,
    ">": _Tok.GREATER,
    "in": _Tok.IN,
    "<": _Tok.LESS,
    "!=": _Tok.NOT_EQUALS,
    "notin": _Tok.NOT_IN,
    "(": _Tok.OPEN,
}
_SPECIAL: Final = frozenset("=!(),><")
_WHITESPACE: Final = frozenset(" \t\r\n")


def _lex(text: str) -> Iterator[tuple[_Tok, str]]:
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            yield _Tok.END, ""
            return
        if text[pos] in _SPECIAL:
            # Longest run of symbols that still spells a token ("!=", "=="), as kube does.
            literal, stop = text[pos], pos + 1
            while stop < end and text[stop] in _SPECIAL and text[pos : stop + 1] in _LITERAL_TOKENS:
                literal, stop = text[pos : stop + 1], stop + 1
            pos = stop
            yield _LITERAL_TOKENS[literal], literal
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        yield _LITERAL_TOKENS.get(word, _Tok.IDENT), word


# -- parser --------------------------------------------------------------------------

_BINARY_OPERATORS: Final = "in, notin, =, ==, !=, gt, lt"


class _Parser:
    """Recursive descent over pre-scanned tokens, mirroring labels.Parser step by step."""

    def __init__(self, text: str) -> None:
        self._items = list(_lex(text))
        self._pos = 0

    def _peek(self, values: bool) -> tuple[_Tok, str]:
        tok, lit = self._items[self._pos]
        # In a value position the keywords "in" and "notin" are plain identifiers.
        if values and tok in (_Tok.IN, _Tok.NOT_IN):
            tok = _Tok.IDENT
        return tok, lit

    def _next(self, values: bool) -> tuple[_Tok, str]:
        item = self._peek(values)
        self._pos += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self._peek(values=True)
            if tok is _Tok.END:
                return requirements
            if tok not in (_Tok.IDENT, _Tok.BANG):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self._requirement())
            except SelectorError as exc:
                raise SelectorError(f"unable to parse requirement: {exc}") from None
            tok, lit = self._next(values=True)
            if tok is _Tok.END:
                return requirements
            if tok is not _Tok.COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self._peek(values=True)
            if tok not in (_Tok.IDENT, _Tok.BANG):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        key, unary = self._key_and_unary_operator()
        if unary is not None:
            return new_requirement(key, unary, ())
        operator = self._operator()
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self._value_set()
        else:
            values = {self._exact_value()}
        return new_requirement(key, operator, sorted(values))

    def _key_and_unary_operator(self) -> tuple[str, Operator | None]:
        operator: Operator | None = None
        tok, lit = self._next(values=True)
        if tok is _Tok.BANG:
            operator = Operator.DOES_NOT_EXIST
            tok, lit = self._next(values=True)
        if tok is not _Tok.IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        if message := invalid_key("<nil>", lit):
            # kube reports this with an unset field path, which prints as "<nil>".
            raise SelectorError(message)
        following, _ = self._peek(values=True)
        if following in (_Tok.END, _Tok.COMMA) and operator is None:
            operator = Operator.EXISTS
        return lit, operator

    def _operator(self) -> Operator:
        tok, lit = self._next(values=False)
        operator = {
            _Tok.IN: Operator.IN,
            _Tok.EQUALS: Operator.EQUALS,
            _Tok.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
            _Tok.GREATER: Operator.GREATER_THAN,
            _Tok.LESS: Operator.LESS_THAN,
            _Tok.NOT_IN: Operator.NOT_IN,
            _Tok.NOT_EQUALS: Operator.NOT_EQUALS,
        }.get(tok)
        if operator is None:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return operator

    def _value_set(self) -> set[str]:
        tok, lit = self._next(values=True)
        if tok is not _Tok.OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek(values=True)
        if tok is _Tok.CLOSE:  # "()" is the set holding the empty string
            self._next(values=True)
            return {""}
        if tok not in (_Tok.IDENT, _Tok.COMMA):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self._identifiers()
        self._next(values=True)  # the ')' that _identifiers stopped at
        return values

    def _identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._next(values=True)
            if tok is _Tok.IDENT:
                values.add(lit)
                after, after_lit = self._peek(values=True)
                if after is _Tok.COMMA:
                    continue
                if after is _Tok.CLOSE:
                    return values
                raise SelectorError(f"found '{after_lit}', expected: ',' or ')'")
            if tok is _Tok.COMMA:
                # Empty entries ("(,a)", "(a,,b)", "(a,)") stand for the empty string.
                if not values:
                    values.add("")
                after, _ = self._peek(values=True)
                if after is _Tok.CLOSE:
                    values.add("")
                    return values
                if after is _Tok.COMMA:
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> str:
        tok, _ = self._peek(values=True)
        if tok in (_Tok.END, _Tok.COMMA):
            return ""  # "key=" compares against the empty value
        tok, lit = self._next(values=True)
        if tok is _Tok.IDENT:
            return lit
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the string form of a label selector; ``""`` selects everything."""
    return LabelSelector.of(_Parser(text).parse())
