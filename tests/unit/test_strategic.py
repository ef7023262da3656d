"""Strategic merge patch semantics, as a table over a small schema shaped like upstream's
``MergeItem`` test type (k8s.io/apimachinery strategicpatch tests)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubegate.core.patch import PatchError
from kubegate.core.strategic import apply_strategic_merge_patch
from kubegate.core.strategic_meta import NO_META, FieldPatchMeta, MetaNode


def _merge_item_meta() -> MetaNode:
    """mergingList (merge by name), nonMergingList, mergingIntList (merge), nonMergingIntList,
    simpleMap, replacingItem (replace), retainKeysMap (retainKeys), retainKeysMergingList
    (merge,retainKeys by name); list elements are MergeItems again."""
    item: dict[str, MetaNode] = {}
    item["mergingList"] = MetaNode(FieldPatchMeta.parse("merge", "name"), item)
    item["nonMergingList"] = MetaNode(FieldPatchMeta(), item)
    item["mergingIntList"] = MetaNode(FieldPatchMeta.parse("merge"))
    item["nonMergingIntList"] = MetaNode()
    item["simpleMap"] = MetaNode()
    item["replacingItem"] = MetaNode(FieldPatchMeta.parse("replace"))
    item["retainKeysMap"] = MetaNode(FieldPatchMeta.parse("retainKeys"), item)
    item["retainKeysMergingList"] = MetaNode(FieldPatchMeta.parse("merge,retainKeys", "name"), item)
    return MetaNode(children=item)


META = _merge_item_meta()

CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("add a field to a map", {"name": 1}, {"value": 1}, {"name": 1, "value": 1}),
    ("null deletes a field", {"name": 1, "value": 1}, {"name": None}, {"value": 1}),
    ("null for an absent field is not stored", {"name": 1}, {"other": None}, {"name": 1}),
    (
        "nested maps merge, null deletes inside",
        {"simpleMap": {"key1": 1, "key2": 1}},
        {"simpleMap": {"key2": None, "key3": 3}},
        {"simpleMap": {"key1": 1, "key3": 3}},
    ),
    (
        "an empty patch changes nothing",
        {"name": 1, "mergingList": [{"name": "a"}]},
        {},
        {"name": 1, "mergingList": [{"name": "a"}]},
    ),
    (
        "a list without a strategy is replaced",
        {"nonMergingIntList": [1, 2]},
        {"nonMergingIntList": [2, 3]},
        {"nonMergingIntList": [2, 3]},
    ),
    (
        "a list of maps without a strategy is replaced",
        {"nonMergingList": [{"name": "a", "value": 1}]},
        {"nonMergingList": [{"name": "b"}]},
        {"nonMergingList": [{"name": "b"}]},
    ),
    (
        "a merging scalar list becomes the union without duplicates",
        {"mergingIntList": [1, 2]},
        {"mergingIntList": [2, 3]},
        {"mergingIntList": [1, 2, 3]},
    ),
    (
        "a merging scalar list keeps the patch order",
        {"mergingIntList": [1, 2, 3]},
        {"mergingIntList": [3, 1, 2]},
        {"mergingIntList": [3, 1, 2]},
    ),
    (
        "live-only scalars keep their place before later patch items",
        {"mergingIntList": [1, 2, 3]},
        {"mergingIntList": [3, 1]},
        {"mergingIntList": [2, 3, 1]},
    ),
    (
        "maps in a merging list merge by key",
        {"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "value": "2"}]},
        {"mergingList": [{"name": "1", "value": "1"}]},
        {"mergingList": [{"name": "1", "other": "a", "value": "1"}, {"name": "2", "value": "2"}]},
    ),
    (
        "a merging list keeps the patch order",
        {"mergingList": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]},
        {
            "mergingList": [
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"},
                {"name": "2", "other": "x"},
            ]
        },
        {
            "mergingList": [
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"},
                {"name": "2", "value": "b", "other": "x"},
            ]
        },
    ),
    (
        "a merging list keeps live-only elements where the live list had them",
        {"mergingList": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]},
        {"mergingList": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]},
        {
            "mergingList": [
                {"name": "2", "value": "b"},
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"},
            ]
        },
    ),
    (
        "an element the patch adds goes before the live ones",
        {"mergingList": [{"name": "1"}, {"name": "2"}]},
        {"mergingList": [{"name": "3"}]},
        {"mergingList": [{"name": "3"}, {"name": "1"}, {"name": "2"}]},
    ),
    (
        "null deletes a field inside a merged element",
        {"mergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]},
        {"mergingList": [{"name": "foo", "value": None}]},
        {"mergingList": [{"name": "bar"}, {"name": "foo"}]},
    ),
    (
        "$patch: delete removes the element with that key",
        {"mergingList": [{"name": "1", "value": "a"}, {"name": "2"}]},
        {"mergingList": [{"name": "1", "$patch": "delete"}]},
        {"mergingList": [{"name": "2"}]},
    ),
    (
        "$patch: delete removes every duplicate of the key",
        {"mergingList": [{"name": "1"}, {"name": "1"}, {"name": "2", "value": "a"}]},
        {"mergingList": [{"name": "1", "$patch": "delete"}]},
        {"mergingList": [{"name": "2", "value": "a"}]},
    ),
    (
        "$patch: replace in a list element makes the rest of the patch the list",
        {"mergingList": [{"name": "1", "value": "a"}, {"name": "2"}]},
        {"mergingList": [{"name": "3"}, {"$patch": "replace"}]},
        {"mergingList": [{"name": "3"}]},
    ),
    (
        "$patch: replace alone empties a merging list",
        {"mergingList": [{"name": "1"}, {"name": "2"}]},
        {"mergingList": [{"$patch": "replace"}]},
        {"mergingList": []},
    ),
    (
        "$patch: replace in a map replaces the map",
        {"simpleMap": {"key1": 1, "key2": 2}},
        {"simpleMap": {"key3": 3, "$patch": "replace"}},
        {"simpleMap": {"key3": 3}},
    ),
    (
        "$patch: replace at the top replaces the object",
        {"name": 1, "value": 1},
        {"other": "a", "$patch": "replace"},
        {"other": "a"},
    ),
    (
        "$patch: delete in a map empties it",
        {"simpleMap": {"key1": 1}},
        {"simpleMap": {"$patch": "delete"}},
        {"simpleMap": {}},
    ),
    (
        "a field with strategy replace is replaced, not merged",
        {"replacingItem": {"a": 1, "b": 2}},
        {"replacingItem": {"c": 3}},
        {"replacingItem": {"c": 3}},
    ),
    (
        "$retainKeys drops the keys it does not list",
        {"retainKeysMap": {"name": "foo", "value": "a", "other": "b"}},
        {"retainKeysMap": {"$retainKeys": ["name", "other"], "other": "c"}},
        {"retainKeysMap": {"name": "foo", "other": "c"}},
    ),
    (
        "a retainKeys map merges normally without the directive",
        {"retainKeysMap": {"name": "foo", "value": "a"}},
        {"retainKeysMap": {"value": "b"}},
        {"retainKeysMap": {"name": "foo", "value": "b"}},
    ),
    (
        "$retainKeys inside a merging list element",
        {"retainKeysMergingList": [{"name": "v", "value": "a", "other": "b"}]},
        {"retainKeysMergingList": [{"name": "v", "other": "c", "$retainKeys": ["name", "other"]}]},
        {"retainKeysMergingList": [{"name": "v", "other": "c"}]},
    ),
    (
        "$setElementOrder orders merged maps, live-only ones stay next to their neighbours",
        {"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "value": "2"}]},
        {
            "$setElementOrder/mergingList": [
                {"name": "4"},
                {"name": "1"},
                {"name": "2"},
                {"name": "3"},
            ],
            "mergingList": [{"name": "4", "value": "4"}, {"name": "3", "value": "3"}],
        },
        {
            "mergingList": [
                {"name": "4", "value": "4"},
                {"name": "1", "other": "a"},
                {"name": "2", "value": "2"},
                {"name": "3", "value": "3"},
            ]
        },
    ),
    (
        "$setElementOrder alone reorders a scalar list, ignoring absent items",
        {"mergingIntList": [1, 3]},
        {"$setElementOrder/mergingIntList": [3, 2, 1]},
        {"mergingIntList": [3, 1]},
    ),
    (
        "$setElementOrder alone reorders a list of maps",
        {"mergingList": [{"name": "1"}, {"name": "3", "value": "x"}]},
        {"$setElementOrder/mergingList": [{"name": "3"}, {"name": "1"}]},
        {"mergingList": [{"name": "3", "value": "x"}, {"name": "1"}]},
    ),
    (
        "$deleteFromPrimitiveList removes scalars, live-only ones stay",
        {"mergingIntList": [1, 2, 3, 4]},
        {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "$deleteFromPrimitiveList removes every duplicate",
        {"mergingIntList": [1, 2, 3, 3, 4]},
        {"$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "adding and deleting scalars in one patch",
        {"mergingIntList": [1, 2, 3]},
        {
            "$setElementOrder/mergingIntList": [1, 2, 4],
            "$deleteFromPrimitiveList/mergingIntList": [3],
            "mergingIntList": [4],
        },
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "a value of another shape replaces the original",
        {"simpleMap": {"a": 1}, "name": [1]},
        {"simpleMap": "flat", "name": {"x": 1}},
        {"simpleMap": "flat", "name": {"x": 1}},
    ),
    (
        "nested merging lists merge at every level",
        {"mergingList": [{"name": "a", "mergingList": [{"name": "x", "value": 1}]}]},
        {"mergingList": [{"name": "a", "mergingList": [{"name": "y", "value": 2}]}]},
        {
            "mergingList": [
                {"name": "a", "mergingList": [{"name": "y", "value": 2}, {"name": "x", "value": 1}]}
            ]
        },
    ),
    (
        "a merging list the original lacks takes the patch, directives applied",
        {},
        {"mergingList": [{"name": "a", "value": None}, {"name": "b", "$patch": "delete"}]},
        {"mergingList": [{"name": "a"}]},
    ),
    (
        "1 and 1.0 are the same scalar, as JSON numbers are",
        {"mergingIntList": [1, 2]},
        {"mergingIntList": [1.0, 3]},
        {"mergingIntList": [1, 3, 2]},
    ),
    (
        "true and 1 are different scalars, as JSON values are",
        {"mergingIntList": [True, False]},
        {"$deleteFromPrimitiveList/mergingIntList": [1, 0]},
        {"mergingIntList": [True, False]},
    ),
]


@pytest.mark.parametrize(
    ("original", "patch", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Each documented strategic-merge behaviour yields the upstream result."""
    assert apply_strategic_merge_patch(original, patch, META) == expected


