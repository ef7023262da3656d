"""The frozen settings of ``kubegate serve``: built from flags by the CLI, read by the server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    log_format: str = "text"
    proxy_allow_cidrs: tuple[str, ...] = ()
    proxy_ca_file: Path | None = None

    @property
    def effective_store_url(self) -> str:
        return self.store_url or f"sqlite:{self.data_dir / 'state.db'}"
