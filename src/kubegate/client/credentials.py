"""The credentials of a ``ClientConfig``: request headers and the TLS context.

What client-go's transport wrappers do (``transport/round_trippers.go``, ``token_source.go``,
``plugin/pkg/client/auth/exec/exec.go``), for kubegate's own clients:

- a bearer token, from ``tokenFile`` (re-read whenever the file changes; it wins over an
  inline ``token``, as in client-go) or inline; or basic auth;
- an ``exec`` plugin (client.authentication.k8s.io/v1 or v1beta1 ``ExecCredential``): run
  non-interactively with ``KUBERNETES_EXEC_INFO`` set, under a timeout; its token and/or client
  certificate are cached until ``status.expirationTimestamp`` (for ever without one, until
  ``invalidate()``, which a caller uses after a 401);
- the TLS context: the cluster's CA (or the system store), ``insecure-skip-tls-verify``, and the
  client certificate, inline, from a file or from the plugin.

Async-safe (one plugin run at a time per event loop; concurrent callers share its result) and
thread-safe (the cached state is swapped under a lock). Failures are ``CredentialsError``,
whose text is the line to print.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import ssl
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kubegate.client.kubeconfig import ClientConfig, ExecConfig, KubeconfigError
from kubegate.http import tls_client_context

__all__ = ["Credentials", "CredentialsError"]

EXEC_TIMEOUT = 60.0  # seconds a plugin may take
_PLUGIN_DOCS = (
    "It looks like you are trying to use a client-go credential plugin that is not installed.\n"
    "\n"
    "To learn more about this feature, consult the documentation available at:\n"
    "      https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
    "#client-go-credential-plugins"
)


class CredentialsError(KubeconfigError):
    """Credentials could not be obtained (token file, exec plugin, certificates)."""


@dataclass(frozen=True, slots=True)
class _ExecResult:
    token: str | None
    cert: bytes | None
    key: bytes | None
    expires: float | None  # epoch seconds; None: until invalidated


class Credentials:
    """Headers and TLS context for requests made with one ``ClientConfig``."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        env: Mapping[str, str] | None = None,  # the plugin's base environment; None: ours
        exec_timeout: float = EXEC_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._env = env
        self._exec_timeout = exec_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._exec: _ExecResult | None = None
        self._exec_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._exec_locks = weakref.WeakKeyDictionary()
        self._file_token: tuple[tuple[int, int, int], str] | None = None  # (stat key, token)
        self._ssl: tuple[tuple[bytes | None, bytes | None], ssl.SSLContext] | None = None
        self.exec_runs = 0  # plugin runs so far (for tests and debugging)

    # -- headers -------------------------------------------------------------------------------

    async def auth_headers(self) -> list[tuple[str, str]]:
        """``Authorization`` for the next request (runs the exec plugin when due)."""
        config = self.config
        if config.exec is not None:
            result = await self._exec_credential()
            if result.token:
                return [("Authorization", f"Bearer {result.token}")]
            return []  # a certificate-only plugin: see ssl_context()
        if config.token_file:
            return [("Authorization", f"Bearer {self._read_token_file(config.token_file)}")]
        if config.token:
            return [("Authorization", f"Bearer {config.token}")]
        if config.username is not None or config.password is not None:
            pair = f"{config.username or ''}:{config.password or ''}".encode()
            return [("Authorization", "Basic " + base64.b64encode(pair).decode("ascii"))]
        return []

    def presents_certificate(self) -> bool:
        """Whether TLS connections present a client certificate (the kubeconfig's, or the
        exec plugin's: call it after ``auth_headers()``)."""
        with self._lock:
            result = self._exec
        return bool(self.config.client_cert) or (result is not None and bool(result.cert))

    def invalidate(self) -> None:
        """Forget the plugin's cached credential (the server answered 401 with it)."""
        with self._lock:
            self._exec = None

    def _read_token_file(self, path: str) -> str:
        try:
            st = os.stat(path)
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
            cached = self._file_token
            if cached is not None and cached[0] == key:
                return cached[1]
            token = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise CredentialsError(
                f'error: failed to read token file "{path}": open {path}: {reason.lower()}'
            ) from exc
        with self._lock:
            self._file_token = (key, token)
        return token

    # -- TLS -------------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for the server (None for http://). Call it after ``auth_headers()``
        so that an exec plugin's certificate is included; the same object is returned while
        nothing changed, so connection pools keyed by context identity keep their connections."""
        config = self.config
        if not config.server.startswith("https://"):
            return None
        with self._lock:
            result = self._exec
        cert, key = config.client_cert, config.client_key
        if result is not None and result.cert:
            cert, key = result.cert, result.key
        cached = self._ssl
        if cached is not None and cached[0] == (cert, key):
            return cached[1]
        context = self._build_ssl_context(cert, key)
        with self._lock:
            self._ssl = ((cert, key), context)
        return context

    def _build_ssl_context(self, cert: bytes | None, key: bytes | None) -> ssl.SSLContext:
        config = self.config
        try:
            if config.insecure:
                context = tls_client_context(verify=False)
            elif config.ca_data:
                context = tls_client_context(config.ca_data.decode("latin-1"))
            else:
                context = tls_client_context()
        except (ssl.SSLError, ValueError) as exc:
            raise CredentialsError(
                f"error: unable to load the certificate-authority of cluster "
                f'"{config.cluster_name}": {exc}'
            ) from exc
        if cert and key:
            _load_client_pair(context, cert, key, config.user_name)
        return context

    # -- exec plugins ----------------------------------------------------------------------------

    async def _exec_credential(self) -> _ExecResult:
        cached = self._valid_exec()
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        with self._lock:
            lock = self._exec_locks.get(loop)
            if lock is None:
                lock = self._exec_locks[loop] = asyncio.Lock()
        async with lock:
            cached = self._valid_exec()  # another caller may have run it while we waited
            if cached is not None:
                return cached
            assert self.config.exec is not None
            result = await self._run_plugin(self.config.exec)
            with self._lock:
                self._exec = result
            return result

    def _valid_exec(self) -> _ExecResult | None:
        with self._lock:
            result = self._exec
        if result is None:
            return None
        if result.expires is not None and self._clock() >= result.expires:
            return None
        return result

    async def _run_plugin(self, spec: ExecConfig) -> _ExecResult:
        env = dict(os.environ if self._env is None else self._env)
        env.update(spec.env)
        env["KUBERNETES_EXEC_INFO"] = json.dumps(self._exec_info(spec))
        command = spec.command
        executable = command if "/" in command else shutil.which(command, path=env.get("PATH"))
        try:
            if executable is None:
                raise FileNotFoundError(command)
            proc = await asyncio.create_subprocess_exec(
                executable,
                *spec.args,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=None,  # the plugin's messages reach the user, as with kubectl
            )
        except FileNotFoundError as exc:
            message = f"error: getting credentials: exec: executable {command} not found\n\n"
            message += _PLUGIN_DOCS
            if spec.install_hint:
                message += "\n\n" + spec.install_hint
            raise CredentialsError(message) from exc
        except OSError as exc:
            raise CredentialsError(
                f"error: getting credentials: exec: {command}: {exc.strerror or exc}"
            ) from exc
        self.exec_runs += 1
        try:
            async with asyncio.timeout(self._exec_timeout):
                stdout, _ = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CredentialsError(
                f"error: getting credentials: exec: executable {command} did not finish within "
                f"{self._exec_timeout:g}s"
            ) from None
        if proc.returncode != 0:
            raise CredentialsError(
                f"error: getting credentials: exec: executable {command} failed with exit code "
                f"{proc.returncode}"
            )
        return self._parse_exec_output(spec, stdout)

    def _exec_info(self, spec: ExecConfig) -> dict[str, Any]:
        """The ``KUBERNETES_EXEC_INFO`` document (spec.cluster only with provideClusterInfo)."""
        info: dict[str, Any] = {
            "kind": "ExecCredential",
            "apiVersion": spec.api_version,
            "spec": {"interactive": False},
        }
        if spec.provide_cluster_info:
            config = self.config
            cluster: dict[str, Any] = {"server": config.server}
            if config.tls_server_name:
                cluster["tls-server-name"] = config.tls_server_name
            if config.insecure:
                cluster["insecure-skip-tls-verify"] = True
            if config.ca_data:
                cluster["certificate-authority-data"] = base64.b64encode(config.ca_data).decode()
            if config.proxy_url:
                cluster["proxy-url"] = config.proxy_url
            if spec.cluster_config is not None:
                cluster["config"] = spec.cluster_config
            info["spec"]["cluster"] = cluster
        return info

    def _parse_exec_output(self, spec: ExecConfig, stdout: bytes) -> _ExecResult:
        def fail(detail: str) -> CredentialsError:
            return CredentialsError(f"error: getting credentials: {detail}")

        try:
            doc = json.loads(stdout)
        except ValueError as exc:
            raise fail(f"decoding stdout: {exc}") from exc
        if not isinstance(doc, dict):
            raise fail("decoding stdout: not an ExecCredential object")
        if doc.get("apiVersion") != spec.api_version or doc.get("kind") != "ExecCredential":
            raise fail(
                f"exec plugin is configured to use API version {spec.api_version}, plugin "
                f"returned version {doc.get('apiVersion')}"
            )
        status = doc.get("status")
        if not isinstance(status, dict):
            raise fail("exec plugin didn't return a status field")
        token = status.get("token") or None
        cert = status.get("clientCertificateData") or None
        key = status.get("clientKeyData") or None
        if not token and not (cert or key):
            raise fail("exec plugin didn't return a token or cert/key pair")
        if bool(cert) != bool(key):
            raise fail("exec plugin returned only certificate or key, not both")
        expires = None
        if status.get("expirationTimestamp"):
            try:
                stamp = str(status["expirationTimestamp"]).replace("Z", "+00:00")
                expires = datetime.fromisoformat(stamp).timestamp()
            except ValueError as exc:
                raise fail(f"invalid expirationTimestamp: {exc}") from exc
        return _ExecResult(
            token=str(token) if token else None,
            cert=str(cert).encode() if cert else None,
            key=str(key).encode() if key else None,
            expires=expires,
        )


def _load_client_pair(context: ssl.SSLContext, cert: bytes, key: bytes, user: str) -> None:
    """``load_cert_chain`` reads files only: write the PEMs to a private directory briefly."""
    with tempfile.TemporaryDirectory(prefix="kubegate-cert-") as tmp:
        cert_file, key_file = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert_file.write_bytes(cert)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        try:
            context.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, ValueError) as exc:
            raise CredentialsError(
                f'error: tls: failed to load the client certificate of user "{user}": {exc}'
            ) from exc
