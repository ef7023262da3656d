"""``--anonymous-auth``: requests that present no credential at all become
``system:anonymous`` in group ``system:unauthenticated`` (kube's anonymous authenticator).

It sits last in the chain and is stricter than kube in one place: any ``Authorization``
header counts as a presented credential — also one with a scheme nobody here understands or
an empty bearer token — and is a 401, never anonymous. (Kube lets unknown schemes through as
anonymous; a typo in a credential should not silently downgrade a client.)
"""

from __future__ import annotations

from kubegate.auth.types import ANONYMOUS_USER, UNAUTHENTICATED_GROUP, UserInfo
from kubegate.http.types import Request

ANONYMOUS = UserInfo(ANONYMOUS_USER, groups=(UNAUTHENTICATED_GROUP,))


class AnonymousAuthenticator:
    def authenticate(self, request: Request) -> UserInfo | None:
        if request.header("authorization") is not None:
            return None
        return ANONYMOUS
