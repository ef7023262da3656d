"""The kubeconfigs kubegate writes: ``admin.kubeconfig`` in the data directory, and
single-context kubeconfigs with inline credentials for anyone else (tests, tokens).

``admin.kubeconfig`` is updated in place on every start: only kubegate's own cluster, user and
context entries are touched (typically just ``server``, after a restart on a new random port),
a context whose namespace the user switched keeps it, and other clusters, users and contexts a
person added survive. Kubeconfigs are written atomically with mode 0600.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kubegate.server.atomic_files import atomic_write, write_if_changed
from kubegate.server.datadir import ADMIN_USER, KUBECONFIG_NAME, DataDir

__all__ = ["build_kubeconfig", "ensure_admin_kubeconfig", "write_kubeconfig"]

logger = logging.getLogger("kubegate.server.datadir")


def build_kubeconfig(
    *,
    server_url: str,
    ca_cert_pem: bytes | None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
    name: str = KUBECONFIG_NAME,
    user: str = ADMIN_USER,
    namespace: str = "default",
) -> dict[str, Any]:
    """A single-context kubeconfig dict with all credentials inline."""
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("a client certificate needs its key, and a key its certificate")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [_cluster_entry(name, server_url, ca_cert_pem)],
        "users": [_user_entry(user, client_cert_pem, client_key_pem, token)],
        "contexts": [_context_entry(name, name, user, namespace)],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(
    path: Path,
    *,
    server_url: str,
    ca_cert_pem: bytes | None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
    name: str = KUBECONFIG_NAME,
    user: str = ADMIN_USER,
    namespace: str = "default",
) -> Path:
    """Write `build_kubeconfig(...)` to `path` atomically with mode 0600; returns `path`."""
    config = build_kubeconfig(
        server_url=server_url,
        ca_cert_pem=ca_cert_pem,
        client_cert_pem=client_cert_pem,
        client_key_pem=client_key_pem,
        token=token,
        name=name,
        user=user,
        namespace=namespace,
    )
    atomic_write(Path(path), _yaml_bytes(config), mode=0o600)
    return Path(path)


def ensure_admin_kubeconfig(
    dirs: DataDir, server_url: str, ca_cert: bytes, admin_cert: bytes, admin_key: bytes
) -> None:
    """Create `admin.kubeconfig`, or bring kubegate's entries in it up to date."""
    cluster = _cluster_entry(KUBECONFIG_NAME, server_url, ca_cert)
    user = _user_entry(ADMIN_USER, admin_cert, admin_key, token=None)
    context = _context_entry(KUBECONFIG_NAME, KUBECONFIG_NAME, ADMIN_USER, "default")
    config = _read_kubeconfig(dirs.admin_kubeconfig)
    if config is None:
        config = build_kubeconfig(
            server_url=server_url,
            ca_cert_pem=ca_cert,
            client_cert_pem=admin_cert,
            client_key_pem=admin_key,
        )
    else:
        # Replace only kubegate's own entries, in place, and only where they differ; a context
        # whose namespace the user switched keeps it.
        _upsert(config, "clusters", cluster, update=True)
        _upsert(config, "users", user, update=True)
        _upsert(config, "contexts", context, update=False)
        config.setdefault("current-context", KUBECONFIG_NAME)
    if write_if_changed(dirs.admin_kubeconfig, _yaml_bytes(config), mode=0o600):
        logger.info("wrote admin kubeconfig %s (server %s)", dirs.admin_kubeconfig, server_url)


def _read_kubeconfig(path: Path) -> dict[str, Any] | None:
    """The kubeconfig at `path` as a dict, or None when absent or not a kubeconfig at all."""
    try:
        loaded = yaml.safe_load(path.read_bytes())
    except FileNotFoundError:
        return None
    except yaml.YAMLError:
        logger.warning("rewriting unparsable kubeconfig %s", path)
        return None
    if not isinstance(loaded, dict):
        return None
    for key in ("clusters", "users", "contexts"):
        if not isinstance(loaded.get(key) or [], list):
            return None
    return loaded


def _upsert(config: dict[str, Any], section: str, entry: dict[str, Any], *, update: bool) -> None:
    """Put `entry` into the named list `config[section]`.

    An existing entry of the same name has its fields updated when `update` is true and is left
    as the user has it otherwise; other keys in it are kept either way.
    """
    entries = config.get(section)
    if not isinstance(entries, list):
        entries = config[section] = []
    inner_key = section.removesuffix("s")  # clusters -> cluster, users -> user, ...
    for existing in entries:
        if isinstance(existing, dict) and existing.get("name") == entry["name"]:
            inner = existing.get(inner_key)
            if not isinstance(inner, dict):
                existing[inner_key] = dict(entry[inner_key])
            elif update:
                inner.update(entry[inner_key])
            return
    entries.append(entry)


def _cluster_entry(name: str, server_url: str, ca_cert_pem: bytes | None) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server_url}
    if ca_cert_pem is not None:
        cluster["certificate-authority-data"] = _b64(ca_cert_pem)
    return {"name": name, "cluster": cluster}


def _user_entry(
    name: str, cert_pem: bytes | None, key_pem: bytes | None, token: str | None
) -> dict[str, Any]:
    user: dict[str, Any] = {}
    if cert_pem is not None and key_pem is not None:
        user["client-certificate-data"] = _b64(cert_pem)
        user["client-key-data"] = _b64(key_pem)
    if token is not None:
        user["token"] = token
    return {"name": name, "user": user}


def _context_entry(name: str, cluster: str, user: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "context": {"cluster": cluster, "user": user, "namespace": namespace}}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _yaml_bytes(config: Mapping[str, Any]) -> bytes:
    text: str = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)
    return text.encode()
