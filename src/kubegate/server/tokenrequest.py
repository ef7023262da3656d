"""The token APIs: TokenRequest (``serviceaccounts/{name}/token``, ``kubectl create token``)
and TokenReview (``authentication.k8s.io/v1 tokenreviews``). Both arrive as JSON or, from
kubectl, protobuf; both answer 201 with the object, as kube does.

TokenRequest: ``spec.audiences`` default to the server's API audiences; ``spec.expirationSeconds``
defaults to 3600, must be at least 600 (kube's validation) and is capped at
``--service-account-max-token-expiration``. Tokens bound to a Pod or Secret
(``spec.boundObjectRef``) are refused: kubegate cannot yet revoke them with that object.
A mirror in via-apiserver mode refuses every TokenRequest (``refusal``; see
server/mirror_readonly.py) with 405 MethodNotAllowed.

TokenReview: asks every bearer-token source (static tokens, the token file, ServiceAccount
tokens, OIDC) about ``spec.token`` for ``spec.audiences`` (default: the API audiences);
the answer is ``status.authenticated``/``user``/``audiences``, or ``status.error``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from kubegate.api.strategy import now_rfc3339
from kubegate.auth.bearer import BearerAuthenticator
from kubegate.auth.serviceaccount import ServiceAccountCache, TokenIssuer
from kubegate.errors import BadRequest, FieldErrors, MethodNotAllowed, NotFound, Unauthorized
from kubegate.server.codec import decode_object, read_body
from kubegate.server.context import RequestContext
from kubegate.server.respond import send_json
from kubegate.store.base import KeyNotFound, Store, object_key

DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600  # kube's authenticationapi.MinTokenAgeSec
MAX_REQUESTABLE = 1 << 32
GROUP = "authentication.k8s.io"
API_VERSION = f"{GROUP}/v1"


class TokenAPI:
    def __init__(
        self,
        store: Store,
        issuer: TokenIssuer,
        accounts: ServiceAccountCache,
        bearer: BearerAuthenticator,
        *,
        max_expiration: int,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.accounts = accounts
        self.bearer = bearer
        self.max_expiration = max_expiration
        self.refusal: str | None = None  # set: every TokenRequest is refused with this message

    async def token_request(self, ctx: RequestContext) -> None:
        namespace, name = ctx.info.namespace, ctx.info.name
        if self.refusal is not None:
            raise MethodNotAllowed(self.refusal, name=name, kind="serviceaccounts")
        body = await _body(ctx)
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise BadRequest("spec must be an object")
        audiences = _strings(spec.get("audiences"), "spec.audiences") or self.bearer.api_audiences
        expiration = self._expiration(spec.get("expirationSeconds"), name)
        if spec.get("boundObjectRef"):
            raise BadRequest(
                f'cannot bind a token for serviceaccount "{name}" to an object: '
                "bound object references are not supported by kubegate"
            )
        try:
            account = await self.store.get(object_key("serviceaccounts", namespace, name))
        except KeyNotFound:
            raise NotFound(
                f'serviceaccounts "{name}" not found', name=name, kind="serviceaccounts"
            ) from None
        self.accounts.remember(account)
        uid = (account.get("metadata") or {}).get("uid", "")
        token, expires = self.issuer.issue(namespace, name, uid, audiences, expiration)
        result = {
            "kind": "TokenRequest",
            "apiVersion": API_VERSION,
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now_rfc3339()},
            "spec": {
                "audiences": list(audiences),
                "expirationSeconds": expiration,
                "boundObjectRef": None,
            },
            "status": {
                "token": token,
                "expirationTimestamp": now_rfc3339(dt.datetime.fromtimestamp(expires, dt.UTC)),
            },
        }
        await send_json(ctx.response, 201, result, ctx.audit_id)

    def _expiration(self, requested: Any, name: str) -> int:
        if requested is None:
            return min(DEFAULT_EXPIRATION, self.max_expiration)
        errors = FieldErrors()
        if not isinstance(requested, int) or isinstance(requested, bool):
            errors.invalid("spec.expirationSeconds", requested, "must be an integer")
        elif requested < MIN_EXPIRATION:
            errors.invalid(
                "spec.expirationSeconds",
                requested,
                f"may not specify a duration less than {MIN_EXPIRATION} seconds",
            )
        elif requested > MAX_REQUESTABLE:
            errors.invalid(
                "spec.expirationSeconds",
                requested,
                "may not specify a duration larger than 2^32 seconds",
            )
        errors.raise_if_any("TokenRequest", name, GROUP)
        return min(int(requested), self.max_expiration)

    async def token_review(self, ctx: RequestContext) -> None:
        body = await _body(ctx)
        spec = body.get("spec") or {}
        token = spec.get("token") if isinstance(spec, dict) else None
        if not isinstance(token, str) or not token:
            raise BadRequest("token is required for TokenReview in authentication")
        audiences = _strings(spec.get("audiences"), "spec.audiences") or self.bearer.api_audiences
        status: dict[str, Any]
        try:
            accepted = self.bearer.review(token, audiences)
        except Unauthorized as exc:
            status = {"user": {}, "error": exc.message}
        else:
            status = {
                "authenticated": True,
                "user": accepted.user.to_json(),
                "audiences": list(accepted.audiences),
            }
        result = {
            "kind": "TokenReview",
            "apiVersion": API_VERSION,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
        await send_json(ctx.response, 201, result, ctx.audit_id)


async def _body(ctx: RequestContext) -> dict[str, Any]:
    decoded = decode_object(await read_body(ctx.request), ctx.request.header("content-type"))
    return decoded.obj  # type: ignore[no-any-return]


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not all(isinstance(v, str) for v in value)
    ):
        raise BadRequest(f"{path} must be a list of strings")
    return tuple(value)
