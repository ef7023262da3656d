"""The frozen settings of ``kubegate serve``: built from flags by the CLI, read by the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubegate.auth.oidc import OIDCConfig
from kubegate.controllers.leaderelection import ElectionConfig
from kubegate.server.limits import LimitSettings
from kubegate.server.mirror_settings import MirrorSettings
from kubegate.server.operations_settings import OperationsSettings

# Flag defaults (cli/serve_cmd.py shows them too): proxy/rewrite.py's cap and
# proxy/rewrite_memo.py's capacity.
PROXY_REWRITE_MAX_BYTES = 10 * 1024 * 1024
PROXY_REWRITE_MEMO_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AuthnSettings:
    """Authentication beyond x509 and the admin token (kube-apiserver's flags)."""

    token_auth_file: Path | None = None
    basic_auth_file: Path | None = None
    anonymous_auth: bool = False
    service_account_issuer: str = "https://kubernetes.default.svc"
    api_audiences: tuple[str, ...] = ()  # empty: the service-account issuer
    service_account_max_token_expiration: int = 48 * 3600  # seconds
    oidc: OIDCConfig | None = None
    # Browser sessions (auth/sessions.py): seconds without a request, and since sign-in.
    session_idle_timeout: float = 3600.0
    session_max_age: float = 12 * 3600.0

    @property
    def effective_api_audiences(self) -> tuple[str, ...]:
        return self.api_audiences or (self.service_account_issuer,)


@dataclass(frozen=True, slots=True)
class ServeSettings:
    bind_address: str = "127.0.0.1"
    secure_port: int = 6443
    advertise_address: str | None = None
    data_dir: Path = Path(".kubegate")
    store_url: str = ""  # "" means sqlite:<data_dir>/state.db
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    client_ca_file: Path | None = None
    service_cluster_ip_range: str = "10.96.0.0/12"
    demo: bool = False
    shutdown_grace: float = 10.0
    watch_bookmark_interval: float = 30.0
    max_request_body: int = 3 * 1024 * 1024
    run_controllers: bool = True
    # Only the replica holding the Lease kube-system/kubegate-controller-manager runs the
    # controllers (kube-controller-manager's --leader-elect); False runs them unconditionally.
    leader_elect: bool = True
    leader_election: ElectionConfig = field(default_factory=ElectionConfig)
    log_format: str = "text"
    access_log: bool = False  # one kubegate.access log line per request
    metrics_proxy_target_labels: int = 0  # >0: per-target proxy series, at most this many
    limits: LimitSettings = field(default_factory=LimitSettings)
    proxy_allow_cidrs: tuple[str, ...] = ()
    proxy_ca_file: Path | None = None
    proxy_rewrite_max_bytes: int = PROXY_REWRITE_MAX_BYTES  # of each HTML/CSS body
    proxy_rewrite_memo_bytes: int = PROXY_REWRITE_MEMO_BYTES  # rewritten bodies kept (0: none)
    apps_domain: str = ""  # --apps-domain: each service port on its own origin (server/ui/apps.py)
    apps_main_host: str = ""  # "" : localhost for *.localhost domains, else the advertise address
    authorization_mode: str = "RBAC"  # or "AlwaysAllow" (every authenticated request allowed)
    audit_log_path: str = ""  # "" off, "-" standard output, else a file path
    audit_policy_file: Path | None = None  # None: Metadata for every request
    audit_log_max_bytes: int = 100 * 1024 * 1024  # rotate past this size; 0 never rotates
    audit_log_max_backups: int = 10  # 0 keeps every backup
    audit_log_max_age_days: float = 0  # 0 keeps backups whatever their age
    authn: AuthnSettings = field(default_factory=AuthnSettings)
    mirror: MirrorSettings | None = None  # mirror mode (--upstream-kubeconfig), docs/mirror.md
    # TLS reload, restarts, proxy timeouts, audit-failure policy (docs/operations.md)
    operations: OperationsSettings = field(default_factory=OperationsSettings)

    @property
    def effective_store_url(self) -> str:
        return self.store_url or f"sqlite:{self.data_dir / 'state.db'}"
