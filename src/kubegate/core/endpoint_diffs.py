"""From desired EndpointSlices and Endpoints to the writes that make them so, without IO.

``diff_endpoint_slices`` and ``plan_endpoints`` compare only the fields the endpoints
controllers own, so store-managed metadata (uid, resourceVersion, creationTimestamp) and
foreign annotations never cause an update, and updates are built on the stored objects.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubegate.core.endpoint_inputs import metadata_of
from kubegate.core.endpoint_labels import (
    MANAGED_BY_LABEL,
    MIRRORING_CONTROLLER_NAME,
    OVER_CAPACITY_ANNOTATION,
)

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SliceDiff:
    """Writes that turn the existing slices into the desired ones. Updates are full objects
    built on the stored ones, so they keep uid, creationTimestamp and resourceVersion."""

    to_create: tuple[JSON, ...] = ()
    to_update: tuple[JSON, ...] = ()
    to_delete: tuple[JSON, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.to_create or self.to_update or self.to_delete)


def _set_or_drop(target: JSON, key: str, value: Any) -> None:
    # Absent and empty are the same to Kubernetes clients; never churn between them.
    if value in (None, {}, []):
        target.pop(key, None)
    else:
        target[key] = copy.deepcopy(value)


def _merge_slice(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> JSON:
    merged = copy.deepcopy(dict(existing))
    for field in ("apiVersion", "kind", "addressType"):
        merged[field] = desired[field]
    for field in ("endpoints", "ports"):
        merged[field] = copy.deepcopy(desired.get(field) or [])
    meta = merged.setdefault("metadata", {})
    wanted = metadata_of(desired)
    meta["labels"] = dict(wanted.get("labels") or {})
    meta["ownerReferences"] = copy.deepcopy(wanted.get("ownerReferences") or [])
    if wanted.get("labels", {}).get(MANAGED_BY_LABEL) == MIRRORING_CONTROLLER_NAME:
        _set_or_drop(meta, "annotations", wanted.get("annotations"))  # mirrored wholesale
    return merged


def diff_endpoint_slices(desired: Iterable[JSON], existing: Iterable[JSON]) -> SliceDiff:
    """Match slices by name: create the new, update those whose owned fields differ, delete
    the rest. Only labels, ownerReferences, (for mirrored slices) annotations, addressType,
    endpoints and ports are compared."""
    current = {str(metadata_of(s).get("name")): s for s in existing}
    to_create, to_update = [], []
    for slice_ in desired:
        stored = current.pop(str(metadata_of(slice_).get("name")), None)
        if stored is None:
            to_create.append(copy.deepcopy(slice_))
            continue
        merged = _merge_slice(slice_, stored)
        if merged != stored:
            to_update.append(merged)
    to_delete = [current[name] for name in sorted(current)]
    return SliceDiff(tuple(to_create), tuple(to_update), tuple(to_delete))


def plan_endpoints(desired: Mapping[str, Any], existing: Mapping[str, Any] | None) -> JSON | None:
    """The Endpoints object to write (built on ``existing`` when there is one), or None when
    labels, subsets and the over-capacity annotation already match."""
    if existing is None:
        return copy.deepcopy(dict(desired))
    merged = copy.deepcopy(dict(existing))
    merged["apiVersion"], merged["kind"] = desired["apiVersion"], desired["kind"]
    meta = merged.setdefault("metadata", {})
    meta["labels"] = dict(metadata_of(desired).get("labels") or {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(OVER_CAPACITY_ANNOTATION, None)
    annotations.update(metadata_of(desired).get("annotations") or {})
    _set_or_drop(meta, "annotations", annotations)
    _set_or_drop(merged, "subsets", desired.get("subsets"))
    return None if merged == existing else merged
