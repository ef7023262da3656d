"""Create-only review resources answered on the fly (nothing is stored):
SelfSubjectReview (``kubectl auth whoami``) and SelfSubjectAccessReview (``kubectl auth can-i``)."""

from __future__ import annotations

from kubegate.errors import BadRequest, MethodNotAllowed
from kubegate.server.codec import decode_object, read_body
from kubegate.server.context import RequestContext
from kubegate.server.respond import send_json


async def review(ctx: RequestContext) -> None:
    rt = ctx.resource
    assert rt is not None and ctx.user is not None
    body = decode_object(await read_body(ctx.request), ctx.request.header("content-type")).obj
    result = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": body.get("metadata") or {}}
    if rt.kind == "SelfSubjectReview":
        result["status"] = {"userInfo": ctx.user.to_json()}
    elif rt.kind == "SelfSubjectAccessReview":
        spec = body.get("spec")
        if not isinstance(spec, dict) or not (
            spec.get("resourceAttributes") or spec.get("nonResourceAttributes")
        ):
            raise BadRequest("spec.resourceAttributes or spec.nonResourceAttributes is required")
        allowed = "system:masters" in ctx.user.groups
        result["spec"] = spec
        result["status"] = {"allowed": allowed}
        if not allowed:
            result["status"]["reason"] = "no RBAC policy matched"
    else:
        raise MethodNotAllowed(f"{rt.kind} is not available yet")
    await send_json(ctx.response, 201, result, ctx.audit_id)
