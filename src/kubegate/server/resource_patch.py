"""The patch verb: JSON, merge and strategic-merge patches (not server-side apply) applied to
the stored object and written with optimistic concurrency.

A patch that does not pin a ``resourceVersion`` is re-applied to the newer object after a
write conflict (five attempts in all); one that pins a stale ``resourceVersion`` fails with
409 Conflict. The patch formats themselves live in ``server/patching.py``.
"""

from __future__ import annotations

import copy

from kubegate.api.fieldcheck import unknown_fields
from kubegate.api.validation import validate
from kubegate.errors import APIError, BadRequest, Conflict, UnsupportedMediaType
from kubegate.server.codec import PATCH_TYPES, read_body
from kubegate.server.context import RequestContext
from kubegate.server.patching import apply_patch
from kubegate.server.resource_io import (
    check_field_validation,
    dry_run_requested,
    resource_key,
    respond_object,
    store_errors,
)
from kubegate.server.resource_writes import ObjectWrites, prepare_update
from kubegate.store.base import Store

_ATTEMPTS = 5


async def patch_object(ctx: RequestContext, store: Store, writes: ObjectWrites) -> None:
    """Answer a PATCH of ``ctx.resource`` (or its status subresource)."""
    rt, info = ctx.resource, ctx.info
    assert rt is not None
    content_type = (ctx.request.header("content-type") or "").split(";", 1)[0].strip().lower()
    patch_type = PATCH_TYPES.get(content_type)
    if patch_type is None or patch_type == "apply":
        raise _unsupported_patch(content_type)
    raw = await read_body(ctx.request)
    ctx.request.state["audit_request_body"] = (raw, content_type)
    status_only = info.subresource == "status"
    key = resource_key(rt, info.namespace, info.name)
    dry_run = dry_run_requested(ctx)
    for _attempt in range(_ATTEMPTS):
        async with store_errors(rt, info.name):
            old = await store.get(key)
        patched = apply_patch(rt, copy.deepcopy(old), raw, patch_type)
        problems = [f'unknown field "{p}"' for p in unknown_fields(rt, patched, prune=True)]
        check_field_validation(ctx, problems)
        patched["kind"], patched["apiVersion"] = rt.kind, rt.api_version
        wanted_rv = patched.get("metadata", {}).get("resourceVersion")
        old_rv = old["metadata"].get("resourceVersion")
        if patched.get("metadata", {}).get("name") != info.name:
            raise BadRequest(
                "metadata.name: Invalid value: the name of a patched object cannot change"
            )
        new = prepare_update(rt, patched, old, status_only)
        await writes.confirm_no_escalation(ctx, rt, new, old)
        if dry_run:
            validate(rt.kind, new, old)
            await respond_object(ctx, 200, new)
            return
        expected = int(old_rv)
        if wanted_rv and wanted_rv != old_rv:
            expected = int(wanted_rv)
        try:
            async with store_errors(rt, info.name):
                stored = await writes.store_update(rt, key, new, old, expected, status_only)
        except Conflict:
            if wanted_rv and wanted_rv != old_rv:
                raise
            continue
        await respond_object(ctx, 200, stored)
        return
    raise Conflict(
        f'Operation cannot be fulfilled on {rt.qualified} "{info.name}": too many conflicts'
    )


def _unsupported_patch(content_type: str) -> APIError:
    return UnsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"
        + (f" (got {content_type})" if content_type else "")
    )