ERRORS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "a merging list element without its merge key",
        {"mergingList": [{"name": "1", "value": "a"}]},
        {"mergingList": [{"value": "b"}]},
        "does not contain declared merge key",
    ),
    (
        "a $setElementOrder that contradicts the patch list",
        {"mergingList": [{"name": "1"}, {"name": "3"}, {"name": "2"}]},
        {
            "$setElementOrder/mergingList": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
            "mergingList": [{"name": "3", "value": 3}, {"name": "1", "value": 1}],
        },
        "doesn't match",
    ),
    (
        "an unknown map directive",
        {"simpleMap": {"a": 1}},
        {"simpleMap": {"$patch": "bogus"}},
        "unknown patch directive",
    ),
    (
        "an unknown list element directive",
        {"mergingList": [{"name": "1"}]},
        {"mergingList": [{"name": "1", "$patch": "bogus"}]},
        "unknown patch directive",
    ),
    (
        "$patch: merge in a list",
        {"mergingList": [{"name": "1"}]},
        {"mergingList": [{"name": "1", "$patch": "merge"}]},
        "cannot yet be specified",
    ),
    (
        "a patch key missing from $retainKeys",
        {"retainKeysMap": {"name": "a"}},
        {"retainKeysMap": {"value": "b", "$retainKeys": ["name"]}},
        "not in its $retainKeys list",
    ),
    (
        "$retainKeys that is not a list",
        {"retainKeysMap": {"name": "a"}},
        {"retainKeysMap": {"$retainKeys": "name"}},
        "must be a list",
    ),
    (
        "mixed element kinds in a merging list",
        {"mergingIntList": [1, 2]},
        {"mergingIntList": ["3"]},
        "not identical",
    ),
    (
        "a $deleteFromPrimitiveList value that is not a list",
        {"mergingIntList": [1]},
        {"$deleteFromPrimitiveList/mergingIntList": 1},
        "must be a list",
    ),
]


