"""HTTPS to a ``kubegate serve`` process as one user, identified by a client certificate
(the admin's, or a new user's signed by the server's CA): JSON in, ``(status, JSON)`` out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from integration.api_kit import Api
from kubegate.auth.pki import issue_client_cert
from serverkit import ServerProcess


class CertClient:
    """Requests with one client certificate."""

    def __init__(self, srv: ServerProcess, cert: Path, key: Path) -> None:
        self.api = Api(srv, cert=(cert, key))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request; ``body`` is sent as JSON and the answer decoded from JSON."""
        reply = self.api.request(method, path, body, content_type=content_type, headers=headers)
        return reply.status, reply.json()

    def create(self, path: str, obj: dict[str, Any], **kwargs: Any) -> tuple[int, Any]:
        return self.request("POST", path, obj, **kwargs)


def admin_client(srv: ServerProcess) -> CertClient:
    """The admin (system:masters) of ``srv``."""
    return CertClient(srv, srv.data_dir / "admin.crt", srv.data_dir / "admin.key")


def user_client(srv: ServerProcess, name: str, home: Path) -> CertClient:
    """User ``name`` (no groups beyond system:authenticated), its key pair written to ``home``."""
    cert, key = issue_client_cert(
        (srv.data_dir / "ca.crt").read_bytes(), (srv.data_dir / "ca.key").read_bytes(), user=name
    )
    (home / f"{name}.crt").write_bytes(cert)
    (home / f"{name}.key").write_bytes(key)
    return CertClient(srv, home / f"{name}.crt", home / f"{name}.key")
