"""The server's data directory: its layout, the admin identity, and the serving TLS context.

:class:`DataDir` names every file in the directory (nothing is read or created by naming
them); :func:`build_ssl_context` turns its serving certificate and CA into the listener's
TLS context. Creating and repairing the contents is
:func:`kubegate.server.datadir_setup.ensure_data_dir` (certificates:
:mod:`~kubegate.server.datadir_certs`, ``admin.kubeconfig``:
:mod:`~kubegate.server.datadir_kubeconfig`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ADMIN_GROUPS",
    "ADMIN_USER",
    "KUBECONFIG_NAME",
    "DataDir",
    "DataDirError",
    "build_ssl_context",
]

ADMIN_USER = "kubegate-admin"
ADMIN_GROUPS: tuple[str, ...] = ("system:masters",)
#: Name of the cluster, user and context kubegate writes into `admin.kubeconfig`.
KUBECONFIG_NAME = "kubegate"


class DataDirError(RuntimeError):
    """The data directory holds material kubegate cannot use and will not overwrite."""


@dataclass(frozen=True, slots=True)
class DataDir:
    """Paths of everything in a kubegate data directory."""

    root: Path
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    admin_token: Path
    admin_kubeconfig: Path
    sa_key: Path
    server_json: Path

    @property
    def kubeconfig(self) -> Path:
        """Alias of `admin_kubeconfig`, the file to hand to kubectl."""
        return self.admin_kubeconfig

    @classmethod
    def at(cls, root: Path) -> DataDir:
        """The standard layout under `root` (nothing is read or created)."""
        return cls(
            root=root,
            ca_cert=root / "ca.crt",
            ca_key=root / "ca.key",
            serving_cert=root / "serving.crt",
            serving_key=root / "serving.key",
            admin_cert=root / "admin.crt",
            admin_key=root / "admin.key",
            admin_token=root / "admin.token",
            admin_kubeconfig=root / "admin.kubeconfig",
            sa_key=root / "sa.key",
            server_json=root / "server.json",
        )


def build_ssl_context(
    datadir: DataDir,
    *,
    client_ca: Path | None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> ssl.SSLContext:
    """The server-side TLS context: TLS 1.2+, ALPN http/1.1, optional x509 client certificates.

    `cert_file`/`key_file` (kube-apiserver's --tls-cert-file/--tls-private-key-file) replace the
    generated serving certificate. Clients *may* present a certificate; one that is presented
    must chain to the data directory's CA (which signed `admin.kubeconfig`) or to `client_ca`
    (--client-ca-file) when given. Requests without a certificate fall through to the other
    authenticators, as in Kubernetes.
    """
    if (cert_file is None) != (key_file is None):
        raise DataDirError("--tls-cert-file and --tls-private-key-file must be given together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Only HTTP/1.1 is spoken; advertising it lets clients that offer h2 (browsers, Go's
    # net/http) settle on HTTP/1.1 during the handshake.
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert_file or datadir.serving_cert, key_file or datadir.serving_key)
        # The generated CA stays trusted next to an operator's client CA: its key never leaves
        # the 0700 data directory, and without it the printed admin kubeconfig would not work.
        context.load_verify_locations(cafile=datadir.ca_cert)
        if client_ca is not None:
            context.load_verify_locations(cafile=client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise DataDirError(f"cannot load TLS material: {exc}") from exc
    context.verify_mode = ssl.CERT_OPTIONAL
    return context
