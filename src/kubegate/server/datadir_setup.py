"""Creating and refreshing the data directory: ``ensure_data_dir``.

``ensure_data_dir`` is idempotent. The first start creates the directory (0700) with a CA, a
serving certificate, an admin client certificate and token, a service-account signing key and
``admin.kubeconfig``. Later starts reuse all of it and repair only what is stale:

- the serving certificate is re-issued when a needed host is missing from its SANs (for example
  a new advertise address), when it expires within 30 days, or when the CA changed;
- the admin client certificate is re-issued when it expires within 30 days or the CA changed;
- the kubeconfig's kubegate entries are updated in place (typically just ``server``, after a
  restart on a new random port); other clusters, users and contexts a person added survive.

Every file is replaced atomically (:mod:`kubegate.server.atomic_files`), so a crash leaves
either the old file or the new one, never half of one. Private keys, the token and the
kubeconfig are written 0600. ``server.json`` records what the last start served.
The certificates: :mod:`kubegate.server.datadir_certs`; the kubeconfig:
:mod:`kubegate.server.datadir_kubeconfig`.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kubegate.auth import pki
from kubegate.server.atomic_files import (
    atomic_write,
    exclusive_lock,
    make_private_dir,
    write_if_changed,
)
from kubegate.server.datadir import ADMIN_GROUPS, ADMIN_USER, DataDir
from kubegate.server.datadir_certs import (
    ensure_admin_cert,
    ensure_ca,
    ensure_serving_cert,
    serving_hosts,
)
from kubegate.server.datadir_kubeconfig import ensure_admin_kubeconfig

__all__ = ["ensure_data_dir"]

logger = logging.getLogger("kubegate.server.datadir")

_SERVER_JSON_VERSION = 1
# Serialises concurrent starts on one directory, which would otherwise each mint their own CA.
_LOCK_NAME = ".lock"


def ensure_data_dir(
    path: Path,
    *,
    server_url: str,
    advertise_address: str | None,
    extra_hosts: Iterable[str] = (),
) -> DataDir:
    """Create or refresh the data directory at `path` for a server reachable at `server_url`."""
    dirs = DataDir.at(Path(path))
    make_private_dir(dirs.root)
    with exclusive_lock(dirs.root / _LOCK_NAME):
        _ensure_contents(dirs, server_url, advertise_address, extra_hosts)
    return dirs


def _ensure_contents(
    dirs: DataDir, server_url: str, advertise_address: str | None, extra_hosts: Iterable[str]
) -> None:
    hosts = serving_hosts(server_url, advertise_address, extra_hosts)
    ca_cert, ca_key, ca_created = ensure_ca(dirs)
    serving_cert = ensure_serving_cert(dirs, ca_cert, ca_key, hosts, force=ca_created)
    admin_cert, admin_key = ensure_admin_cert(dirs, ca_cert, ca_key, force=ca_created)
    if not dirs.sa_key.exists():
        atomic_write(dirs.sa_key, pki.generate_private_key(), mode=0o600)
        logger.info("generated service-account signing key %s", dirs.sa_key)
    if not dirs.admin_token.exists():
        atomic_write(dirs.admin_token, secrets.token_urlsafe(32).encode() + b"\n", mode=0o600)
        logger.info("generated admin token %s", dirs.admin_token)
    ensure_admin_kubeconfig(dirs, server_url, ca_cert, admin_cert, admin_key)

    record = {
        "version": _SERVER_JSON_VERSION,
        "serverURL": server_url,
        "advertiseAddress": advertise_address,
        "servingHosts": sorted(pki.load_cert_info(serving_cert).hosts),
        "caFingerprintSHA256": pki.fingerprint(ca_cert),
        "servingFingerprintSHA256": pki.fingerprint(serving_cert),
        "admin": {"user": ADMIN_USER, "groups": list(ADMIN_GROUPS)},
    }
    write_if_changed(dirs.server_json, _json_bytes(record), mode=0o644)


def _json_bytes(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, indent=2) + "\n").encode()
