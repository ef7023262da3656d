"""Placing endpoints into EndpointSlices and naming the slices: the machinery that the
EndpointSlice rules (``core/endpointslices.py``) and the mirroring rules
(``core/endpointslice_mirroring.py``) share.

Placement is churn-averse like kube's reconciler: an endpoint stays in the slice that already
holds it, freed room is refilled before new slices are made, and a slice that would be
deleted is recycled (renamed into) when another of its address type is needed. Because the
store has no ``generateName``, new slices get deterministic names (``{owner}-{5 chars}``)
derived from a hash, so recomputing the same state yields the same names.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubegate.core.endpoint_inputs import metadata_of

JSON = dict[str, Any]
SliceKey = tuple[str, str]  # (address type, ports_key)

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's generateName alphabet
_MAX_PREFIX = 58  # 63 minus the 5-character suffix, as SimpleNameGenerator truncates


@dataclass(slots=True)
class EndpointGroup:
    """Desired endpoints sharing one address type and one resolved port set, by identity."""

    address_type: str
    ports: list[JSON]
    endpoints: dict[tuple[Any, ...], JSON]


@dataclass(slots=True)
class PlacedSlice:
    """A slice-to-be: its name (None until one is assigned) and its endpoints."""

    name: str | None
    address_type: str
    ports: list[JSON]
    endpoints: list[JSON]


def endpoint_identity(endpoint: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two endpoints "the same" for placement (kube's endpoint hash)."""
    ref = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or ())),
        endpoint.get("hostname", ""),
        ref.get("namespace", ""),
        ref.get("name", ""),
    )


def ports_key(ports: Sequence[Mapping[str, Any]]) -> str:
    """An order-independent key for a set of slice ports."""
    return json.dumps(sorted(json.dumps(p, sort_keys=True) for p in ports))


def slices_by_key(slices: Iterable[JSON]) -> dict[SliceKey, list[JSON]]:
    """Existing slices grouped by (address type, ports), each group in name order."""
    by_key: dict[SliceKey, list[JSON]] = {}
    for slice_ in sorted(slices, key=lambda s: str(metadata_of(s).get("name"))):
        key = str(slice_.get("addressType", "")), ports_key(slice_.get("ports") or ())
        by_key.setdefault(key, []).append(slice_)
    return by_key


def owner_ref(api_version: str, kind: str, owner: Mapping[str, Any]) -> JSON:
    """A controller ``ownerReference`` to ``owner``."""
    meta = metadata_of(owner)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.get("name"),
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_owned_by(
    obj: Mapping[str, Any], api_version: str, kind: str, owner: Mapping[str, Any]
) -> bool:
    """Whether ``obj`` lists ``owner`` (this incarnation of it, by uid) among its owners."""
    uid = metadata_of(owner).get("uid", "")
    return any(
        ref.get("apiVersion") == api_version
        and ref.get("kind") == kind
        and ref.get("uid", "") == uid
        for ref in metadata_of(obj).get("ownerReferences") or ()
    )


def slice_object(placed: PlacedSlice, metadata: JSON) -> JSON:
    """The EndpointSlice for ``placed`` under ``metadata``."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata,
        "addressType": placed.address_type,
        "endpoints": copy.deepcopy(placed.endpoints),
        "ports": copy.deepcopy(placed.ports),
    }


# --------------------------------------------------------------------------- placement


def place_group(
    group: EndpointGroup, slices: Sequence[JSON], limit: int
) -> tuple[list[PlacedSlice], list[JSON]]:
    """Kube's reconcileByPortMapping: keep endpoints where they already live, refill the
    slices that change anyway, then top up the unchanged slice that fits best, and only then
    open new slices. Returns the placed slices and the existing ones left empty."""
    remaining = dict(group.endpoints)
    changed: list[PlacedSlice] = []
    unchanged: list[PlacedSlice] = []
    freed: list[JSON] = []
    for slice_ in slices:
        current = list(slice_.get("endpoints") or ())
        kept = []
        for endpoint in current:
            identity = endpoint_identity(endpoint)
            if identity in remaining:
                kept.append(remaining.pop(identity))
        if not kept:
            freed.append(slice_)
            continue
        name = metadata_of(slice_).get("name")
        placed = PlacedSlice(name, group.address_type, group.ports, kept)
        (changed if kept != current else unchanged).append(placed)

    queue = [remaining[identity] for identity in sorted(remaining)]
    changed.sort(key=lambda p: (-len(p.endpoints), p.name or ""))
    for placed in changed:
        room = max(limit - len(placed.endpoints), 0)
        placed.endpoints.extend(queue[:room])
        del queue[:room]

    fresh: list[PlacedSlice] = []
    while queue:
        target = None
        if len(queue) < limit:
            fitting = [p for p in unchanged if len(p.endpoints) + len(queue) <= limit]
            if fitting:
                # The slice that ends up closest to full, as kube's getSliceToFill picks.
                target = max(fitting, key=lambda p: (len(p.endpoints), p.name or ""))
                unchanged.remove(target)
                changed.append(target)
        if target is None:
            target = PlacedSlice(None, group.address_type, group.ports, [])
            fresh.append(target)
        room = limit - len(target.endpoints)
        target.endpoints.extend(queue[:room])
        del queue[:room]
    return changed + unchanged + fresh, freed


# --------------------------------------------------------------------------- naming


class _Reserved:
    """Names not to use: a caller's (possibly large, lazily checked) container plus the
    ones reserved here. Never copies the caller's container (it may hold a namespace's
    every slice name, and copying it per Service made reconciling quadratic)."""

    __slots__ = ("_base", "_extra")

    def __init__(self, base: Container[str], extra: Iterable[str] = ()) -> None:
        self._base = base
        self._extra = set(extra)

    def __contains__(self, name: object) -> bool:
        return name in self._extra or name in self._base

    def add(self, name: str) -> None:
        self._extra.add(name)


def _generated_name(prefix: str, seed: str, taken: _Reserved) -> str:
    """A deterministic ``generateName``-style name not in ``taken`` (and reserve it)."""
    attempt = 0
    while True:
        digest = hashlib.sha256(f"{seed}#{attempt}".encode()).digest()
        suffix = "".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in digest[:5])
        name = prefix + suffix
        if name not in taken:
            taken.add(name)
            return name
        attempt += 1


def assign_names(
    placed: Iterable[PlacedSlice],
    freed: Iterable[JSON],
    *,
    owner_name: str,
    seed: str,
    existing: Iterable[JSON],
    taken_names: Container[str],
) -> None:
    """Name new slices: recycle a freed slice of the same address type (an update instead of
    a delete plus a create, as kube's finalize does), else derive a fresh
    ``{owner_name}-xxxxx`` name from ``seed`` that is neither in ``taken_names`` nor the name
    of an ``existing`` slice. ``freed`` is taken in the order given."""
    taken = _Reserved(taken_names, (str(metadata_of(s).get("name")) for s in existing))
    prefix = f"{owner_name}-"[:_MAX_PREFIX]
    recyclable: dict[str, list[str]] = {}
    for slice_ in freed:
        recyclable.setdefault(str(slice_.get("addressType")), []).append(
            metadata_of(slice_)["name"]
        )
    for index, item in enumerate(p for p in placed if p.name is None):
        pool = recyclable.get(item.address_type)
        if pool:
            item.name = pool.pop(0)
        else:
            ports = ports_key(item.ports)
            item.name = _generated_name(
                prefix, f"{seed}/{item.address_type}/{ports}/{index}", taken
            )
