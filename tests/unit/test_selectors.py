"""Label and field selectors: parsing, errors, rendering and matching."""

from __future__ import annotations

import pytest

from kubegate.core.field_selectors import (
    FieldSelector,
    FieldTerm,
    field_value,
    parse_field_selector,
    resolve_field_selector,
    supported_fields,
)
from kubegate.core.label_selector_parser import parse_label_selector
from kubegate.core.selector_errors import SelectorError
from kubegate.core.selectors import (
    EVERYTHING,
    NOTHING,
    Operator,
    Requirement,
    from_label_selector_json,
    from_set_selector,
    new_requirement,
)

# -- label selector parsing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a", "a"),
        ("!a", "!a"),
        ("a=", "a="),
        ("a in (y,x)", "a in (x,y)"),
        ("a in (x,x)", "a in (x)"),
        ("a notin (x)", "a notin (x)"),
        ("a in ()", "a in ()"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("b=1,a=2", "a=2,b=1"),
        ("  a  =  b  ,\tc ", "a=b,c"),
        ("a>5", "a>5"),
        ("a<5", "a<5"),
        ("example.com/app=web", "example.com/app=web"),
        ("in in (in,notin)", "in in (in,notin)"),
        ("a in(x),b notin(y)", "a in (x),b notin (y)"),
    ],
)
def test_parse_renders_canonical_form(text: str, canonical: str) -> None:
    """Parsing then rendering gives kube's canonical string (sorted keys and values)."""
    assert str(parse_label_selector(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (x,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        (
            "a>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ],
)
def test_parse_errors_use_kube_messages(text: str, message: str) -> None:
    """Malformed selectors fail with the message kube's parser gives."""
    with pytest.raises(SelectorError) as caught:
        parse_label_selector(text)
    assert str(caught.value) == message


def test_invalid_key_is_reported_with_nil_path() -> None:
    """An invalid key is reported as kube does, with an unset field path."""
    with pytest.raises(SelectorError) as caught:
        parse_label_selector("Bad_Key-=x")
    assert str(caught.value).startswith(
        'unable to parse requirement: <nil>: Invalid value: "Bad_Key-": name part'
    )


def test_invalid_value_is_reported_against_its_key() -> None:
    """An invalid value names its index and key in the path."""
    with pytest.raises(SelectorError) as caught:
        parse_label_selector("a=-x")
    assert str(caught.value).startswith(
        'unable to parse requirement: values[0][a]: Invalid value: "-x": a valid label'
    )


def test_selector_error_is_a_value_error() -> None:
    """SelectorError is a ValueError so generic handlers treat it as bad input."""
    assert issubclass(SelectorError, ValueError)


# -- label matching -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "matched"),
    [
        ("", {}, True),
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (x,y)", {"a": "y"}, True),
        ("a notin (x)", {}, True),
        ("a notin (x)", {"a": "x"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("!a", {"b": "1"}, True),
        ("a=", {"a": ""}, True),
        ("a>5", {"a": "6"}, True),
        ("a>5", {"a": "5"}, False),
        ("a<5", {"a": "x"}, False),
        ("a=b,c", {"a": "b"}, False),
        ("a=b,c", {"a": "b", "c": "1"}, True),
    ],
)
def test_label_selector_matches(text: str, labels: dict[str, str], matched: bool) -> None:
    """Requirements are ANDed, with kube's semantics for absent labels."""
    assert parse_label_selector(text).matches(labels) is matched


def test_label_selector_json() -> None:
    """matchLabels and matchExpressions convert to the same requirements as the string form."""
    selector = from_label_selector_json(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(selector) == "app=web,!legacy,tier in (a,b)"
    assert selector.matches({"app": "web", "tier": "a"})
    assert not selector.matches({"app": "web", "tier": "a", "legacy": "1"})


def test_label_selector_json_empty_and_missing() -> None:
    """An empty LabelSelector selects everything; a missing one selects nothing."""
    assert from_label_selector_json({}) == EVERYTHING
    assert from_label_selector_json({}).matches({"x": "y"})
    assert from_label_selector_json(None) == NOTHING
    assert not from_label_selector_json(None).matches({})


def test_label_selector_json_bad_operator() -> None:
    """Unknown operators are rejected with kube's wording."""
    with pytest.raises(SelectorError, match='"Gt" is not a valid label selector operator'):
        from_label_selector_json(
            {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}
        )


def test_label_selector_json_in_needs_values() -> None:
    """In with no values is invalid, as NewRequirement says."""
    with pytest.raises(SelectorError, match="values set can't be empty"):
        from_label_selector_json(
            {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}
        )


def test_service_selector_map() -> None:
    """A Service selector map matches exactly; an empty or missing map selects nothing."""
    selector = from_set_selector({"app": "web", "tier": "fe"})
    assert selector.matches({"app": "web", "tier": "fe", "x": "1"})
    assert not selector.matches({"app": "web"})
    assert from_set_selector({}) == NOTHING
    assert from_set_selector(None) == NOTHING


def test_new_requirement_validates_exact_match_arity() -> None:
    """Equality operators need exactly one value."""
    with pytest.raises(SelectorError, match="exact-match compatibility requires one single value"):
        new_requirement("a", Operator.EQUALS, ["x", "y"])
    assert new_requirement("a", Operator.EQUALS, ["x"]) == Requirement("a", Operator.EQUALS, ("x",))


# -- field selectors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("", ()),
        ("metadata.name=x", (FieldTerm("metadata.name", "x"),)),
        ("metadata.name==x", (FieldTerm("metadata.name", "x"),)),
        ("metadata.namespace!=y", (FieldTerm("metadata.namespace", "y", negated=True),)),
        ("b=1,a=2", (FieldTerm("a", "2"), FieldTerm("b", "1"))),
        ("a=x\\,y", (FieldTerm("a", "x,y"),)),
        ("a=x\\=y\\\\", (FieldTerm("a", "x=y\\"),)),
        ("a=,", (FieldTerm("a", ""),)),
    ],
)
def test_parse_field_selector(text: str, terms: tuple[FieldTerm, ...]) -> None:
    """Terms split on unescaped commas, sorted, with values unescaped."""
    assert parse_field_selector(text) == FieldSelector(terms)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_field_selector_errors(text: str, message: str) -> None:
    """Malformed field selectors fail with kube's messages."""
    with pytest.raises(SelectorError) as caught:
        parse_field_selector(text)
    assert str(caught.value) == message


def test_field_selector_renders_escaped() -> None:
    """Rendering escapes backslashes, commas and equals signs in values."""
    assert str(parse_field_selector("b!=y,a=x\\,1")) == "a=x\\,1,b!=y"


def test_field_selector_matches_mapping_and_reader() -> None:
    """matches takes a field map or a reader; absent fields read as ""."""
    selector = parse_field_selector("status.phase!=Running,spec.nodeName=")
    assert selector.matches({"status.phase": "Pending"})
    assert selector.matches(lambda field: None)
    assert not selector.matches({"status.phase": "Running"})
    assert selector.fields() == ("spec.nodeName", "status.phase")


POD = {
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always", "hostNetwork": True},
    "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.5"}]},
}


