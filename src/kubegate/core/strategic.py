"""Strategic merge patch: the Kubernetes patch type that knows which lists merge by key.

The semantics follow k8s.io/apimachinery/pkg/util/strategicpatch as the API server applies a
patch (``MergeParallelList`` and ``IgnoreUnmatchedNulls`` both on):

* maps merge recursively; ``null`` deletes a key;
* a list whose field has patch strategy ``merge`` merges: lists of maps match elements by the
  field's merge key (matching elements merge, new ones are added), lists of scalars become the
  union of both; any other list is replaced by the patch;
* a field with strategy ``replace`` is replaced instead of merged;
* directives: ``$patch: replace`` / ``$patch: delete`` in a map replaces / deletes that map;
  in an element of a merging list, ``$patch: delete`` removes the elements with that key and
  ``$patch: replace`` makes the rest of the patch list replace the list;
  ``$deleteFromPrimitiveList/<field>`` removes scalars from a merging scalar list;
  ``$setElementOrder/<field>`` orders a merging list; ``$retainKeys`` drops every key of the
  original map that is not listed (used with strategy ``retainKeys``, e.g. pod volumes).

Element order follows upstream too: precedence is ``$setElementOrder`` > order in the patch >
order in the live list, and elements the patch adds go before the live ones they cannot be
ordered against.

Where upstream fails on a field its Go struct does not know, we merge it like an untyped
field (maps merge, lists replace); unknown fields are the field validator's business.

The field metadata comes from a :class:`PatchMeta` lookup (built from the OpenAPI schema by
``kubegate.api.schema``); :data:`NO_META` gives plain "no strategy anywhere" semantics.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubegate.core.patch import PatchError

__all__ = [
    "NO_META",
    "FieldPatchMeta",
    "MetaNode",
    "PatchMeta",
    "apply_strategic_merge_patch",
]

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"

JSONMap = dict[str, Any]
KeyFn = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class FieldPatchMeta:
    """What the schema says about one field, as its OpenAPI extensions state it.

    ``strategies`` holds the parts of ``x-kubernetes-patch-strategy`` ("merge", "replace",
    "retainKeys"); ``merge_key`` is ``x-kubernetes-patch-merge-key``; ``list_type`` and
    ``list_map_keys`` are ``x-kubernetes-list-type`` / ``-list-map-keys`` (informational:
    strategic merge uses only the strategy and the merge key, as upstream does).
    """

    strategies: frozenset[str] = frozenset()
    merge_key: str = ""
    list_type: str = ""
    list_map_keys: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        strategy: str = "",
        merge_key: str = "",
        list_type: str = "",
        list_map_keys: tuple[str, ...] = (),
    ) -> FieldPatchMeta:
        parts = frozenset(p.strip() for p in strategy.split(",") if p.strip())
        return cls(parts, merge_key, list_type, tuple(list_map_keys))

    @property
    def merges(self) -> bool:
        return "merge" in self.strategies

    @property
    def replaces(self) -> bool:
        return "replace" in self.strategies


NO_FIELD_META = FieldPatchMeta()


class PatchMeta(Protocol):
    """Schema lookup for one object type (a struct, a map's values, or a list's elements)."""

    def field(self, name: str) -> tuple[PatchMeta, FieldPatchMeta]:
        """The metadata of field ``name`` and the lookup for its value.

        For a list field the returned lookup describes the list's elements. Unknown fields
        answer (:data:`NO_META`, empty metadata).
        """
        ...


@dataclass(frozen=True, slots=True)
class MetaNode:
    """A :class:`PatchMeta` as an explicit tree: ``children`` maps field names to nodes.

    ``meta`` describes the field this node stands for; ``values`` (if set) answers for any
    name not in ``children``, which is how a map with typed values (``additionalProperties``)
    is described.
    """

    meta: FieldPatchMeta = NO_FIELD_META
    children: Mapping[str, MetaNode] = field(default_factory=dict)
    values: MetaNode | None = None

    def field(self, name: str) -> tuple[PatchMeta, FieldPatchMeta]:
        node = self.children.get(name, self.values)
        if node is None:
            return NO_META, NO_FIELD_META
        return node, node.meta


NO_META: PatchMeta = MetaNode()


def apply_strategic_merge_patch(original: Any, patch: Any, meta: PatchMeta = NO_META) -> JSONMap:
    """Apply a strategic merge ``patch`` to the ``original`` object and return the result.

    Neither input is modified. Raises :class:`PatchError` when the patch is malformed
    (bad directive, missing merge key, a ``$setElementOrder`` list that contradicts the
    patch, ...).
    """
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object", code=400)
    if original is None:
        original = {}
    if not isinstance(original, dict):
        raise PatchError("a strategic merge patch can only be applied to an object", code=400)
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), meta)


# --- maps -----------------------------------------------------------------------------------


def _merge_map(original: JSONMap, patch: JSONMap, meta: PatchMeta) -> JSONMap:
    if DIRECTIVE in patch:
        return _map_directive(patch, meta)
    _apply_retain_keys(original, patch)
    _apply_element_orders(original, patch, meta)

    for key, patch_value in list(patch.items()):
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            key = _directive_target(key, DELETE_FROM_PRIMITIVE_LIST)
            _delete_from_primitive_list(original, key, patch_value)
            continue
        if patch_value is None:
            original.pop(key, None)
            continue
        sub, field_meta = meta.field(key)
        current = original.get(key)
        if isinstance(current, dict) and isinstance(patch_value, dict) and not field_meta.replaces:
            original[key] = _merge_map(current, patch_value, sub)
        elif isinstance(current, list) and isinstance(patch_value, list) and field_meta.merges:
            original[key] = _merge_list(current, patch_value, sub, field_meta.merge_key)
        else:
            # Absent, of another shape, a scalar, or not merged: the patch value wins.
            original[key] = _fresh(patch_value, sub, field_meta)
    return original


def _map_directive(patch: JSONMap, meta: PatchMeta) -> JSONMap:
    directive = patch[DIRECTIVE]
    if directive == "replace":
        rest = {k: v for k, v in patch.items() if k != DIRECTIVE}
        return _merge_map({}, rest, meta)
    if directive == "delete":
        return {}
    raise PatchError(f"unknown patch directive {DIRECTIVE}: {directive!r} in {patch!r}", code=400)


def _fresh(value: Any, meta: PatchMeta, field_meta: FieldPatchMeta) -> Any:
    """A patch value that replaces whatever was there: apply it to emptiness, so that its
    nulls vanish and its directives take effect instead of being stored.

    (Upstream stores such values raw and lets the Go decoder drop the leftovers; kubegate
    stores JSON, so it cleans them here.)"""
    if isinstance(value, dict):
        return _merge_map({}, value, meta)
    if isinstance(value, list):
        if field_meta.merges:
            return _merge_list([], value, meta, field_meta.merge_key)
        return [_merge_map({}, v, meta) if isinstance(v, dict) else v for v in value]
    return value


def _apply_retain_keys(original: JSONMap, patch: JSONMap) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list) or not all(_hashable(k) for k in retain):
        raise PatchError(f"{RETAIN_KEYS} must be a list of field names", code=400)
    keep = set(retain)
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise PatchError(
                f"field {key!r} is in the patch but not in its {RETAIN_KEYS} list", code=400
            )
    for key in [k for k in original if k not in keep]:
        del original[key]


def _delete_from_primitive_list(original: JSONMap, key: str, to_delete: Any) -> None:
    if not isinstance(to_delete, list):
        raise PatchError(f"{DELETE_FROM_PRIMITIVE_LIST}{key} must be a list", code=400)
    current = original.get(key)
    if not isinstance(current, list):
        return
    drop = {_scalar_key(v) for v in to_delete}
    original[key] = [v for v in current if _scalar_key(v) not in drop]


def _directive_target(key: str, prefix: str) -> str:
    target = key[len(prefix) :]
    if not target:
        raise PatchError(f"directive {key!r} names no field", code=400)
    return target


# --- lists ----------------------------------------------------------------------------------


def _merge_list(
    original: list[Any], patch: list[Any], elements: PatchMeta, merge_key: str
) -> list[Any]:
    """Merge a list whose field has strategy ``merge``; the result is in upstream order."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind == "map":
        if not merge_key:
            raise PatchError("cannot merge a list of objects without a merge key", code=400)
        original, patch = _list_element_directives(original, patch, elements, merge_key)
        merged = _merge_by_key(original, patch, elements, merge_key)
        order_key = _keyed(merge_key)
    else:
        merged = _union(original, patch)
        order_key = _scalar_key
    in_patch = {order_key(v) for v in patch}
    patch_items = [v for v in merged if order_key(v) in in_patch]
    live_items = [v for v in merged if order_key(v) not in in_patch]
    return _interleave(patch_items, live_items, patch, original, order_key)


