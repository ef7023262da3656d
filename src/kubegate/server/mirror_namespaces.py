"""What a mirror does when a Namespace is gone upstream: the mirror's *own* objects in it go
too, before the namespace itself.

Upstream, deleting a namespace deletes everything in it (kube's namespace controller), and
the mirror's reflectors see each mirrored object go — by its DELETED watch event, or, when
that event was never seen (a watch gap answered with 410 Gone, a mirror that was down), by
the set difference of their next list (``StoreSink.replace``). Each reflector stays the
only writer of its own resource type: a namespace deleted and at once created again
upstream must not lose the new namespace's Pods to a cascade run on the old one's behalf.

The mirror's local objects — ConfigMaps, Secrets, ServiceAccounts, Leases, Endpoints,
Events, and RoleBindings without ``--mirror-rbac`` — live in the upstream's namespaces but
have no upstream counterpart that could go. Left behind they would be orphans in a namespace
that no longer exists, and worse, a local RoleBinding would grant its rights again in a
namespace of the same name that someone else creates upstream later. So, as kube's namespace
lifecycle does, they are deleted with the namespace — first, so that a failure leaves the
namespace in place and the reflector's next list tries again (``replace`` only deletes
what is still stored).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kubegate.api.resources import RESOURCE_TYPES, ResourceType
from kubegate.server.mirror_sink import StoreSink
from kubegate.store.base import KeyNotFound, Store, collection_prefix, object_key

__all__ = ["NamespaceSink", "local_namespaced_types"]

log = logging.getLogger("kubegate.mirror")


def local_namespaced_types(mirrored: Iterable[ResourceType]) -> tuple[ResourceType, ...]:
    """The namespaced, stored resource types a mirror keeps of its own (not mirrored)."""
    skip = {rt.plural for rt in mirrored}
    return tuple(
        rt for rt in RESOURCE_TYPES if rt.namespaced and rt.stored and rt.plural not in skip
    )


class NamespaceSink(StoreSink):
    """The Namespaces reflector's sink: deleting a namespace deletes the mirror's own objects
    in it first."""

    def __init__(self, store: Store, rt: ResourceType, local: tuple[ResourceType, ...]) -> None:
        super().__init__(store, rt)
        self.local = local

    async def _delete(self, key: str) -> bool:
        namespace = key.removeprefix(self.prefix)
        removed = await delete_local_contents(self.store, namespace, self.local)
        if removed:
            log.info(
                "namespace %s is gone upstream: deleted %d local objects in it", namespace, removed
            )
        return await super()._delete(key)


async def delete_local_contents(store: Store, namespace: str, types: Iterable[ResourceType]) -> int:
    """Delete every object of ``types`` in ``namespace``; returns how many were deleted."""
    removed = 0
    for rt in types:
        page = await store.list(collection_prefix(rt.plural, namespace))
        for obj in page.items:
            name = (obj.get("metadata") or {}).get("name")
            if not isinstance(name, str):
                continue
            try:
                await store.delete(object_key(rt.plural, namespace, name))
            except KeyNotFound:
                continue  # deleted meanwhile
            removed += 1
    return removed
