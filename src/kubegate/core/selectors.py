"""Label selectors: what one is, how it matches labels, and how API objects spell one.

The model follows k8s.io/apimachinery/pkg/labels: a selector is a conjunction of
requirements (``key <op> values``), each validated as ``labels.NewRequirement`` does.
Requirements are sorted by key and set values are sorted and de-duplicated, so ``str(selector)``
is canonical and parses back to an equal selector (the text grammar:
:mod:`kubegate.core.label_selector_parser`; field selectors: :mod:`kubegate.core.field_selectors`).
Invalid requirements are ``SelectorError`` with kube's message (400 Bad Request).

Empty selectors: the empty string and ``{}`` select everything; a missing
(``None``) LabelSelector selects nothing. A Service's plain ``spec.selector`` map selects
nothing when it is missing *or empty*: kube stores an empty map as absent, and the
endpoints controllers skip Services without a selector.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kubegate.core.go_strconv import go_quote, parse_int64
from kubegate.core.names import is_label_value, is_qualified_name
from kubegate.core.selector_errors import SelectorError

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "LabelSelector",
    "Operator",
    "Requirement",
    "from_label_selector_json",
    "from_set_selector",
    "invalid_key",
    "new_requirement",
]


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

    @classmethod
    def of(cls, requirements: list[Requirement]) -> LabelSelector:
        """The selector of ``requirements``, sorted by key so that ``str()`` is canonical."""
        return cls(tuple(sorted(requirements, key=lambda r: r.key)))

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING: Final = LabelSelector()
NOTHING: Final = LabelSelector(nothing=True)


def _go_list(values: tuple[str, ...] | list[str]) -> str:
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def invalid_key(field_path: str, key: str) -> str | None:
    """kube's ``field.Invalid`` text for a label key that is not a qualified name, else None."""
    if msgs := is_qualified_name(key):
        return f"{field_path}: Invalid value: {go_quote(key)}: {'; '.join(msgs)}"
    return None


def new_requirement(
    key: str, operator: Operator, values: list[str] | tuple[str, ...]
) -> Requirement:
    """Build a validated requirement, raising SelectorError as labels.NewRequirement does."""
    errors: list[str] = []
    if message := invalid_key("key", key):
        errors.append(message)
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
                    f"values[{i}]: Invalid value: {go_quote(value)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    for i, value in enumerate(vals):
        if msgs := is_label_value(value):
            errors.append(
                f"values[{i}][{key}]: Invalid value: {go_quote(value)}: {'; '.join(msgs)}"
            )
    if errors:
        # utilerrors.Aggregate: one error reads plainly, several are bracketed.
        raise SelectorError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return Requirement(key, operator, vals)


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
            raise SelectorError(f"{go_quote(str(op_name))} is not a valid label selector operator")
        values = [str(v) for v in expression.get("values") or []]
        requirements.append(new_requirement(str(expression.get("key", "")), operator, values))
    return LabelSelector.of(requirements)


def from_set_selector(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a plain ``{key: value}`` selector such as a Service's ``spec.selector``.

    A missing or empty map selects nothing (see the module docstring for why).
    """
    if not selector:
        return NOTHING
    return LabelSelector.of(
        [new_requirement(k, Operator.EQUALS, [str(v)]) for k, v in selector.items()]
    )
