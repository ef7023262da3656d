"""Handlers for stored resources: get, list, create, update, patch, delete, deletecollection
and the status subresource. Watches live in ``server/watch.py``."""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from kubegate.api import strategy
from kubegate.api.fieldcheck import unknown_fields
from kubegate.api.resources import ResourceType
from kubegate.api.tables import table_for
from kubegate.api.validation import validate
from kubegate.auth.types import UserInfo
from kubegate.core.selectors import (
    SelectorError,
    field_value,
    parse_field_selector,
    parse_label_selector,
)
from kubegate.errors import (
    AlreadyExists,
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from kubegate.server.allocators import Allocators, ServiceUpdate
from kubegate.server.codec import PATCH_TYPES, decode_object, read_body, wants_table
from kubegate.server.context import RequestContext
from kubegate.server.patching import apply_patch
from kubegate.server.respond import encode_json, send_json, success_status
from kubegate.store.base import (
    Expired,
    KeyExists,
    KeyNotFound,
    Store,
    StoreUnavailable,
    VersionConflict,
    collection_prefix,
    object_key,
)

JSON = dict[str, Any]
PROTECTED_NAMESPACES = {"default", "kube-system", "kube-public"}
# kube's Service and Pod storage answer DELETE with the object; the rest with a Status.
RETURNS_DELETED_OBJECT = frozenset({"Service", "Pod"})
# Writes of these kinds may not grant what the writer lacks (kube's policy-based RBAC storage).
RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
# (user, kind, namespace, new object, old object or None on create) -> None, or raise an
# APIError; ``auth.escalation.EscalationGuard`` is the one in use under RBAC.
EscalationCheck = Callable[[UserInfo, str, str, JSON, JSON | None], Awaitable[None]]


@asynccontextmanager
async def store_errors(rt: ResourceType, name: str) -> AsyncIterator[None]:
    """Translate store failures into API errors naming the resource (as kube words them)."""
    try:
        yield
    except KeyNotFound as exc:
        raise NotFound(
            f'{rt.qualified} "{name}" not found', name=name, group=rt.group, kind=rt.plural
        ) from exc
    except KeyExists as exc:
        raise AlreadyExists(
            f'{rt.qualified} "{name}" already exists', name=name, group=rt.group, kind=rt.plural
        ) from exc
    except VersionConflict as exc:
        raise Conflict(
            f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            name=name,
            group=rt.group,
            kind=rt.plural,
        ) from exc
    except Expired as exc:
        raise Gone(
            "The provided continue parameter is too old to display a consistent list result."
        ) from exc
    except StoreUnavailable as exc:
        raise ServiceUnavailable(f"storage is unavailable: {exc}") from exc


def encode_continue(revision: int, key: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"continue key is not valid: {exc}") from exc


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

    # ----------------------------------------------------------------- helpers
    def key(self, rt: ResourceType, namespace: str, name: str) -> str:
        return object_key(rt.plural, namespace if rt.namespaced else "", name)

    async def _respond(self, ctx: RequestContext, status: int, obj: JSON) -> None:
        rt = ctx.resource
        assert rt is not None
        if wants_table(ctx.request.header("accept")) and obj.get("kind") == rt.kind:
            obj = table_for(
                rt.kind,
                [obj],
                now=datetime.now(UTC),
                resource_version=obj["metadata"].get("resourceVersion", ""),
            )
        ctx.request.state["audit_response_object"] = obj  # for RequestResponse audit records
        await send_json(ctx.response, status, obj, ctx.audit_id, extra=ctx.warning_headers())

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

    def _dry_run(self, ctx: RequestContext) -> bool:
        values = ctx.query.get("dryRun", [])
        for value in values:
            if value != "All":
                raise BadRequest(f'unsupported dry run option "{value}"; supported values: All')
        return bool(values)

    async def _decode_body(self, ctx: RequestContext, rt: ResourceType) -> JSON:
        raw = await read_body(ctx.request)
        # For Request-level audit records, decoded only if the policy asks (audit_log.py).
        ctx.request.state["audit_request_body"] = (raw, ctx.request.header("content-type"))
        decoded = decode_object(raw, ctx.request.header("content-type"))
        obj = decoded.obj
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
            raise BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
                if api_version != rt.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        problems = [f'duplicate field "{name}"' for name in decoded.duplicate_fields]
        problems += [f'unknown field "{path}"' for path in decoded.unknown_fields]
        problems += [f'unknown field "{path}"' for path in unknown_fields(rt, obj, prune=True)]
        self._field_validation(ctx, problems)
        return obj

    def _field_validation(self, ctx: RequestContext, problems: list[str]) -> None:
        mode = ctx.param("fieldValidation", "Warn") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise BadRequest(
                f'fieldValidation "{mode}" is invalid: valid values are Ignore, Warn, Strict'
            )
        if not problems:
            return
        if mode == "Strict":
            raise BadRequest("strict decoding error: " + ", ".join(problems))
        if mode == "Warn":
            ctx.warnings.extend(problems)

    async def _confirm_no_escalation(
        self, ctx: RequestContext, rt: ResourceType, new: JSON, old: JSON | None
    ) -> None:
        """Refuse a Role or binding granting more than the requesting (effective) user holds,
        dry runs included. Runs on a defaulted, validated object, so an invalid update is
        answered 422 before any 403, as a create is."""
        if self.escalation_check is None or rt.kind not in RBAC_KINDS:
            return
        assert ctx.user is not None
        if old is not None:
            validate(rt.kind, new, old)
        namespace = ctx.info.namespace if rt.namespaced else ""
        await self.escalation_check(ctx.user, rt.kind, namespace, new, old)

    # ---------------------------------------------------------------- reading
    async def get(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        async with store_errors(rt, info.name):
            obj = await self.store.get(self.key(rt, info.namespace, info.name))
        await self._respond(ctx, 200, obj)

    async def list(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        try:
            label_sel = parse_label_selector(ctx.param("labelSelector"))
            field_sel = parse_field_selector(ctx.param("fieldSelector"))
            for requirement_field in field_sel.fields():
                field_value(rt.kind, {}, requirement_field)
        except SelectorError as exc:
            raise BadRequest(str(exc)) from exc
        try:
            limit = int(ctx.param("limit", "0") or 0)
        except ValueError as exc:
            raise BadRequest("limit must be an integer") from exc
        start_after = ""
        token = ctx.param("continue")
        if token:
            _, start_after = decode_continue(token)
        prefix = collection_prefix(rt.plural, info.namespace if rt.namespaced else "")
        as_table = wants_table(ctx.request.header("accept"))
        if label_sel.empty and not field_sel.terms and not as_table:
            await self._list_raw(ctx, rt, prefix, limit, start_after)
            return
        items: list[JSON] = []
        next_key: str | None = None
        revision = 0
        async with store_errors(rt, ""):
            while True:
                page = await self.store.list(prefix, limit=limit, start_after=start_after)
                revision = revision or page.revision
                for obj in page.items:
                    if not label_sel.matches(obj.get("metadata", {}).get("labels") or {}):
                        continue
                    if not field_sel.matches(lambda f, o=obj: field_value(rt.kind, o, f)):
                        continue
                    items.append(obj)
                if not limit or page.continue_key is None:
                    next_key = None
                    break
                if len(items) >= limit:
                    next_key = page.continue_key
                    break
                start_after = page.continue_key
        metadata: JSON = {"resourceVersion": str(revision)}
        if next_key:
            metadata["continue"] = encode_continue(revision, next_key)
        if as_table:
            table = table_for(rt.kind, items, now=datetime.now(UTC), resource_version=str(revision))
            if next_key:
                table["metadata"]["continue"] = metadata["continue"]
            await send_json(ctx.response, 200, table, ctx.audit_id)
            return
        body = _list_body(rt, metadata, items)
        ctx.request.state["audit_response_body"] = body
        await send_json(ctx.response, 200, None, ctx.audit_id, body=body)

    async def _list_raw(
        self, ctx: RequestContext, rt: ResourceType, prefix: str, limit: int, start_after: str
    ) -> None:
        """The unfiltered JSON list: stored bytes joined, never decoded (the 10k-list path)."""
        async with store_errors(rt, ""):
            page = await self.store.list_raw(prefix, limit=limit, start_after=start_after)
        metadata: JSON = {"resourceVersion": str(page.revision)}
        if page.continue_key:
            metadata["continue"] = encode_continue(page.revision, page.continue_key)
        body = _list_envelope(rt, metadata, page.items)
        ctx.request.state["audit_response_body"] = body
        await send_json(ctx.response, 200, None, ctx.audit_id, body=body)

    # ---------------------------------------------------------------- writing
    async def create(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        if info.name:
            raise MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        obj = await self._decode_body(ctx, rt)
        if rt.namespaced:
            await self._require_namespace(info.namespace, for_create=True)
        strategy.prepare_create(rt.kind, obj, namespace=info.namespace if rt.namespaced else "")
        name = obj["metadata"].get("name", "")
        validate(rt.kind, obj, None)
        await self._confirm_no_escalation(ctx, rt, obj, None)
        dry_run = self._dry_run(ctx)
        if dry_run:
            await self._respond(ctx, 201, obj)
            return
        key = self.key(rt, info.namespace, name)
        if rt.kind == "Service":
            await self.allocators.allocate_for_service(obj, key)
        try:
            async with store_errors(rt, name):
                stored = await self.store.create(key, obj)
        except APIError:
            if rt.kind == "Service":
                await self.allocators.release_for_service(obj)
            raise
        await self._respond(ctx, 201, stored)

    async def update(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        obj = await self._decode_body(ctx, rt)
        meta = obj.setdefault("metadata", {})
        if meta.get("name", info.name) != info.name:
            raise BadRequest(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({info.name})"
            )
        meta["name"] = info.name
        status_only = info.subresource == "status"
        key = self.key(rt, info.namespace, info.name)
        expected = meta.get("resourceVersion") or None
        async with store_errors(rt, info.name):
            old = await self.store.get(key)
            new = self._prepare_update(rt, obj, old, status_only)
            await self._confirm_no_escalation(ctx, rt, new, old)
            if self._dry_run(ctx):
                validate(rt.kind, new, old)
                await self._respond(ctx, 200, new)
                return
            stored = await self._store_update(rt, key, new, old, int(expected) if expected else None, status_only)
        await self._respond(ctx, 200, stored)

    async def _store_update(
        self, rt: ResourceType, key: str, new: JSON, old: JSON, expected: int | None, status_only: bool
    ) -> JSON:
        """Validate and write an update; a Service's allocations follow its new spec."""
        change = ServiceUpdate(self.allocators) if rt.kind == "Service" and not status_only else None
        if change is not None:
            await change.prepare(new, old, key)
        try:
            validate(rt.kind, new, old)
            stored = await self.store.update(key, new, expected)
        except BaseException:
            if change is not None:
                await change.rollback()
            raise
        if change is not None:
            await change.commit()
        return stored

    def _prepare_update(self, rt: ResourceType, new: JSON, old: JSON, status_only: bool) -> JSON:
        if status_only:
            return strategy.prepare_status_update(rt.kind, new, old)
        new["metadata"]["namespace"] = old["metadata"].get("namespace")
        if not new["metadata"].get("namespace"):
            new["metadata"].pop("namespace", None)
        return strategy.prepare_update(rt.kind, new, old)

    async def patch(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        content_type = (ctx.request.header("content-type") or "").split(";", 1)[0].strip().lower()
        patch_type = PATCH_TYPES.get(content_type)
        if patch_type is None or patch_type == "apply":
            raise _unsupported_patch(content_type)
        raw = await read_body(ctx.request)
        ctx.request.state["audit_request_body"] = (raw, content_type)
        status_only = info.subresource == "status"
        key = self.key(rt, info.namespace, info.name)
        dry_run = self._dry_run(ctx)
        for _attempt in range(5):
            async with store_errors(rt, info.name):
                old = await self.store.get(key)
            patched = apply_patch(rt, copy.deepcopy(old), raw, patch_type)
            problems = [f'unknown field "{p}"' for p in unknown_fields(rt, patched, prune=True)]
            self._field_validation(ctx, problems)
            patched["kind"], patched["apiVersion"] = rt.kind, rt.api_version
            wanted_rv = patched.get("metadata", {}).get("resourceVersion")
            old_rv = old["metadata"].get("resourceVersion")
            if patched.get("metadata", {}).get("name") != info.name:
                raise BadRequest(
                    "metadata.name: Invalid value: the name of a patched object cannot change"
                )
            new = self._prepare_update(rt, patched, old, status_only)
            await self._confirm_no_escalation(ctx, rt, new, old)
            if dry_run:
                validate(rt.kind, new, old)
                await self._respond(ctx, 200, new)
                return
            expected = int(old_rv)
            if wanted_rv and wanted_rv != old_rv:
                expected = int(wanted_rv)
            try:
                async with store_errors(rt, info.name):
                    stored = await self._store_update(rt, key, new, old, expected, status_only)
            except Conflict:
                if wanted_rv and wanted_rv != old_rv:
                    raise
                continue
            await self._respond(ctx, 200, stored)
            return
        raise Conflict(
            f'Operation cannot be fulfilled on {rt.qualified} "{info.name}": too many conflicts'
        )

    async def delete(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        options = await self._delete_options(ctx)
        key = self.key(rt, info.namespace, info.name)
        dry_run = self._dry_run(ctx) or "All" in (options.get("dryRun") or [])
        async with store_errors(rt, info.name):
            old = await self.store.get(key)
            self._check_preconditions(rt, info.name, old, options)
            if rt.kind == "Namespace":
                await self._delete_namespace(ctx, old, dry_run)
                return
            if dry_run:
                await self._respond(ctx, 200, old)
                return
            deleted = await self.store.delete(key, int(old["metadata"]["resourceVersion"]))
        if rt.kind == "Service":
            await self.allocators.release_for_service(deleted)
        if rt.kind in RETURNS_DELETED_OBJECT:
            await self._respond(ctx, 200, deleted)
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
            await self._respond(ctx, 200, ns)
            return

        def terminate(obj: JSON) -> JSON:
            obj["metadata"].setdefault("deletionTimestamp", strategy.now_rfc3339())
            obj.setdefault("status", {})["phase"] = "Terminating"
            return obj

        updated = await self.store.guaranteed_update(object_key("namespaces", "", name), terminate)
        ctx.request.state["finalize_namespace"] = name
        await self._respond(ctx, 200, updated)

    async def deletecollection(self, ctx: RequestContext) -> None:
        rt, info = ctx.resource, ctx.info
        assert rt is not None
        if rt.kind == "Namespace":
            raise MethodNotAllowed("deletecollection is not supported for namespaces")
        try:
            label_sel = parse_label_selector(ctx.param("labelSelector"))
            field_sel = parse_field_selector(ctx.param("fieldSelector"))
        except SelectorError as exc:
            raise BadRequest(str(exc)) from exc
        dry_run = self._dry_run(ctx)
        prefix = collection_prefix(rt.plural, info.namespace if rt.namespaced else "")
        deleted: list[JSON] = []
        async with store_errors(rt, ""):
            page = await self.store.list(prefix)
            for obj in page.items:
                if not label_sel.matches(obj.get("metadata", {}).get("labels") or {}):
                    continue
                if not field_sel.matches(lambda f, o=obj: field_value(rt.kind, o, f)):
                    continue
                if dry_run:
                    deleted.append(obj)
                    continue
                key = self.key(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                try:
                    gone = await self.store.delete(key)
                except KeyNotFound:
                    continue
                if rt.kind == "Service":
                    await self.allocators.release_for_service(gone)
                deleted.append(gone)
        metadata = {"resourceVersion": str(self.store.revision)}
        await send_json(
            ctx.response, 200, None, ctx.audit_id, body=_list_body(rt, metadata, deleted)
        )


def _unsupported_patch(content_type: str) -> APIError:
    return UnsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"
        + (f" (got {content_type})" if content_type else "")
    )


def _list_body(rt: ResourceType, metadata: JSON, items: list[JSON]) -> bytes:
    """Encode a list of decoded objects."""
    return _list_envelope(rt, metadata, [encode_json(i) for i in items])


def _list_envelope(rt: ResourceType, metadata: JSON, encoded_items: list[bytes]) -> bytes:
    """A List object built around already-encoded items (stored bytes are never re-encoded)."""
    head = encode_json({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata})
    return b"".join((head[:-1], b',"items":[', b",".join(encoded_items), b"]}"))
