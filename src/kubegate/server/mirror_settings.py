"""The frozen settings of mirror mode (``kubegate serve --upstream-kubeconfig``), built by the
CLI from its flags and the upstream kubeconfig; see docs/mirror.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from kubegate.client.kubeconfig import ClientConfig
from kubegate.core.impersonation_policy import ImpersonationDenyList

DIRECT: Final = "direct"  # the local proxy dials endpoint IPs from the mirrored objects
VIA_APISERVER: Final = "via-apiserver"  # the upstream's own proxy subresource, impersonating
PROXY_MODES: Final = (DIRECT, VIA_APISERVER)


@dataclass(frozen=True, slots=True)
class MirrorSettings:
    upstream: ClientConfig
    proxy_mode: str = DIRECT
    rbac: bool = False  # mirror Roles/RoleBindings/ClusterRoles/ClusterRoleBindings too
    resync_period: float = 0.0  # seconds between full relists; 0: only when needed
    backoff_initial: float = 0.8  # client-go's reflector backoff
    backoff_max: float = 30.0
    watch_timeout: float = 300.0  # each watch asks for 1-2x this (client-go's 5-10 min)
    # A watch that sends nothing, not even a BOOKMARK, for this long is dead: watch again.
    # kube-apiserver's watch cache sends a bookmark every minute (kubegate every 30 s), so
    # two missed bookmarks plus slack.
    watch_idle_timeout: float = 2 * 60.0 + 15.0
    # via-apiserver: local identities never impersonated upstream (system:masters by default)
    impersonation_deny: ImpersonationDenyList = field(default_factory=ImpersonationDenyList)

    @property
    def upstream_name(self) -> str:
        """How messages name the upstream: its server URL."""
        return self.upstream.server
