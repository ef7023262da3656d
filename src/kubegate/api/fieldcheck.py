"""Unknown-field detection against the OpenAPI schema, for ``fieldValidation``.

kube decodes into typed structs and reports fields the struct lacks; we walk the object
alongside its schema and report the same paths (``spec.ports[0].bogus``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubegate.api.resources import ResourceType
from kubegate.api.schema import definition, for_gvk, ref_name

_MAX_REPORTED = 100


def unknown_fields(rt: ResourceType, obj: Mapping[str, Any], *, prune: bool = False) -> list[str]:
    """Paths of fields in ``obj`` that its kind's schema does not declare. With ``prune``
    they are also removed from ``obj`` (kube drops them when not validating strictly)."""
    schema = for_gvk(rt.group, rt.version, rt.kind)
    if schema is None:
        return []
    found: list[str] = []
    _walk(obj, schema, "", found, prune)
    return found


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    seen = 0
    while True:
        name = ref_name(schema)
        if name is None:
            return schema
        target = definition(name)
        if target is None or seen > 32:
            return None
        schema, seen = target, seen + 1


def _walk(value: Any, schema: Mapping[str, Any], path: str, found: list[str], prune: bool) -> None:
    if len(found) >= _MAX_REPORTED:
        return
    resolved = _resolve(schema)
    if resolved is None or resolved.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        properties = resolved.get("properties")
        if properties:
            for key, item in list(value.items()):
                child_path = f"{path}.{key}" if path else key
                child = properties.get(key)
                if child is None:
                    found.append(child_path)
                    if prune:
                        del value[key]
                elif item is not None:
                    _walk(item, child, child_path, found, prune)
            return
        extra = resolved.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key, item in value.items():
                if item is not None:
                    _walk(item, extra, f"{path}.{key}" if path else key, found, prune)
    elif isinstance(value, list):
        items = resolved.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                if item is not None:
                    _walk(item, items, f"{path}[{index}]", found, prune)
