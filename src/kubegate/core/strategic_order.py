"""How strategic merge patch tells list elements apart and orders a merged list.

Elements of a merging list are identified by JSON value (lists of scalars) or by the value of
the field's merge key (lists of maps), with JSON's notion of equality rather than Python's
(:func:`scalar_key`). A merged list is put in upstream's order by :func:`interleave`:
``$setElementOrder`` or patch order for the patch's elements, live order for the rest.
The merge that uses these is :mod:`kubegate.core.strategic`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubegate.core.patch import PatchError

__all__ = ["KeyFn", "by_merge_key", "element_kind", "interleave", "scalar_key"]

KeyFn = Callable[[Any], Any]


def interleave(
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


def element_kind(*lists: list[Any]) -> str:
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


def scalar_key(value: Any) -> Any:
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


def by_merge_key(merge_key: str) -> KeyFn:
    def key_of(item: Any) -> Any:
        if not isinstance(item, dict):
            raise PatchError(f"{item!r} in a merging list is not an object", code=400)
        return scalar_key(item.get(merge_key)) if merge_key in item else ("missing",)

    return key_of
