"""The list verb: selectors, ``limit`` and ``continue`` paging, Table output, and List
envelopes built around already-encoded items.

Lists without selectors (and not asked for as a Table) take the raw path: the stored JSON
bytes are joined into the envelope and never decoded, which is what keeps a 10k-object list
cheap. ``list_body`` is shared with deletecollection, which answers with the deleted objects.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from kubegate.api.resources import ResourceType
from kubegate.api.tables import table_for
from kubegate.errors import BadRequest
from kubegate.server.codec import wants_table
from kubegate.server.context import RequestContext
from kubegate.server.object_filter import ObjectFilter, request_filter
from kubegate.server.resource_io import store_errors
from kubegate.server.respond import encode_json, send_json
from kubegate.store.base import Store, collection_prefix

JSON = dict[str, Any]


def encode_continue(revision: int, key: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"continue key is not valid: {exc}") from exc


async def list_objects(ctx: RequestContext, store: Store) -> None:
    """Answer a list request for ``ctx.resource``."""
    rt, info = ctx.resource, ctx.info
    assert rt is not None
    selection = request_filter(ctx, rt)
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
    if selection.empty and not as_table:
        await _list_raw(ctx, store, rt, prefix, limit, start_after)
        return
    items, revision, next_key = await _list_selected(
        store, rt, prefix, selection, limit, start_after
    )
    metadata: JSON = {"resourceVersion": str(revision)}
    if next_key:
        metadata["continue"] = encode_continue(revision, next_key)
    if as_table:
        table = table_for(rt.kind, items, now=datetime.now(UTC), resource_version=str(revision))
        if next_key:
            table["metadata"]["continue"] = metadata["continue"]
        await send_json(ctx.response, 200, table, ctx.audit_id)
        return
    body = list_body(rt, metadata, items)
    ctx.request.state["audit_response_body"] = body
    await send_json(ctx.response, 200, None, ctx.audit_id, body=body)


async def _list_selected(
    store: Store,
    rt: ResourceType,
    prefix: str,
    selection: ObjectFilter,
    limit: int,
    start_after: str,
) -> tuple[list[JSON], int, str | None]:
    """The matching objects, the list's revision and where the next page starts: store
    pages are read until at least ``limit`` objects matched or the collection ends."""
    items: list[JSON] = []
    revision = 0
    async with store_errors(rt, ""):
        while True:
            page = await store.list(prefix, limit=limit, start_after=start_after)
            revision = revision or page.revision
            items += [obj for obj in page.items if selection.matches(obj)]
            if not limit or page.continue_key is None:
                return items, revision, None
            if len(items) >= limit:
                return items, revision, page.continue_key
            start_after = page.continue_key


async def _list_raw(
    ctx: RequestContext, store: Store, rt: ResourceType, prefix: str, limit: int, start_after: str
) -> None:
    """The unfiltered JSON list: stored bytes joined, never decoded (the 10k-list path)."""
    async with store_errors(rt, ""):
        page = await store.list_raw(prefix, limit=limit, start_after=start_after)
    metadata: JSON = {"resourceVersion": str(page.revision)}
    if page.continue_key:
        metadata["continue"] = encode_continue(page.revision, page.continue_key)
    body = _list_envelope(rt, metadata, page.items)
    ctx.request.state["audit_response_body"] = body
    await send_json(ctx.response, 200, None, ctx.audit_id, body=body)


def list_body(rt: ResourceType, metadata: JSON, items: list[JSON]) -> bytes:
    """Encode a list of decoded objects."""
    return _list_envelope(rt, metadata, [encode_json(i) for i in items])


def _list_envelope(rt: ResourceType, metadata: JSON, encoded_items: list[bytes]) -> bytes:
    """A List object built around already-encoded items (stored bytes are never re-encoded)."""
    head = encode_json({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata})
    return b"".join((head[:-1], b',"items":[', b",".join(encoded_items), b"]}"))
