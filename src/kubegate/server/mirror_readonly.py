"""Read-only serving of mirrored resources: every write is refused with a Status.

In mirror mode the upstream cluster owns the mirrored objects; a local write would be
undone by the next watch event or relist, so it is refused instead, after authentication
and authorization (as kube refuses a verb a resource does not support).

The answer is **405 MethodNotAllowed** — what kube-apiserver says for a verb a resource
does not serve — rather than 403, which kubectl users read as "RBAC denies me" and would
chase in RoleBindings. kubectl prints it as::

    Error from server (MethodNotAllowed): services "web" is read-only here: kubegate mirrors
    services from https://10.0.0.1:6443; make the change in that cluster

Resources that are not mirrored (ConfigMaps, Secrets, ServiceAccounts, and RBAC objects
without ``--mirror-rbac``) stay writable: they are the mirror's own — except that with
``--mirror-proxy via-apiserver`` no ServiceAccount is created and no token is issued for
one (TokenRequest, server/tokenrequest.py): the proxy impersonates the local user
upstream, so a local ``system:serviceaccount:NS:NAME`` would act in the upstream cluster as
the upstream's ServiceAccount of that name — whoever may create ServiceAccounts here would
mint upstream identities. Also a 405: the mirror does not serve that verb.
"""

from __future__ import annotations

from kubegate.api.resources import ResourceType
from kubegate.errors import MethodNotAllowed
from kubegate.server.allocators import Allocators
from kubegate.server.context import RequestContext
from kubegate.server.resource_writes import EscalationCheck
from kubegate.server.resources import ResourceHandlers
from kubegate.store.base import Store


class MirrorHandlers(ResourceHandlers):
    """``ResourceHandlers`` that refuse create/update/patch/delete on mirrored types."""

    def __init__(
        self,
        store: Store,
        allocators: Allocators,
        *,
        mirrored: tuple[ResourceType, ...],
        upstream: str,
        escalation_check: EscalationCheck | None = None,
        refuse_serviceaccounts: bool = False,
    ) -> None:
        super().__init__(store, allocators, escalation_check=escalation_check)
        self.mirrored = frozenset((rt.group, rt.plural) for rt in mirrored)
        self.upstream = upstream
        self.refuse_serviceaccounts = refuse_serviceaccounts

    def _refuse_mirrored(self, ctx: RequestContext) -> None:
        rt = ctx.resource
        if rt is None or (rt.group, rt.plural) not in self.mirrored:
            return
        name = ctx.info.name
        what = f'{rt.qualified} "{name}"' if name else rt.qualified
        verb = "is" if name else "are"
        raise MethodNotAllowed(
            f"{what} {verb} read-only here: kubegate mirrors {rt.qualified} from "
            f"{self.upstream}; make the change in that cluster",
            name=name,
            group=rt.group,
            kind=rt.plural,
        )

    async def create(self, ctx: RequestContext) -> None:
        self._refuse_mirrored(ctx)
        rt = ctx.resource
        if self.refuse_serviceaccounts and rt is not None and rt.kind == "ServiceAccount":
            raise MethodNotAllowed(
                serviceaccount_refusal(self.upstream, "serviceaccounts are not created here"),
                name=ctx.info.name,
                kind=rt.plural,
            )
        await super().create(ctx)

    async def update(self, ctx: RequestContext) -> None:
        self._refuse_mirrored(ctx)
        await super().update(ctx)

    async def patch(self, ctx: RequestContext) -> None:
        self._refuse_mirrored(ctx)
        await super().patch(ctx)

    async def delete(self, ctx: RequestContext) -> None:
        self._refuse_mirrored(ctx)
        await super().delete(ctx)

    async def deletecollection(self, ctx: RequestContext) -> None:
        self._refuse_mirrored(ctx)
        await super().deletecollection(ctx)


def serviceaccount_refusal(upstream: str, what: str) -> str:
    """Why a via-apiserver mirror refuses local ServiceAccounts and their tokens."""
    return (
        f"{what}: with --mirror-proxy via-apiserver a local ServiceAccount would act in "
        f"{upstream} as the ServiceAccount of the same name there; use a token file or OIDC "
        "for users of this server (see kubegate's docs/mirror.md)"
    )
