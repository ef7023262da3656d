"""The server's data directory: its PKI, the admin kubeconfig and the serving TLS context.

`ensure_data_dir` is idempotent. The first start creates the directory (0700) with a CA, a
serving certificate, an admin client certificate and token, a service-account signing key and
`admin.kubeconfig`. Later starts reuse all of it and repair only what is stale:

- the serving certificate is re-issued when a needed host is missing from its SANs (for example
  a new advertise address), when it expires within 30 days, or when the CA changed;
- the admin client certificate is re-issued when it expires within 30 days or the CA changed;
- the kubeconfig's kubegate entries are updated in place (typically just `server`, after a
  restart on a new random port); other clusters, users and contexts a person added survive.

Every file is replaced atomically (temporary file, fsync, rename, fsync of the directory), so a
crash leaves either the old file or the new one, never half of one. Private keys, the token and
the kubeconfig are written 0600.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import ipaddress
import json
import logging
import os
import secrets
import ssl
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kubegate.auth import pki

__all__ = [
    "ADMIN_GROUPS",
    "ADMIN_USER",
    "KUBECONFIG_NAME",
    "DataDir",
    "DataDirError",
    "build_kubeconfig",
    "build_ssl_context",
    "ensure_data_dir",
    "serving_hosts",
    "write_kubeconfig",
]

logger = logging.getLogger(__name__)

ADMIN_USER = "kubegate-admin"
ADMIN_GROUPS: tuple[str, ...] = ("system:masters",)
#: Name of the cluster, user and context kubegate writes into `admin.kubeconfig`.
KUBECONFIG_NAME = "kubegate"

# Re-issue leaf certificates this long before they expire, so a server restarted now and then
# never serves an expired certificate (kubeadm warns at the same horizon).
_RENEW_BEFORE = dt.timedelta(days=30)
_SERVER_JSON_VERSION = 1
# Serialises concurrent starts on one directory, which would otherwise each mint their own CA.
_LOCK_NAME = ".lock"


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


def ensure_data_dir(
    path: Path,
    *,
    server_url: str,
    advertise_address: str | None,
    extra_hosts: Iterable[str] = (),
) -> DataDir:
    """Create or refresh the data directory at `path` for a server reachable at `server_url`."""
    dirs = DataDir.at(Path(path))
    _make_private_dir(dirs.root)
    with _exclusive_lock(dirs.root / _LOCK_NAME):
        _ensure_contents(dirs, server_url, advertise_address, extra_hosts)
    return dirs


def _ensure_contents(
    dirs: DataDir, server_url: str, advertise_address: str | None, extra_hosts: Iterable[str]
) -> None:
    hosts = serving_hosts(server_url, advertise_address, extra_hosts)
    ca_cert, ca_key, ca_created = _ensure_ca(dirs)
    serving_cert = _ensure_serving_cert(dirs, ca_cert, ca_key, hosts, force=ca_created)
    admin_cert, admin_key = _ensure_admin_cert(dirs, ca_cert, ca_key, force=ca_created)
    if not dirs.sa_key.exists():
        _atomic_write(dirs.sa_key, pki.generate_private_key(), mode=0o600)
        logger.info("generated service-account signing key %s", dirs.sa_key)
    if not dirs.admin_token.exists():
        _atomic_write(dirs.admin_token, secrets.token_urlsafe(32).encode() + b"\n", mode=0o600)
        logger.info("generated admin token %s", dirs.admin_token)
    _ensure_kubeconfig(dirs, server_url, ca_cert, admin_cert, admin_key)

    record = {
        "version": _SERVER_JSON_VERSION,
        "serverURL": server_url,
        "advertiseAddress": advertise_address,
        "servingHosts": sorted(pki.load_cert_info(serving_cert).hosts),
        "caFingerprintSHA256": pki.fingerprint(ca_cert),
        "servingFingerprintSHA256": pki.fingerprint(serving_cert),
        "admin": {"user": ADMIN_USER, "groups": list(ADMIN_GROUPS)},
    }
    _write_if_changed(dirs.server_json, _json_bytes(record), mode=0o644)


def serving_hosts(
    server_url: str, advertise_address: str | None, extra_hosts: Iterable[str] = ()
) -> tuple[str, ...]:
    """Every host the serving certificate must name: IP addresses, then DNS names.

    The host of `server_url` is included because that is what the admin kubeconfig makes
    kubectl verify; wildcard bind addresses (0.0.0.0, ::) are left out as no client dials them.
    """
    candidates = [*pki.DEFAULT_SERVING_HOSTS]
    url_host = urlsplit(server_url).hostname
    for host in (advertise_address, url_host, *extra_hosts):
        if host and not _is_unspecified(host):
            candidates.append(host)
    dns_names, ip_addresses = pki.split_hosts(candidates)
    return (*ip_addresses, *dns_names)


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


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
    _atomic_write(Path(path), _yaml_bytes(config), mode=0o600)
    return Path(path)


def _ensure_ca(dirs: DataDir) -> tuple[bytes, bytes, bool]:
    """Load the CA, or create one when neither half exists; returns (cert, key, created)."""
    have_cert, have_key = dirs.ca_cert.exists(), dirs.ca_key.exists()
    if have_cert and have_key:
        cert, key = dirs.ca_cert.read_bytes(), dirs.ca_key.read_bytes()
        try:
            matches = pki.key_matches_cert(key, cert)
        except pki.PKIError as exc:
            raise DataDirError(f"unusable CA in {dirs.root}: {exc}") from exc
        if not matches:
            raise DataDirError(f"{dirs.ca_key} does not belong to {dirs.ca_cert}")
        return cert, key, False
    if have_cert:
        # A CA certificate without its key may be one the operator supplied; replacing it would
        # silently invalidate every credential issued from it.
        raise DataDirError(f"{dirs.ca_cert} exists but {dirs.ca_key} does not")
    # Only the key exists: a crash between writing the key and the certificate. Start over.
    cert, key = pki.generate_ca()
    _atomic_write(dirs.ca_key, key, mode=0o600)
    _atomic_write(dirs.ca_cert, cert, mode=0o644)
    logger.info("generated cluster CA %s", dirs.ca_cert)
    return cert, key, True


def _ensure_serving_cert(
    dirs: DataDir, ca_cert: bytes, ca_key: bytes, hosts: tuple[str, ...], *, force: bool
) -> bytes:
    reason = "new CA" if force else _stale_reason(dirs.serving_cert, dirs.serving_key, ca_cert)
    if reason is None:
        cert = dirs.serving_cert.read_bytes()
        info = pki.load_cert_info(cert)
        if pki.covers_hosts(info, hosts):
            return cert
        missing = sorted(set(hosts) - info.hosts)
        reason = f"new hosts {', '.join(missing)}"
    cert, key = pki.issue_serving_cert(ca_cert, ca_key, hosts=hosts)
    _atomic_write(dirs.serving_key, key, mode=0o600)
    _atomic_write(dirs.serving_cert, cert, mode=0o644)
    logger.info("issued serving certificate %s (%s)", dirs.serving_cert, reason)
    return cert


def _ensure_admin_cert(
    dirs: DataDir, ca_cert: bytes, ca_key: bytes, *, force: bool
) -> tuple[bytes, bytes]:
    reason = "new CA" if force else _stale_reason(dirs.admin_cert, dirs.admin_key, ca_cert)
    if reason is None:
        return dirs.admin_cert.read_bytes(), dirs.admin_key.read_bytes()
    cert, key = pki.issue_client_cert(ca_cert, ca_key, user=ADMIN_USER, groups=ADMIN_GROUPS)
    _atomic_write(dirs.admin_key, key, mode=0o600)
    _atomic_write(dirs.admin_cert, cert, mode=0o644)
    logger.info("issued admin client certificate %s (%s)", dirs.admin_cert, reason)
    return cert, key


def _stale_reason(cert_path: Path, key_path: Path, ca_cert: bytes) -> str | None:
    """Why the leaf certificate at `cert_path` must be re-issued, or None if it is usable."""
    if not cert_path.exists() or not key_path.exists():
        return "missing"
    cert, key = cert_path.read_bytes(), key_path.read_bytes()
    try:
        if not pki.key_matches_cert(key, cert):
            return "key does not match"
        if not pki.is_issued_by(cert, ca_cert):
            return "not issued by the current CA"
        if pki.load_cert_info(cert).expires_within(_RENEW_BEFORE):
            return "expires within 30 days"
    except pki.PKIError:
        return "unreadable"
    return None


def _ensure_kubeconfig(
    dirs: DataDir, server_url: str, ca_cert: bytes, admin_cert: bytes, admin_key: bytes
) -> None:
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
    if _write_if_changed(dirs.admin_kubeconfig, _yaml_bytes(config), mode=0o600):
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


def _json_bytes(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, indent=2) + "\n").encode()


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _make_private_dir(root: Path) -> None:
    try:
        root.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if not root.is_dir():
            raise
        return  # an existing directory keeps the mode its owner gave it
    # mkdir's mode is filtered through the umask; state the intent explicitly.
    root.chmod(0o700)


def _write_if_changed(path: Path, data: bytes, *, mode: int) -> bool:
    """Atomically write `data` unless `path` already holds exactly it; returns whether it wrote."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    _atomic_write(path, data, mode=mode)
    return True


def _atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never a mix.

    The temporary file gets its final mode before any byte is written, so a key is never
    readable by others even for an instant.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            os.fchmod(tmp.fileno(), mode)
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Persist the rename itself (POSIX: the directory entry lives in the directory's data).
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