@pytest.mark.parametrize(
    ("kind", "obj", "field", "value"),
    [
        ("Pod", POD, "metadata.name", "web-1"),
        ("Pod", POD, "metadata.namespace", "default"),
        ("Pod", POD, "spec.nodeName", "n1"),
        ("Pod", POD, "spec.host", "n1"),
        ("Pod", POD, "spec.hostNetwork", "true"),
        ("Pod", POD, "spec.schedulerName", ""),
        ("Pod", POD, "status.phase", "Running"),
        ("Pod", POD, "status.podIP", "10.0.0.5"),
        ("Node", {"spec": {"unschedulable": True}}, "spec.unschedulable", "true"),
        ("Node", {}, "spec.unschedulable", "false"),
        ("Namespace", {"status": {"phase": "Active"}}, "status.phase", "Active"),
        ("Secret", {"type": "kubernetes.io/tls"}, "type", "kubernetes.io/tls"),
        ("Service", {"spec": {"type": "NodePort"}}, "spec.type", "NodePort"),
        ("Event", {"involvedObject": {"kind": "Pod"}}, "involvedObject.kind", "Pod"),
        ("Event", {"reportingComponent": "kubelet"}, "source", "kubelet"),
        ("Event", {"source": {"component": "sched"}}, "source", "sched"),
        ("ConfigMap", {"metadata": {"name": "c"}}, "metadata.name", "c"),
        ("ClusterRole", {"metadata": {"name": "c"}}, "metadata.namespace", ""),
    ],
)
def test_field_value(kind: str, obj: dict[str, object], field: str, value: str) -> None:
    """Fields are read as kube's selectable field sets read them."""
    assert field_value(kind, obj, field) == value


@pytest.mark.parametrize(
    ("kind", "field", "message"),
    [
        ("Pod", "spec.foo", "field label not supported: spec.foo"),
        ("Node", "metadata.namespace", "field label not supported: metadata.namespace"),
        (
            "ConfigMap",
            "data.x",
            '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
    ],
)
def test_unsupported_field(kind: str, field: str, message: str) -> None:
    """Unsupported fields fail with the message kube gives for that kind."""
    with pytest.raises(SelectorError) as caught:
        field_value(kind, {}, field)
    assert str(caught.value) == message


def test_resolve_field_selector_applies_aliases() -> None:
    """spec.host is the old name of a Pod's spec.nodeName."""
    resolved = resolve_field_selector("Pod", parse_field_selector("spec.host=n1"))
    assert resolved == FieldSelector((FieldTerm("spec.nodeName", "n1"),))
    with pytest.raises(SelectorError):
        resolve_field_selector("Secret", parse_field_selector("spec.x=1"))


def test_matches_object() -> None:
    """A field selector matches whole objects of a kind."""
    selector = parse_field_selector("spec.nodeName=n1,status.phase!=Failed")
    assert selector.matches_object("Pod", POD)
    assert not parse_field_selector("metadata.name=other").matches_object("Pod", POD)


def test_supported_fields() -> None:
    """Every kind supports name; unknown kinds get name and namespace."""
    assert supported_fields("Widget") == ("metadata.name", "metadata.namespace")
    assert "spec.unschedulable" in supported_fields("Node")
