"""Authentication and authorization values and the seams between them.

Authenticator.authenticate(request) -> UserInfo | None
    None: this authenticator does not recognise the request's credential (try the next);
    raises errors.Unauthorized: a credential it owns was presented and is invalid.
Authorizer.authorize(attributes) -> Decision
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kubegate.http.types import Request

AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
MASTERS_GROUP = "system:masters"
# The ``request.state`` key under which the authenticator of a credential a browser may send
# by itself records which one decided ("session", "basic", or "x509" on a request a browser
# sent): the app then applies the CSRF and ambient-credential rules (core/csrf.py,
# core/browser_access.py) to that request.
BROWSER_CREDENTIAL = "kubegate.browser_credential"


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            data["uid"] = self.uid
        if self.extra:
            data["extra"] = {k: list(v) for k, v in self.extra.items()}
        return data

    def authenticated(self) -> UserInfo:
        """The same user with ``system:authenticated`` added (every authenticated user has it)."""
        if AUTHENTICATED_GROUP in self.groups or self.name == ANONYMOUS_USER:
            return self
        return UserInfo(self.name, self.uid, (*self.groups, AUTHENTICATED_GROUP), self.extra)


@dataclass(frozen=True, slots=True)
class Attributes:
    """What is being asked, as the authorizer sees it (kube's authorizer.Attributes)."""

    user: UserInfo
    verb: str
    resource_request: bool
    path: str = ""
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


class Authenticator(Protocol):
    def authenticate(self, request: Request) -> UserInfo | None: ...


class Authorizer(Protocol):
    def authorize(self, attributes: Attributes) -> Decision: ...


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """kube's 403 wording (apiserver endpoints/handlers/responsewriters.forbiddenMessage)."""
    user = attrs.user.name
    if not attrs.resource_request:
        message = f'forbidden: User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    else:
        resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
        subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
        scope = (
            f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        )
        message = (
            f'{subject} is forbidden: User "{user}" cannot {attrs.verb} resource "{resource}" '
            f'in API group "{attrs.api_group}" {scope}'
        )
    return f"{message}: {reason}" if reason else message
