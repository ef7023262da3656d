"""The schema metadata strategic merge patch consults: which fields merge, by which key.

A :class:`PatchMeta` answers, field by field, what the OpenAPI extensions
(``x-kubernetes-patch-strategy``, ``x-kubernetes-patch-merge-key``) say; ``kubegate.api.schema``
builds one per kind, :class:`MetaNode` spells one out as an explicit tree (tests, hand-written
metadata), and :data:`NO_META` is "no strategy anywhere". The merge itself is
:mod:`kubegate.core.strategic`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["NO_FIELD_META", "NO_META", "FieldPatchMeta", "MetaNode", "PatchMeta"]


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
