"""Namespace lifecycle: bootstrap namespaces, and finalization of deleted namespaces
(a namespace's objects go with it, then the namespace itself)."""

from __future__ import annotations

import asyncio
import logging

from kubegate.api import strategy
from kubegate.api.resources import RESOURCE_TYPES
from kubegate.server.allocators import Allocators
from kubegate.store.base import KeyExists, KeyNotFound, Store, collection_prefix, object_key

log = logging.getLogger("kubegate.namespaces")
BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class NamespaceLifecycle:
    def __init__(self, store: Store, allocators: Allocators) -> None:
        self.store = store
        self.allocators = allocators
        self._tasks: set[asyncio.Task[None]] = set()

    async def bootstrap(self, *, resume_deletions: bool = True) -> None:
        """Create the namespaces every cluster starts with; resume unfinished deletions.

        A mirror passes ``resume_deletions=False``: its Terminating namespaces are the
        upstream's, which finalizes them (and whose Pods may outlive that phase for long);
        finalizing here would delete mirrored objects the upstream still has."""
        for name in BOOTSTRAP_NAMESPACES:
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            strategy.prepare_create("Namespace", ns, namespace="")
            try:
                await self.store.create(object_key("namespaces", "", name), ns)
            except KeyExists:
                pass
        if not resume_deletions:
            return
        page = await self.store.list(collection_prefix("namespaces"))
        for ns in page.items:
            if ns.get("status", {}).get("phase") == "Terminating":
                self.finalize(ns["metadata"]["name"])

    def finalize(self, name: str) -> None:
        """Start (in the background, owned here) the removal of a terminating namespace."""
        task = asyncio.create_task(self._finalize(name), name=f"finalize-namespace {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finalize(self, name: str) -> None:
        try:
            for rt in RESOURCE_TYPES:
                if not rt.namespaced or not rt.stored:
                    continue
                page = await self.store.list(collection_prefix(rt.plural, name))
                for obj in page.items:
                    try:
                        gone = await self.store.delete(
                            object_key(rt.plural, name, obj["metadata"]["name"])
                        )
                    except KeyNotFound:
                        continue
                    if rt.kind == "Service":
                        await self.allocators.release_for_service(gone)
            await self.store.delete(object_key("namespaces", "", name))
        except KeyNotFound:
            pass
        except Exception:
            log.exception("finalizing namespace %s failed; it will be retried at next start", name)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        for task in self._tasks:
            task.cancel()
