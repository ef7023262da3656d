"""Property tests: selector parsers never crash and their renderings round-trip."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubegate.core.field_selectors import FieldSelector, FieldTerm, parse_field_selector
from kubegate.core.label_selector_parser import parse_label_selector
from kubegate.core.selector_errors import SelectorError
from kubegate.core.selectors import LabelSelector, Operator, Requirement

SELECTOR_ALPHABET = "ab.-_/=!(),<> \tin0123456789xyz"

names = st.from_regex(r"[a-z0-9]([-a-z0-9_.]{0,10}[a-z0-9])?", fullmatch=True)
prefixes = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?(\.[a-z0-9]{1,5}){0,2}", fullmatch=True)
keys = st.one_of(names, st.builds(lambda p, n: f"{p}/{n}", prefixes, names))
values = st.one_of(st.just(""), names)
integers = st.integers(min_value=0, max_value=10**6).map(str)


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    key = draw(keys)
    op = draw(st.sampled_from(list(Operator)))
    if op in (Operator.IN, Operator.NOT_IN):
        vals = tuple(sorted(set(draw(st.lists(values, min_size=1, max_size=4)))))
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        vals = (draw(integers),)
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        vals = ()
    else:
        vals = (draw(values),)
    return Requirement(key, op, vals)


@given(st.text(alphabet=SELECTOR_ALPHABET, max_size=40))
def test_label_parser_only_raises_selector_error(text: str) -> None:
    """Any selector-like input either parses or raises SelectorError."""
    try:
        parse_label_selector(text)
    except SelectorError:
        pass


@given(st.text(max_size=40))
def test_label_parser_survives_arbitrary_text(text: str) -> None:
    """Arbitrary unicode either parses or raises SelectorError."""
    try:
        parse_label_selector(text)
    except SelectorError:
        pass


@given(st.lists(requirements(), max_size=5))
def test_label_selector_round_trips(reqs: list[Requirement]) -> None:
    """Rendering a selector and parsing it back gives the same selector."""
    selector = LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))
    assert parse_label_selector(str(selector)) == selector


@given(st.text(alphabet=SELECTOR_ALPHABET, max_size=40))
def test_label_rendering_is_canonical(text: str) -> None:
    """The rendering of any parsed selector parses to the same selector."""
    try:
        selector = parse_label_selector(text)
    except SelectorError:
        return
    assert parse_label_selector(str(selector)) == selector


field_names = st.from_regex(r"[a-zA-Z][a-zA-Z.]{0,12}", fullmatch=True)


@given(st.lists(st.builds(FieldTerm, field_names, st.text(max_size=10), st.booleans()), max_size=5))
def test_field_selector_round_trips(terms: list[FieldTerm]) -> None:
    """Any values, escaped on rendering, survive a parse."""
    selector = FieldSelector(tuple(sorted(terms, key=str)))
    assert parse_field_selector(str(selector)) == selector


@given(st.text(max_size=40))
def test_field_parser_only_raises_selector_error(text: str) -> None:
    """Any input either parses or raises SelectorError."""
    try:
        parse_field_selector(text)
    except SelectorError:
        pass