@pytest.mark.parametrize(
    ("original", "patch", "message"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_malformed_patch_is_rejected(
    original: dict[str, Any], patch: dict[str, Any], message: str
) -> None:
    """A malformed strategic merge patch raises PatchError saying what is wrong."""
    with pytest.raises(PatchError, match=message.replace("$", r"\$")):
        apply_strategic_merge_patch(original, patch, META)


def test_inputs_are_not_modified() -> None:
    """Applying a patch leaves both the original and the patch untouched."""
    original = {"mergingList": [{"name": "1", "value": "a"}], "simpleMap": {"k": 1}}
    patch = {"mergingList": [{"name": "1", "value": None}], "simpleMap": {"$patch": "delete"}}
    before = copy.deepcopy((original, patch))
    apply_strategic_merge_patch(original, patch, META)
    assert (original, patch) == before


def test_patch_must_be_an_object() -> None:
    """A patch that is not a JSON object is rejected."""
    with pytest.raises(PatchError):
        apply_strategic_merge_patch({}, ["not", "a", "map"], META)


def test_without_meta_lists_are_replaced() -> None:
    """With no schema every list is replaced and every map merges (NO_META)."""
    result = apply_strategic_merge_patch(
        {"a": [{"name": "x"}], "m": {"k": 1}}, {"a": [{"name": "y"}], "m": {"j": 2}}, NO_META
    )
    assert result == {"a": [{"name": "y"}], "m": {"k": 1, "j": 2}}


# --- properties ------------------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "name",
        "value",
        "mergingList",
        "nonMergingList",
        "mergingIntList",
        "simpleMap",
        "replacingItem",
        "retainKeysMap",
        "retainKeysMergingList",
        "$patch",
        "$retainKeys",
        "$setElementOrder/mergingList",
        "$deleteFromPrimitiveList/mergingIntList",
        "$setElementOrder/mergingIntList",
    ]
)
OBJECTS = st.recursive(
    st.dictionaries(KEYS, JSON_SCALARS, max_size=3),
    lambda inner: st.dictionaries(
        KEYS, inner | st.lists(inner, max_size=3) | JSON_VALUES, max_size=4
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(OBJECTS)
def test_empty_patch_returns_the_original(original: dict[str, Any]) -> None:
    """Patching with {} gives back the original, unchanged."""
    assert apply_strategic_merge_patch(original, {}, META) == original


@settings(max_examples=400, deadline=None)
@given(OBJECTS, OBJECTS)
def test_never_crashes_on_random_json(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """Any JSON object pair either patches to an object or raises PatchError."""
    try:
        result = apply_strategic_merge_patch(original, patch, META)
    except PatchError:
        return
    assert isinstance(result, dict)