def _list_element_directives(
    original: list[Any], patch: list[Any], elements: PatchMeta, merge_key: str
) -> tuple[list[Any], list[Any]]:
    """Carry out ``$patch`` elements; returns (original, patch without directive elements)."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        directive = item.get(DIRECTIVE)
        if DIRECTIVE not in item:
            plain.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise PatchError(
                    f"{item!r} does not contain declared merge key {merge_key!r}", code=400
                )
            target = _keyed(merge_key)(item)
            original = [v for v in original if _keyed(merge_key)(v) != target]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch", code=400)
        else:
            raise PatchError(
                f"unknown patch directive {DIRECTIVE}: {directive!r} in {item!r}", code=400
            )
    if replace:
        # The remaining patch elements become the whole list.
        return [_fresh(v, elements, NO_FIELD_META) for v in plain], []
    return original, plain


def _merge_by_key(
    original: list[Any], patch: list[Any], elements: PatchMeta, merge_key: str
) -> list[Any]:
    key_of = _keyed(merge_key)
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise PatchError(
                f"{item!r} does not contain declared merge key {merge_key!r}", code=400
            )
        wanted = key_of(item)
        for index, live in enumerate(merged):
            if key_of(live) == wanted:
                merged[index] = _merge_map(live, item, elements)
                break
        else:
            merged.append(_fresh(item, elements, NO_FIELD_META))
    return merged


def _union(original: list[Any], patch: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    result = []
    for value in [*original, *patch]:
        key = _scalar_key(value)
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result


def _apply_element_orders(original: JSONMap, patch: JSONMap, meta: PatchMeta) -> None:
    """Handle every ``$setElementOrder/<field>`` of this map, together with the patch list
    for that field (which is consumed here so the main loop does not see it again)."""
    for directive_key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        key = _directive_target(directive_key, SET_ELEMENT_ORDER)
        if not isinstance(order, list):
            raise PatchError(f"{directive_key} must be a list", code=400)
        live = original.get(key)
        patch_list = patch.get(key)
        if live is not None and not isinstance(live, list):
            raise PatchError(f"{directive_key} orders {key!r}, which is not a list", code=400)
        if patch_list is not None and not isinstance(patch_list, list):
            raise PatchError(f"{directive_key} orders {key!r}, which is not a list", code=400)
        sub, field_meta = meta.field(key)
        merge_key = field_meta.merge_key
        _check_order_agrees(patch_list or [], order, merge_key)

        if live is None and patch_list is None:
            continue
        if live is not None and patch_list is not None:
            if field_meta.merges:
                merged = _merge_list(live, patch_list, sub, merge_key)
            else:
                merged = _fresh(patch_list, sub, field_meta)
        else:
            merged = live if live is not None else _fresh(patch_list, sub, field_meta)
        patch.pop(key, None)

        kind = _element_kind(live or [], patch_list or [])
        order_key = _keyed(merge_key) if kind == "map" and merge_key else _scalar_key
        if kind == "map" and not merge_key:
            original[key] = merged
            continue
        ordered = {order_key(v) for v in order}
        patch_items = [v for v in merged if order_key(v) in ordered]
        live_items = [v for v in merged if order_key(v) not in ordered]
        original[key] = _interleave(patch_items, live_items, order, live or [], order_key)


def _check_order_agrees(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """Every (non-deleting) patch element must appear in ``order``, in the same relative
    order; upstream rejects the patch otherwise."""
    if not patch_list or not order:
        return
    if merge_key:
        items = [v for v in patch_list if not (isinstance(v, dict) and DIRECTIVE in v)]
        for item in [*items, *order]:
            if not isinstance(item, dict) or merge_key not in item:
                raise PatchError(
                    f"{item!r} does not contain declared merge key {merge_key!r}", code=400
                )
        key_of = _keyed(merge_key)
    else:
        items, key_of = patch_list, _scalar_key
    position = 0
    for item in items:
        wanted = key_of(item)
        while position < len(order) and key_of(order[position]) != wanted:
            position += 1
        if position == len(order):
            raise PatchError(
                f"the order in patch list {patch_list!r} doesn't match "
                f"{SET_ELEMENT_ORDER.rstrip('/')} list {order!r}",
                code=400,
            )
        position += 1


def _interleave(
    patch_items: list[Any],
    live_items: list[Any],
    patch_order: list[Any],
    live_order: list[Any],
    key_of: KeyFn,
) -> list[Any]:
    """Order patch items by ``patch_order`` and live-only items by ``live_order``, then merge
    the two runs, taking a live item first only when both are live and it comes earlier."""
    patch_items = _sorted_by(patch_items, patch_order, key_of)
    live_items = _sorted_by(live_items, live_order, key_of)
    live_index: dict[Any, int] = {}
    for index, value in enumerate(live_order):
        live_index.setdefault(key_of(value), index)
    result: list[Any] = []
    i = j = 0
    while i < len(live_items) or j < len(patch_items):
        if j >= len(patch_items):
            result.append(live_items[i])
            i += 1
        elif i >= len(live_items):
            result.append(patch_items[j])
            j += 1
        else:
            left = live_index.get(key_of(live_items[i]))
            right = live_index.get(key_of(patch_items[j]))
            if left is not None and right is not None and left < right:
                result.append(live_items[i])
                i += 1
            else:
                result.append(patch_items[j])
                j += 1
    return result


def _sorted_by(items: list[Any], order: list[Any], key_of: KeyFn) -> list[Any]:
    position: dict[Any, int] = {}
    for index, value in enumerate(order):
        position.setdefault(key_of(value), index)
    return sorted(items, key=lambda v: position.get(key_of(v), len(order)))


# --- values ---------------------------------------------------------------------------------


def _element_kind(*lists: list[Any]) -> str:
    """The one JSON kind of every element of the lists; mixed kinds are an error."""
    kinds = {_kind(v) for values in lists for v in values}
    if len(kinds) > 1:
        raise PatchError(f"list element types are not identical: {sorted(kinds)}", code=400)
    kind = kinds.pop() if kinds else "scalar"
    if kind == "list":
        raise PatchError("lists of lists are not supported", code=400)
    return kind


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return "string"


def _scalar_key(value: Any) -> Any:
    """A hashable identity for a JSON value that keeps ``True`` and ``1`` apart (JSON does,
    Python's ``==`` does not) and lets ``1`` and ``1.0`` meet (Go decodes both to float64)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, float) and value.is_integer():
        return ("number", int(value))
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, (dict, list)):
        return ("json", repr(value))
    return ("value", value)


def _keyed(merge_key: str) -> KeyFn:
    def key_of(item: Any) -> Any:
        if not isinstance(item, dict):
            raise PatchError(f"{item!r} in a merging list is not an object", code=400)
        return _scalar_key(item.get(merge_key)) if merge_key in item else ("missing",)

    return key_of


def _hashable(value: Any) -> bool:
    return not isinstance(value, (dict, list))
