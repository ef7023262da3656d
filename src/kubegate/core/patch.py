"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) over plain JSON values.

Both are pure: the inputs are never mutated and a new document is returned. Every failure a
client can cause raises :class:`PatchError` (a ``ValueError``) with a message fit to show the
client; the server turns it into a Kubernetes Status (kube answers 422 for a patch that does
not apply and 400 for one that cannot be read). Strategic merge patch lives in
:mod:`kubegate.core.strategic` and raises the same error.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

__all__ = ["PatchError", "apply_json_patch", "apply_merge_patch"]


class PatchError(ValueError):
    """A patch that is malformed or does not apply to the document.

    ``code`` is the HTTP status kube answers with: 422 when a well-formed patch cannot be
    applied (a ``test`` op fails, a path is missing), 400 when the patch itself is malformed.
    """

    def __init__(self, message: str, *, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


def apply_json_patch(doc: Any, patch_ops: Any) -> Any:
    """Apply an RFC 6902 JSON Patch (a list of operations) and return the new document."""
    if not isinstance(patch_ops, list):
        raise PatchError("a JSON patch must be a list of operations", code=400)
    for index, op in enumerate(patch_ops):
        if not isinstance(op, dict):
            raise PatchError(f"JSON patch operation {index} is not an object", code=400)
    try:
        patch = jsonpatch.JsonPatch(patch_ops)
        return patch.apply(doc, in_place=False)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise PatchError(f"testing value failed: {exc}") from exc
    except jsonpatch.JsonPatchConflict as exc:
        raise PatchError(f"the patch does not apply: {exc}") from exc
    except jsonpatch.InvalidJsonPatch as exc:
        raise PatchError(f"invalid JSON patch: {exc}", code=400) from exc
    except jsonpointer.JsonPointerException as exc:
        raise PatchError(f"invalid JSON pointer in patch: {exc}") from exc
    except (TypeError, KeyError, IndexError, ValueError, AttributeError) as exc:
        # jsonpatch lets a few malformed operations escape as builtin errors (a path that is
        # not a string, an index into a scalar, ...): still the client's fault.
        raise PatchError(f"invalid JSON patch: {exc!r}", code=400) from exc


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON Merge Patch and return the new document.

    Objects merge recursively, ``null`` removes a member, and anything else (lists, scalars)
    replaces the target wholesale. A patch that is not an object replaces the document.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = apply_merge_patch(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result
