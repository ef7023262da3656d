"""Label and field selectors: parsing, canonical rendering and matching.

Label selectors follow k8s.io/apimachinery/pkg/labels (the grammar of ``?labelSelector=``
and ``kubectl -l``)::

    selector    := requirement ("," requirement)*
    requirement := ["!"] KEY [ ("in" | "notin") "(" VALUE ("," VALUE)* ")"
                             | ("=" | "==" | "!=" | ">" | "<") VALUE ]

Whitespace separates tokens and is otherwise ignored. Requirements are sorted by key
and set values are sorted and de-duplicated, so ``str(selector)`` is canonical and parses
back to an equal selector. Parse errors are ``SelectorError`` with the message kube's
parser produces; the server answers them with 400 Bad Request.

Field selectors (``core/field_selectors.py``, re-exported here) follow k8s.io/apimachinery/pkg/fields: comma-separated ``field=value``,
``field==value`` or ``field!=value`` terms, with ``\\,``, ``\\=`` and ``\\\\`` escapes in values.
Which fields a kind supports, and how each is read from an object, mirrors the field label
conversion functions and ``ToSelectableFields`` of the built-in registries.

Empty selectors: the empty string and ``{}`` select everything; a missing
(``None``) LabelSelector selects nothing. A Service's plain ``spec.selector`` map selects
nothing when it is missing *or empty*: kube stores an empty map as absent, and the
endpoints controllers skip Services without a selector.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kubegate.core.go_strconv import parse_int64
from kubegate.core.names import is_label_value, is_qualified_name
from kubegate.core.selector_errors import SelectorError

# =================================================================================
# Label selectors
# =================================================================================


class Operator(enum.StrEnum):
    """Requirement operators, with the names k8s.io/apimachinery/pkg/selection uses."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = "gt"
    LESS_THAN = "lt"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


_BINARY_OPERATORS: Final = "in, notin, =, ==, !=, gt, lt"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key <op> values`` term of a label selector; build with ``new_requirement``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        # Gt / Lt compare integers; a label that is not an integer never matches.
        if self.key not in labels or len(self.values) != 1:
            return False
        have, want = parse_int64(labels[self.key]), parse_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements; ``nothing`` marks the selector that matches no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (it matches every object)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING: Final = LabelSelector()
NOTHING: Final = LabelSelector(nothing=True)


def _go_list(values: tuple[str, ...] | list[str]) -> str:
    return "[]string{" + ", ".join(_go_quote(v) for v in values) + "}"


def _go_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _key_errors(key: str) -> list[str]:
    return is_qualified_name(key)


def new_requirement(
    key: str, operator: Operator, values: list[str] | tuple[str, ...]
) -> Requirement:
    """Build a validated requirement, raising SelectorError as labels.NewRequirement does."""
    errors: list[str] = []
    if msgs := _key_errors(key):
        errors.append(f"key: Invalid value: {_go_quote(key)}: {'; '.join(msgs)}")
    vals = tuple(values)
    if operator in (Operator.IN, Operator.NOT_IN):
        if not vals:
            errors.append(
                f"values: Invalid value: {_go_list(vals)}: "
                "for 'in', 'notin' operators, values set can't be empty"
            )
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(vals) != 1:
            errors.append(
                f"values: Invalid value: {_go_list(vals)}: "
                "exact-match compatibility requires one single value"
            )
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        if vals:
            errors.append(
                f"values: Invalid value: {_go_list(vals)}: "
                "values set must be empty for exists and does not exist"
            )
    else:  # Gt, Lt
        if len(vals) != 1:
            errors.append(
                f"values: Invalid value: {_go_list(vals)}: "
                "for 'Gt', 'Lt' operators, exactly one value is required"
            )
        for i, value in enumerate(vals):
            if parse_int64(value) is None:
                errors.append(
                    f"values[{i}]: Invalid value: {_go_quote(value)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    for i, value in enumerate(vals):
        if msgs := is_label_value(value):
            errors.append(
                f"values[{i}][{key}]: Invalid value: {_go_quote(value)}: {'; '.join(msgs)}"
            )
    if errors:
        # utilerrors.Aggregate: one error reads plainly, several are bracketed.
        raise SelectorError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return Requirement(key, operator, vals)


def _sorted_selector(requirements: list[Requirement]) -> LabelSelector:
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


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
        if msgs := _key_errors(lit):
            # kube reports this with an unset field path, which prints as "<nil>".
            raise SelectorError(f"<nil>: Invalid value: {_go_quote(lit)}: {'; '.join(msgs)}")
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
    return _sorted_selector(_Parser(text).parse())


_JSON_OPERATORS: Final = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_label_selector_json(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a metav1.LabelSelector object (``matchLabels``/``matchExpressions``).

    ``None`` selects nothing and ``{}`` selects everything, as LabelSelectorAsSelector does.
    """
    if selector is None:
        return NOTHING
    match_labels: Mapping[str, Any] = selector.get("matchLabels") or {}
    expressions: list[Any] = selector.get("matchExpressions") or []
    requirements = [new_requirement(k, Operator.EQUALS, [str(v)]) for k, v in match_labels.items()]
    for expression in expressions:
        op_name = expression.get("operator", "")
        operator = _JSON_OPERATORS.get(op_name)
        if operator is None:
            raise SelectorError(f"{_go_quote(str(op_name))} is not a valid label selector operator")
        values = [str(v) for v in expression.get("values") or []]
        requirements.append(new_requirement(str(expression.get("key", "")), operator, values))
    return _sorted_selector(requirements)


def from_set_selector(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a plain ``{key: value}`` selector such as a Service's ``spec.selector``.

    A missing or empty map selects nothing (see the module docstring for why).
    """
    if not selector:
        return NOTHING
    return _sorted_selector(
        [new_requirement(k, Operator.EQUALS, [str(v)]) for k, v in selector.items()]
    )


# Field selectors live in their own module; re-exported so callers keep one import.
from kubegate.core.field_selectors import (  # noqa: E402
    FieldSelector,
    FieldTerm,
    escape_field_value,
    field_value,
    parse_field_selector,
    resolve_field_selector,
    supported_fields,
    unescape_field_value,
)

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "FieldSelector",
    "FieldTerm",
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "escape_field_value",
    "field_value",
    "from_label_selector_json",
    "from_set_selector",
    "new_requirement",
    "parse_field_selector",
    "parse_label_selector",
    "resolve_field_selector",
    "supported_fields",
    "unescape_field_value",
]
