"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) over plain JSON values."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubegate.core.patch import PatchError, apply_json_patch, apply_merge_patch

DOC = {"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"ports": [{"port": 80}]}}

JSON_PATCH_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    (
        "add a label",
        [{"op": "add", "path": "/metadata/labels/tier", "value": "front"}],
        {
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
            "spec": {"ports": [{"port": 80}]},
        },
    ),
    (
        "append to a list",
        [{"op": "add", "path": "/spec/ports/-", "value": {"port": 443}}],
        {
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"ports": [{"port": 80}, {"port": 443}]},
        },
    ),
    (
        "replace a value",
        [{"op": "replace", "path": "/spec/ports/0/port", "value": 8080}],
        {
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"ports": [{"port": 8080}]},
        },
    ),
    (
        "remove a map",
        [{"op": "remove", "path": "/metadata/labels"}],
        {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}},
    ),
    (
        "a passing test then a change",
        [
            {"op": "test", "path": "/metadata/name", "value": "web"},
            {"op": "add", "path": "/metadata/labels/x", "value": "y"},
        ],
        {
            "metadata": {"name": "web", "labels": {"app": "web", "x": "y"}},
            "spec": {"ports": [{"port": 80}]},
        },
    ),
    (
        "move and copy",
        [
            {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/name"},
            {"op": "move", "from": "/spec/ports", "path": "/spec/servicePorts"},
        ],
        {
            "metadata": {"name": "web", "labels": {"app": "web", "name": "web"}},
            "spec": {"servicePorts": [{"port": 80}]},
        },
    ),
    ("an empty patch", [], DOC),
]


@pytest.mark.parametrize(
    ("ops", "expected"), [c[1:] for c in JSON_PATCH_CASES], ids=[c[0] for c in JSON_PATCH_CASES]
)
def test_json_patch(ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    """A JSON patch applies its operations in order."""
    assert apply_json_patch(DOC, ops) == expected


JSON_PATCH_ERRORS: list[tuple[str, Any, int]] = [
    ("a failing test", [{"op": "test", "path": "/metadata/name", "value": "db"}], 422),
    ("removing a missing member", [{"op": "remove", "path": "/metadata/missing"}], 422),
    ("replacing under a missing parent", [{"op": "replace", "path": "/a/b/c", "value": 1}], 422),
    ("an unknown op", [{"op": "frobnicate", "path": "/x"}], 400),
    ("an op without a path", [{"op": "add", "value": 1}], 400),
    ("not a list", {"op": "add", "path": "/x", "value": 1}, 400),
    ("an op that is not an object", ["add"], 400),
    ("a list index out of range", [{"op": "add", "path": "/spec/ports/5", "value": {}}], 422),
]


@pytest.mark.parametrize(
    ("ops", "code"), [c[1:] for c in JSON_PATCH_ERRORS], ids=[c[0] for c in JSON_PATCH_ERRORS]
)
def test_json_patch_errors(ops: Any, code: int) -> None:
    """A JSON patch that is malformed or does not apply raises PatchError with kube's code."""
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, ops)
    assert info.value.code == code
    assert isinstance(info.value, ValueError)


def test_json_patch_leaves_the_document_alone() -> None:
    """Applying a JSON patch does not modify the input document."""
    doc = copy.deepcopy(DOC)
    apply_json_patch(doc, [{"op": "remove", "path": "/spec"}])
    assert doc == DOC


MERGE_CASES: list[tuple[str, Any, Any, Any]] = [
    ("members merge", {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ("null deletes", {"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ("null for an absent member is dropped", {"a": 1}, {"z": None}, {"a": 1}),
    (
        "nested objects merge",
        {"a": {"b": 1, "c": 2}},
        {"a": {"c": None, "d": 3}},
        {"a": {"b": 1, "d": 3}},
    ),
    ("lists are replaced", {"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    (
        "lists of objects are replaced too",
        {"a": [{"n": 1, "v": 1}]},
        {"a": [{"n": 1}]},
        {"a": [{"n": 1}]},
    ),
    ("an object replaces a scalar", {"a": "x"}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ("a scalar replaces an object", {"a": {"b": 1}}, {"a": 5}, {"a": 5}),
    ("a non-object patch replaces the document", {"a": 1}, [1, 2], [1, 2]),
    ("patching a non-object starts from {}", ["x"], {"a": 1}, {"a": 1}),
    (
        "the empty patch is the identity",
        {"a": [1], "b": {"c": None}},
        {},
        {"a": [1], "b": {"c": None}},
    ),
]


@pytest.mark.parametrize(
    ("doc", "patch", "expected"), [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES]
)
def test_merge_patch(doc: Any, patch: Any, expected: Any) -> None:
    """JSON merge patch follows RFC 7386."""
    assert apply_merge_patch(doc, patch) == expected


def test_merge_patch_leaves_inputs_alone() -> None:
    """Applying a merge patch modifies neither the document nor the patch."""
    doc, patch = {"a": {"b": [1]}}, {"a": {"b": None, "c": {"d": 1}}}
    before = copy.deepcopy((doc, patch))
    result = apply_merge_patch(doc, patch)
    result["a"]["c"]["d"] = 2
    assert (doc, patch) == before


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=4), JSON, max_size=5))
def test_empty_merge_patch_is_identity(doc: dict[str, Any]) -> None:
    """Merge patch {} returns the document unchanged."""
    assert apply_merge_patch(doc, {}) == doc


@settings(max_examples=200, deadline=None)
@given(JSON, JSON)
def test_merge_patch_is_idempotent(doc: Any, patch: Any) -> None:
    """Applying the same merge patch twice gives what applying it once gives."""
    once = apply_merge_patch(doc, patch)
    assert apply_merge_patch(once, patch) == once


@settings(max_examples=200, deadline=None)
@given(
    JSON,
    st.lists(st.dictionaries(st.sampled_from(["op", "path", "value", "from"]), JSON), max_size=3),
)
def test_json_patch_never_crashes(doc: Any, ops: list[dict[str, Any]]) -> None:
    """Random JSON patches either apply or raise PatchError."""
    try:
        apply_json_patch(doc, ops)
    except PatchError:
        pass
