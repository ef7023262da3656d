"""Handlers for stored resources: get, list, create, update, patch, delete, deletecollection
and the status subresource. Watches live in ``server/watch.py``.

``ResourceHandlers`` is the one entry point the app dispatches to. The list path lives in
``server/resource_list.py``, the patch path in ``server/resource_patch.py``, the write steps
they share with create and update in ``server/resource_writes.py``, and the request and
response plumbing in ``server/resource_io.py``.
"""

from __future__ import annotations

from typing import Any

from kubegate.api import strategy
from kubegate.api.resources import ResourceType
from kubegate.api.validation import validate
from kubegate.errors import (
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from kubegate.server.allocators import Allocators
from kubegate.server.codec import decode_object, read_body
from kubegate.server.context import RequestContext
from kubegate.server.object_filter import request_filter
from kubegate.server.resource_io import (
    decode_body,
    dry_run_requested,
    resource_key,
    respond_object,
    store_errors,
)
from kubegate.server.resource_list import list_body, list_objects
from kubegate.server.resource_patch import patch_object
from kubegate.server.resource_writes import EscalationCheck, ObjectWrites, prepare_update
from kubegate.server.respond import send_json, success_status
from kubegate.store.base import (
    KeyNotFound,
    Store,
    StoreUnavailable,
    collection_prefix,
    object_key,
)

JSON = dict[str, Any]
PROTECTED_NAMESPACES = {"default", "kube-system", "kube-public"}
# kube's Service and Pod storage answer DELETE with the object; the rest with a Status.
RETURNS_DELETED_OBJECT = frozenset({"Service", "Pod"})


class ResourceHandlers:
    def __init__(
        self,
        store: Store,
        allocators: Allocators,
        *,
        escalation_check: EscalationCheck | None = None,
    ) -> None:
        self.store = store
        self.allocators = allocators
        self.escalation_check = escalation_check
        self.writes = ObjectWrites(store, allocators, escalation_check)

    async def _require_namespace(self, namespace: str, *, for_create: bool) -> None:
        try:
            ns = await self.store.get(object_key("namespaces", "", namespace))
        except KeyNotFound as exc:
            raise NotFound(
                f'namespaces "{namespace}" not found', name=namespace, kind="namespaces"
            ) from exc
        except StoreUnavailable as exc:
            raise ServiceUnavailable(f"storage is unavailable: {exc}") from exc
        if for_create and ns.get("status", {}).get("phase") == "Terminating":
            raise Forbidden(
                f"unable to create new content in namespace {namespace} because it is being terminated",
                name=namespace,
                kind="namespaces",
            )

    # ---------------------------------------------------------------- reading
    async def get(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        async with store_errors(rt, info.name):
            obj = await self.store.get(resource_key(rt, info.namespace, info.name))
        await respond_object(ctx, 200, obj)

    async def list(self, ctx: RequestContext) -> None:
        await list_objects(ctx, self.store)

    # ---------------------------------------------------------------- writing
    async def create(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        if info.name:
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        obj = await decode_body(ctx, rt)
        if rt.namespaced:
            await self._require_namespace(info.namespace, for_create=True)
        strategy.prepare_create(rt.kind, obj, namespace=info.namespace if rt.namespaced else "")
        name = obj["metadata"].get("name", "")
        validate(rt.kind, obj, None)
        await self.writes.confirm_no_escalation(ctx, rt, obj, None)
        dry_run = dry_run_requested(ctx)
        if dry_run:
            await respond_object(ctx, 201, obj)
            return
        key = resource_key(rt, info.namespace, name)
        if rt.kind == "Service":
            await self.allocators.allocate_for_service(obj, key)
        try:
            async with store_errors(rt, name):
                stored = await self.store.create(key, obj)
        except APIError:
            if rt.kind == "Service":
                await self.allocators.release_for_service(obj)
            raise
        await respond_object(ctx, 201, stored)

    async def update(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        obj = await decode_body(ctx, rt)
        meta = obj.setdefault("metadata", {})
        if meta.get("name", info.name) != info.name:
            raise BadRequest(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({info.name})"
            )
        meta["name"] = info.name
        status_only = info.subresource == "status"
        key = resource_key(rt, info.namespace, info.name)
        expected = meta.get("resourceVersion") or None
        async with store_errors(rt, info.name):
            old = await self.store.get(key)
            new = prepare_update(rt, obj, old, status_only)
            await self.writes.confirm_no_escalation(ctx, rt, new, old)
            if dry_run_requested(ctx):
                validate(rt.kind, new, old)
                await respond_object(ctx, 200, new)
                return
            stored = await self.writes.store_update(
                rt, key, new, old, int(expected) if expected else None, status_only
            )
        await respond_object(ctx, 200, stored)

    async def patch(self, ctx: RequestContext) -> None:
        await patch_object(ctx, self.store, self.writes)

    # ---------------------------------------------------------------- deleting
    async def delete(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        options = await self._delete_options(ctx)
        key = resource_key(rt, info.namespace, info.name)
        dry_run = dry_run_requested(ctx) or "All" in (options.get("dryRun") or [])
        async with store_errors(rt, info.name):
            old = await self.store.get(key)
            self._check_preconditions(rt, info.name, old, options)
            if rt.kind == "Namespace":
                await self._delete_namespace(ctx, old, dry_run)
                return
            if dry_run:
                await respond_object(ctx, 200, old)
                return
            deleted = await self.store.delete(key, int(old["metadata"]["resourceVersion"]))
        if rt.kind == "Service":
            await self.allocators.release_for_service(deleted)
        if rt.kind in RETURNS_DELETED_OBJECT:
            await respond_object(ctx, 200, deleted)
            return
        meta = deleted["metadata"]
        status = success_status(meta["name"], rt.group, rt.plural, meta.get("uid", ""))
        await send_json(ctx.response, 200, status, ctx.audit_id, extra=ctx.warning_headers())

    async def _delete_options(self, ctx: RequestContext) -> JSON:
        raw = await read_body(ctx.request)
        if not raw.strip():
            return {}
        options = decode_object(raw, ctx.request.header("content-type")).obj
        return options

    @staticmethod
    def _check_preconditions(rt: ResourceType, name: str, old: JSON, options: JSON) -> None:
        pre = options.get("preconditions") or {}
        meta = old["metadata"]
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise Conflict(
                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition failed: '
                f"UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
                name=name,
                group=rt.group,
                kind=rt.plural,
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise Conflict(
                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition failed: '
                f"ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                name=name,
                group=rt.group,
                kind=rt.plural,
            )

    async def _delete_namespace(self, ctx: RequestContext, ns: JSON, dry_run: bool) -> None:
        name = ns["metadata"]["name"]
        if name in PROTECTED_NAMESPACES:
            raise Forbidden(
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                name=name,
                kind="namespaces",
            )
        if dry_run:
            await respond_object(ctx, 200, ns)
            return

        def terminate(obj: JSON) -> JSON:
            obj["metadata"].setdefault("deletionTimestamp", strategy.now_rfc3339())
            obj.setdefault("status", {})["phase"] = "Terminating"
            return obj

        updated = await self.store.guaranteed_update(object_key("namespaces", "", name), terminate)
        ctx.request.state["finalize_namespace"] = name
        await respond_object(ctx, 200, updated)

    async def deletecollection(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        if rt.kind == "Namespace":
            raise MethodNotAllowed("deletecollection is not supported for namespaces")
        selection = request_filter(ctx, rt)
        dry_run = dry_run_requested(ctx)
        prefix = collection_prefix(rt.plural, info.namespace if rt.namespaced else "")
        deleted: list[JSON] = []
        async with store_errors(rt, ""):
            page = await self.store.list(prefix)
            for obj in page.items:
                if not selection.matches(obj):
                    continue
                if dry_run:
                    deleted.append(obj)
                    continue
                key = resource_key(
                    rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                )
                try:
                    gone = await self.store.delete(key)
                except KeyNotFound:
                    continue
                if rt.kind == "Service":
                    await self.allocators.release_for_service(gone)
                deleted.append(gone)
        metadata = {"resourceVersion": str(self.store.revision)}
        await send_json(
            ctx.response, 200, None, ctx.audit_id, body=list_body(rt, metadata, deleted)
        )
