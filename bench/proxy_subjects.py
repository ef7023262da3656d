"""What the proxy suite measures, side by side: one start function per subject.

Each subject starts its process on the server CPU (cpu1), waits until ``GET /small``
through it answers 200 and yields a :class:`Live` subject: the :class:`Endpoint` that wrk
and curl use and the process whose RSS and CPU are read. Only one subject runs at a time;
the backend nginx (cpu0) serves all of them.

=============== ====== =================================================================
direct          http   the backend itself; wrk and curl on cpu1 (the ceiling)
nginx           http   second nginx as reverse proxy (keep-alive 64, HTTP/1.1, no buffering)
nginx-tls       https  the same nginx terminating TLS (EC P-256 cert, like kubegate's)
kubectl         http   ``kubectl proxy`` as shipped (client-go's DefaultTransport)
kubectl-pooled  http   the same with ``proxy-url`` in the kubeconfig (a pooled transport)
kubegate        https  ``kubegate serve``: service proxy, admin bearer token
kubegate-mt     https  the same with MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ set
kubegate-allow  https  the same with --authorization-mode AlwaysAllow (the authz cost baseline)
python-floor    http   bench/raw_proxy.py: the least a Python proxy on uvloop + httptools does
python-floor-tls https the same terminating TLS (kubegate's transport): kubegate's ceiling
=============== ====== =================================================================
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.proxy_kubegate import PROXY_PATH, kubegate_server
from bench.proxy_load import Endpoint
from bench.proxy_procs import (
    Daemon,
    free_port,
    kubectl_daemon,
    nginx_daemon,
    proxy_config,
    wait_ready,
)


@dataclass(frozen=True, slots=True)
class Stage:
    """What every subject shares: the scratch dir, the backend and the CPU prefixes."""

    workdir: Path
    backend_port: int
    server_prefix: tuple[str, ...]  # argv prefix: run on the proxy's CPU (cpu1)
    load_prefix: tuple[str, ...]  # argv prefix: run on the load CPU (cpu0)
    profile: Path | None = None  # cProfile the (default) kubegate server into this file
    server_cpu: int | None = None  # the CPU the prefix pins to, for the busy-share check


@dataclass(frozen=True, slots=True)
class Live:
    """A running subject: where to send load, and its process (None for direct)."""

    endpoint: Endpoint
    daemon: Daemon | None


@dataclass(frozen=True, slots=True)
class Subject:
    name: str
    transport: str  # "http" or "https" between the load tool and the subject
    start: Callable[[Stage], AbstractContextManager[Live]]


@contextmanager
def _direct(stage: Stage) -> Iterator[Live]:
    # As perf-baseline.md: the load tools move to cpu1, the backend stays on cpu0.
    yield Live(
        Endpoint(f"http://127.0.0.1:{stage.backend_port}", load_prefix=stage.server_prefix), None
    )


def _nginx(tls: bool) -> Callable[[Stage], AbstractContextManager[Live]]:
    @contextmanager
    def start(stage: Stage) -> Iterator[Live]:
        name = "nginx-tls" if tls else "nginx"
        port = free_port()
        cert = self_signed_cert(stage.workdir) if tls else None
        config = proxy_config(stage.workdir, name, port, stage.backend_port, cert)
        scheme = "https" if tls else "http"
        endpoint = Endpoint(
            f"{scheme}://127.0.0.1:{port}",
            cafile=cert[0] if cert else None,
            load_prefix=stage.load_prefix,
        )
        with nginx_daemon(stage.workdir, name, config, stage.server_prefix) as daemon:
            context = _client_context(cert[0]) if cert else None
            wait_ready(daemon, endpoint.url("/small"), context=context)
            yield Live(endpoint, daemon)

    return start


def _kubectl(pooled: bool) -> Callable[[Stage], AbstractContextManager[Live]]:
    @contextmanager
    def start(stage: Stage) -> Iterator[Live]:
        name = "kubectl-pooled" if pooled else "kubectl"
        port = free_port()
        endpoint = Endpoint(f"http://127.0.0.1:{port}", load_prefix=stage.load_prefix)
        daemon = kubectl_daemon(
            stage.workdir, name, port, stage.backend_port, pooled, stage.server_prefix
        )
        with daemon:
            wait_ready(daemon, endpoint.url("/small"))
            yield Live(endpoint, daemon)

    return start


def _kubegate(
    malloc_tuned: bool, name: str = "kubegate", extra_args: tuple[str, ...] = ()
) -> Callable[[Stage], AbstractContextManager[Live]]:
    @contextmanager
    def start(stage: Stage) -> Iterator[Live]:
        with kubegate_server(
            stage.workdir / name,
            stage.backend_port,
            stage.server_prefix,
            malloc_tuned=malloc_tuned,
            profile=None if malloc_tuned or extra_args else stage.profile,
            extra_args=extra_args,
        ) as server:
            endpoint = Endpoint(
                server.url + PROXY_PATH,
                headers=tuple(server.auth_headers.items()),
                cafile=server.cafile,
                load_prefix=stage.load_prefix,
            )
            yield Live(endpoint, server.daemon)

    return start


def _floor(tls: bool) -> Callable[[Stage], AbstractContextManager[Live]]:
    @contextmanager
    def start(stage: Stage) -> Iterator[Live]:
        name = "python-floor-tls" if tls else "python-floor"
        port = free_port()
        cert = self_signed_cert(stage.workdir) if tls else None
        argv = [*stage.server_prefix, sys.executable, "-m", "bench.raw_proxy"]
        argv += ["--listen", str(port), "--upstream", str(stage.backend_port)]
        if cert:
            argv += ["--tls", str(cert[0]), str(cert[1])]
        scheme = "https" if tls else "http"
        endpoint = Endpoint(
            f"{scheme}://127.0.0.1:{port}",
            cafile=cert[0] if cert else None,
            load_prefix=stage.load_prefix,
        )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        with Daemon(name, argv, stage.workdir / f"{name}.log", env=env) as daemon:
            context = _client_context(cert[0]) if cert else None
            wait_ready(daemon, endpoint.url("/small"), context=context)
            yield Live(endpoint, daemon)

    return start


SUBJECTS = {
    s.name: s
    for s in (
        Subject("direct", "http", _direct),
        Subject("nginx", "http", _nginx(tls=False)),
        Subject("nginx-tls", "https", _nginx(tls=True)),
        Subject("kubectl", "http", _kubectl(pooled=False)),
        Subject("kubectl-pooled", "http", _kubectl(pooled=True)),
        Subject("kubegate", "https", _kubegate(malloc_tuned=False)),
        Subject("kubegate-mt", "https", _kubegate(malloc_tuned=True, name="kubegate-mt")),
        # The same token, authorized by AlwaysAllow instead of RBAC: kubegate's row against
        # this one is the cost of authentication + authorization (issue: at most +15%).
        Subject(
            "kubegate-allow",
            "https",
            _kubegate(
                malloc_tuned=False,
                name="kubegate-allow",
                extra_args=("--authorization-mode", "AlwaysAllow"),
            ),
        ),
        # What a Python proxy on kubegate's stack costs before it does anything of its own:
        # the ceiling for kubegate's rps on one core (plain, and over TLS like kubegate).
        Subject("python-floor", "http", _floor(tls=False)),
        Subject("python-floor-tls", "https", _floor(tls=True)),
    )
}


def self_signed_cert(workdir: Path) -> tuple[Path, Path]:
    """An EC P-256 certificate for 127.0.0.1 (the key type kubegate serves with)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = workdir / "nginx-tls.crt", workdir / "nginx-tls.key"
    if cert_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _client_context(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))
