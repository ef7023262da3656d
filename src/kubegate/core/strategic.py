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
ordered against (element identity and ordering: :mod:`kubegate.core.strategic_order`).

Where upstream fails on a field its Go struct does not know, we merge it like an untyped
field (maps merge, lists replace); unknown fields are the field validator's business.

The field metadata comes from a :class:`~kubegate.core.strategic_meta.PatchMeta` lookup
(built from the OpenAPI schema by ``kubegate.api.schema``); ``NO_META`` gives plain
"no strategy anywhere" semantics.
"""

from __future__ import annotations

import copy
from typing import Any

from kubegate.core.patch import PatchError
from kubegate.core.strategic_meta import NO_FIELD_META, NO_META, FieldPatchMeta, PatchMeta
from kubegate.core.strategic_order import by_merge_key, element_kind, interleave, scalar_key

__all__ = ["apply_strategic_merge_patch"]

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"

JSONMap = dict[str, Any]


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
    drop = {scalar_key(v) for v in to_delete}
    original[key] = [v for v in current if scalar_key(v) not in drop]


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
    kind = element_kind(original, patch)
    if kind == "map":
        if not merge_key:
            raise PatchError("cannot merge a list of objects without a merge key", code=400)
        original, patch = _list_element_directives(original, patch, elements, merge_key)
        merged = _merge_by_key(original, patch, elements, merge_key)
        order_key = by_merge_key(merge_key)
    else:
        merged = _union(original, patch)
        order_key = scalar_key
    in_patch = {order_key(v) for v in patch}
    patch_items = [v for v in merged if order_key(v) in in_patch]
    live_items = [v for v in merged if order_key(v) not in in_patch]
    return interleave(patch_items, live_items, patch, original, order_key)


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
            target = by_merge_key(merge_key)(item)
            original = [v for v in original if by_merge_key(merge_key)(v) != target]
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
    key_of = by_merge_key(merge_key)
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
        key = scalar_key(value)
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

        kind = element_kind(live or [], patch_list or [])
        order_key = by_merge_key(merge_key) if kind == "map" and merge_key else scalar_key
        if kind == "map" and not merge_key:
            original[key] = merged
            continue
        ordered = {order_key(v) for v in order}
        patch_items = [v for v in merged if order_key(v) in ordered]
        live_items = [v for v in merged if order_key(v) not in ordered]
        original[key] = interleave(patch_items, live_items, order, live or [], order_key)


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
        key_of = by_merge_key(merge_key)
    else:
        items, key_of = patch_list, scalar_key
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


def _hashable(value: Any) -> bool:
    return not isinstance(value, (dict, list))
