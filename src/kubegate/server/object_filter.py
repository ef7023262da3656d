"""The ``labelSelector`` and ``fieldSelector`` of a list, watch or deletecollection request,
parsed once into one filter over stored objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubegate.api.resources import ResourceType
from kubegate.core.field_selectors import FieldSelector, field_value, parse_field_selector
from kubegate.core.label_selector_parser import parse_label_selector
from kubegate.core.selector_errors import SelectorError
from kubegate.core.selectors import LabelSelector
from kubegate.errors import BadRequest
from kubegate.server.context import RequestContext


@dataclass(frozen=True, slots=True)
class ObjectFilter:
    """Objects of ``kind`` matching both selectors."""

    kind: str
    labels: LabelSelector
    fields: FieldSelector

    @property
    def empty(self) -> bool:
        """Whether every object matches (neither selector has a term)."""
        return self.labels.empty and not self.fields.terms

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return self.labels.matches(obj.get("metadata", {}).get("labels") or {}) and (
            self.fields.matches_object(self.kind, obj)
        )

    def only_named(self, name: str) -> ObjectFilter:
        """This filter with its field selector replaced by ``metadata.name=<name>``."""
        return replace(self, fields=parse_field_selector(f"metadata.name={name}"))


def request_filter(ctx: RequestContext, rt: ResourceType) -> ObjectFilter:
    """Parse the request's selectors (400 BadRequest when malformed); a field the kind cannot
    select on is refused up front, as kube does."""
    try:
        label_sel = parse_label_selector(ctx.param("labelSelector"))
        field_sel = parse_field_selector(ctx.param("fieldSelector"))
        for name in field_sel.fields():
            field_value(rt.kind, {}, name)
    except SelectorError as exc:
        raise BadRequest(str(exc)) from exc
    return ObjectFilter(rt.kind, label_sel, field_sel)
