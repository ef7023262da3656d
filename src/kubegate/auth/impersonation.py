"""Impersonation: ``Impersonate-User``, ``-Group``, ``-Uid`` and ``-Extra-<key>`` headers
(kubectl ``--as``, ``--as-group``, ``--as-uid``), as kube's ``WithImpersonation`` filter.

Each requested attribute is one authorization check of verb ``impersonate`` for the
*authenticated* user, in kube's order and with kube's attributes::

    Impersonate-User: bob                   users "bob"                  (group "")
    Impersonate-User: system:serviceaccount:NS:SA
                                            serviceaccounts "SA" in NS   (group "")
    Impersonate-Group: g   (each)           groups "g"                   (group "")
    Impersonate-Extra-<key>: v   (each)     userextras/<key> "v"         (authentication.k8s.io)
    Impersonate-Uid: u                      uids "u"                     (authentication.k8s.io)

The first denial is a 403 with kube's message (``users "bob" is forbidden: User "alice"
cannot impersonate resource "users" in API group "" at the cluster scope``). Groups, extra or
uid without a user is refused (kube answers that with a 500; we answer 400, same message).
The new identity gets kube's groups: a ServiceAccount with no groups asked gets its fixed
ones; everyone but ``system:anonymous`` gets ``system:authenticated`` unless
``system:authenticated`` or ``system:unauthenticated`` was asked for; anonymous gets
``system:unauthenticated``. Every ``Impersonate-*`` header is removed from the request
before it goes further (the proxy strips them too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from kubegate.auth import serviceaccount
from kubegate.auth.types import (
    ANONYMOUS_USER,
    AUTHENTICATED_GROUP,
    UNAUTHENTICATED_GROUP,
    Attributes,
    Authorizer,
    UserInfo,
    forbidden_message,
)
from kubegate.errors import BadRequest, Forbidden
from kubegate.http.types import Request

USER_HEADER = "impersonate-user"
GROUP_HEADER = "impersonate-group"
UID_HEADER = "impersonate-uid"
EXTRA_PREFIX = "impersonate-extra-"
HEADER_PREFIX = "impersonate-"
AUTHENTICATION_GROUP = "authentication.k8s.io"


@dataclass(frozen=True, slots=True)
class Requested:
    """What the Impersonate-* headers ask to become."""

    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)


def requested(headers: Sequence[tuple[str, str]]) -> Requested | None:
    """The impersonation asked for by these (lower-case named) headers, None if none."""
    user, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for name, value in headers:
        if name == USER_HEADER and not user:
            user = value
        elif name == UID_HEADER and not uid:
            uid = value
        elif name == GROUP_HEADER:
            groups.append(value)
        elif name.startswith(EXTRA_PREFIX):
            # kube's unescapeExtraKey: keys are percent-encoded to carry '/' and the like
            extra.setdefault(unquote(name[len(EXTRA_PREFIX) :]), []).append(value)
    if not user:
        if groups or extra or uid:
            raise BadRequest(
                "requested impersonation of groups, extra or uid without impersonating a user"
            )
        return None
    return Requested(user, tuple(groups), uid, {k: tuple(v) for k, v in extra.items()})


def checks(asked: Requested, actor: UserInfo) -> list[Attributes]:
    """The ``impersonate`` authorizations ``actor`` needs, in kube's order."""

    def ask(
        resource: str, name: str, group: str = "", namespace: str = "", sub: str = ""
    ) -> Attributes:
        return Attributes(
            user=actor,
            verb="impersonate",
            resource_request=True,
            namespace=namespace,
            api_group=group,
            api_version="v1",
            resource=resource,
            subresource=sub,
            name=name,
        )

    account = serviceaccount.split_username(asked.user)
    needed = [
        ask("serviceaccounts", account[1], namespace=account[0])
        if account
        else ask("users", asked.user)
    ]
    needed += [ask("groups", g) for g in asked.groups]
    needed += [
        ask("userextras", v, AUTHENTICATION_GROUP, sub=key)
        for key, values in asked.extra.items()
        for v in values
    ]
    if asked.uid:
        needed.append(ask("uids", asked.uid, AUTHENTICATION_GROUP))
    return needed


def impersonated_user(asked: Requested) -> UserInfo:
    """The identity the request continues as (kube's group rules)."""
    groups = list(asked.groups)
    account = serviceaccount.split_username(asked.user)
    if account and not groups:
        groups = list(serviceaccount.groups(account[0]))
    if asked.user == ANONYMOUS_USER:
        if UNAUTHENTICATED_GROUP not in groups:
            groups.append(UNAUTHENTICATED_GROUP)
    elif AUTHENTICATED_GROUP not in groups and UNAUTHENTICATED_GROUP not in groups:
        groups.append(AUTHENTICATED_GROUP)
    return UserInfo(asked.user, asked.uid, tuple(groups), dict(asked.extra))


def impersonate(request: Request, user: UserInfo, authorizer: Authorizer) -> UserInfo:
    """The app's impersonation step: the user to continue as (``user`` if none asked)."""
    if not any(name.startswith(HEADER_PREFIX) for name, _ in request.headers):
        return user
    asked = requested(request.headers)
    request.headers[:] = [(k, v) for k, v in request.headers if not k.startswith(HEADER_PREFIX)]
    if asked is None:
        return user
    for attrs in checks(asked, user):
        decision = authorizer.authorize(attrs)
        if not decision.allowed:
            raise Forbidden(
                forbidden_message(attrs, decision.reason),
                name=attrs.name,
                group=attrs.api_group,
                kind=attrs.resource,
            )
    return impersonated_user(asked)
