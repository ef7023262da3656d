"""Create-only review resources answered on the fly (nothing is stored):
SelfSubjectReview (``kubectl auth whoami``), SelfSubjectAccessReview (``kubectl auth can-i``),
SubjectAccessReview and SelfSubjectRulesReview (``kubectl auth can-i --list``; see
``access_reviews``)."""

from __future__ import annotations

from kubegate.auth.types import Attributes, Authorizer, UserInfo
from kubegate.errors import BadRequest, MethodNotAllowed
from kubegate.server.access_reviews import (
    access_review_status,
    rules_review_status,
    subject_from_spec,
)
from kubegate.server.codec import decode_object, read_body
from kubegate.server.context import RequestContext
from kubegate.server.respond import send_json


async def review(ctx: RequestContext, authorizer: Authorizer) -> None:
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
        decision = authorizer.authorize(review_attributes(ctx.user, spec))
        result["spec"] = spec
        result["status"] = access_review_status(decision)
    elif rt.kind == "SubjectAccessReview":
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        decision = authorizer.authorize(review_attributes(subject_from_spec(spec), spec))
        result["spec"] = spec
        result["status"] = access_review_status(decision)
    elif rt.kind == "SelfSubjectRulesReview":
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        namespace = str(spec.get("namespace") or "")
        result["spec"] = spec
        result["status"] = rules_review_status(authorizer, ctx.user, namespace)
    else:
        raise MethodNotAllowed(f"{rt.kind} is not available yet")
    await send_json(ctx.response, 201, result, ctx.audit_id)


def review_attributes(user: UserInfo, spec: dict) -> Attributes:  # type: ignore[type-arg]
    """The attributes a SubjectAccessReview spec asks about."""
    res = spec.get("resourceAttributes")
    if isinstance(res, dict):
        return Attributes(
            user=user,
            verb=str(res.get("verb") or ""),
            resource_request=True,
            namespace=str(res.get("namespace") or ""),
            api_group=str(res.get("group") or ""),
            api_version=str(res.get("version") or ""),
            resource=str(res.get("resource") or ""),
            subresource=str(res.get("subresource") or ""),
            name=str(res.get("name") or ""),
        )
    non = spec.get("nonResourceAttributes") or {}
    return Attributes(
        user=user,
        verb=str(non.get("verb") or ""),
        resource_request=False,
        path=str(non.get("path") or ""),
    )
