"""Applying PATCH bodies of the three Kubernetes patch types to a stored object."""

from __future__ import annotations

import json
from typing import Any

from kubegate.api.resources import ResourceType
from kubegate.api.schema import patch_meta
from kubegate.core.patch import PatchError, apply_json_patch, apply_merge_patch
from kubegate.core.strategic import apply_strategic_merge_patch
from kubegate.errors import BadRequest, Invalid, UnsupportedMediaType

JSON = dict[str, Any]


def apply_patch(rt: ResourceType, current: JSON, raw: bytes, patch_type: str) -> JSON:
    try:
        patch = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"error decoding patch: {exc}") from exc
    try:
        if patch_type == "json":
            if not isinstance(patch, list):
                raise BadRequest("json patch must be a list of operations")
            result = apply_json_patch(current, patch)
        elif patch_type == "merge":
            result = apply_merge_patch(current, patch)
        elif patch_type == "strategic":
            if not isinstance(patch, dict):
                raise BadRequest("strategic merge patch must be a JSON object")
            result = apply_strategic_merge_patch(
                current, patch, patch_meta(rt.group, rt.version, rt.kind)
            )
        else:
            raise UnsupportedMediaType(f"unsupported patch type {patch_type}")
    except PatchError as exc:
        raise Invalid(
            f"the patch could not be applied: {exc}",
            name=current.get("metadata", {}).get("name", ""),
            group=rt.group,
            kind=rt.kind,
        ) from exc
    if not isinstance(result, dict):
        raise BadRequest("the patch did not produce an object")
    return result
