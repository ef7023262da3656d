"""A resolved kubeconfig: ``ClientConfig`` (everything a client needs to reach one API
server), its ``ExecConfig`` credential plugin, and ``KubeconfigError``.

They are produced by :func:`kubegate.client.kubeconfig_loader.load_client_config`, which
follows kubectl's rules so that a kubeconfig means the same thing to kubegate as to kubectl.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubegate.client.kubeconfig_validation import EXEC_API_VERSIONS
from kubegate.core.forward_proxy import ForwardProxy

__all__ = ["IN_CLUSTER_ROOT", "ClientConfig", "ExecConfig", "KubeconfigError"]

# Where client-go's in-cluster config finds the service-account token, CA and namespace.
IN_CLUSTER_ROOT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeconfigError(Exception):
    """The kubeconfig cannot be used; ``str()`` is the whole message, as kubectl prints it."""


@dataclass(frozen=True, slots=True)
class ExecConfig:
    """An ``exec`` credential plugin (client.authentication.k8s.io/v1 or v1beta1)."""

    command: str  # resolved against the kubeconfig's directory when it contains a "/"
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = EXEC_API_VERSIONS[0]
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = ""  # parsed, not acted on: kubegate never runs plugins on a TTY
    cluster_config: Any = None  # the cluster's "client.authentication.k8s.io/exec" extension


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a client needs to talk to one API server, resolved from a kubeconfig."""

    server: str  # scheme://host[:port][/path], no query, no trailing slash
    ca_data: bytes | None  # PEM
    insecure: bool
    tls_server_name: str | None
    client_cert: bytes | None  # PEM
    client_key: bytes | None  # PEM
    token: str | None
    token_file: str | None  # absolute; re-read when it changes
    username: str | None
    password: str | None
    exec: ExecConfig | None
    proxy_url: str | None
    namespace: str
    context: str
    cluster_name: str
    user_name: str
    host_as_written: str  # the cluster's server as kubectl's REST config holds it
    # Dial the server through this: proxy-url, else HTTPS_PROXY/HTTP_PROXY less NO_PROXY.
    proxy: ForwardProxy | None = None
