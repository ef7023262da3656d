"""Request and response plumbing the resource handlers share: store failures as API errors,
the ``dryRun`` and ``fieldValidation`` parameters, decoding a request body into the handled
kind, and answering with an object (or its Table, when the client asks for one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from kubegate.api.fieldcheck import unknown_fields
from kubegate.api.resources import ResourceType
from kubegate.api.tables import table_for
from kubegate.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Gone,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
)
from kubegate.server.codec import decode_object, read_body, wants_table
from kubegate.server.context import RequestContext
from kubegate.server.respond import send_json
from kubegate.store.base import (
    Expired,
    KeyExists,
    KeyNotFound,
    ObjectTooLarge,
    StoreUnavailable,
    VersionConflict,
    object_key,
)

JSON = dict[str, Any]


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
    except ObjectTooLarge as exc:
        # kube-apiserver: apierrors.NewRequestEntityTooLargeError, hence the message's prefix
        raise RequestEntityTooLarge(f"Request entity too large: {exc}") from exc
    except StoreUnavailable as exc:
        raise ServiceUnavailable(f"storage is unavailable: {exc}") from exc


def resource_key(rt: ResourceType, namespace: str, name: str) -> str:
    """The store key of one object of ``rt`` (cluster-scoped kinds ignore ``namespace``)."""
    return object_key(rt.plural, namespace if rt.namespaced else "", name)


async def respond_object(ctx: RequestContext, status: int, obj: JSON) -> None:
    """Answer with ``obj``, as a one-row Table when the client asked for Tables."""
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


def dry_run_requested(ctx: RequestContext) -> bool:
    """``?dryRun=All`` (the only value kube supports); anything else is 400."""
    values = ctx.query.get("dryRun", [])
    for value in values:
        if value != "All":
            raise BadRequest(f'unsupported dry run option "{value}"; supported values: All')
    return bool(values)


def check_field_validation(ctx: RequestContext, problems: list[str]) -> None:
    """Apply ``?fieldValidation``: Strict refuses ``problems``, Warn (the default) turns them
    into Warning headers, Ignore drops them."""
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


async def decode_body(ctx: RequestContext, rt: ResourceType) -> JSON:
    """The request body as an object of ``rt`` (kind and apiVersion checked and filled in),
    with duplicate and unknown fields reported through ``check_field_validation``."""
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
    check_field_validation(ctx, problems)
    return obj
