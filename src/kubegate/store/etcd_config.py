"""The etcd store URL (``--store``), parsed once at the edge into a frozen EtcdConfig.

Grammar::

    etcd://HOST[:PORT][,HOST[:PORT]...][/PREFIX][?timeout=SECONDS]
    etcds://HOST[:PORT][,...][/PREFIX][?cacert=PATH][&cert=PATH&key=PATH][&timeout=SECONDS]

``etcds`` speaks TLS; ``cacert`` is the CA that signed the etcd server certificates (the
system roots when absent), ``cert`` and ``key`` a client certificate when etcd asks for one
(``--client-cert-auth``). The option names are etcdctl's (``--cacert``, ``--cert``,
``--key``), so a working etcdctl command line translates word for word. The port defaults to
2379; IPv6 hosts are bracketed (``[::1]:2379``). PREFIX replaces the leading ``/registry`` of
every key (default ``/registry``, kube-apiserver's own layout), so several kubegate
installations can share one etcd. ``timeout`` bounds every etcd request (default 5 s): past
it the request fails with StoreUnavailable (HTTP 503) instead of hanging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

DEFAULT_PORT = 2379
DEFAULT_PREFIX = "/registry"
DEFAULT_TIMEOUT = 5.0
_TLS_OPTIONS = ("cacert", "cert", "key")


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """PEM files for a TLS connection to etcd; all optional (system roots, no client cert)."""

    cacert: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class EtcdConfig:
    endpoints: tuple[str, ...]  # "host:port", as gRPC targets
    prefix: str = DEFAULT_PREFIX
    tls: TLSFiles | None = None  # None: plaintext
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ValueError("an etcd store needs at least one endpoint")
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError(f"etcd key prefix {self.prefix!r} must start and not end with '/'")
        if not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ValueError(
                f"etcd timeout must be a positive number of seconds, not {self.timeout}"
            )

    @classmethod
    def from_url(cls, url: str) -> EtcdConfig:
        """Parse an ``etcd://`` or ``etcds://`` store URL; ValueError says what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("etcd", "etcds"):
            raise ValueError(f"not an etcd URL: {url!r}")
        if "@" in parts.netloc:
            raise ValueError("etcd user/password auth is not supported; use client certificates")
        if parts.fragment:
            raise ValueError(f"unexpected '#' in etcd URL {url!r}")
        endpoints = tuple(_endpoint(item) for item in parts.netloc.split(","))
        options: dict[str, str] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
            if name not in (*_TLS_OPTIONS, "timeout"):
                raise ValueError(
                    f"unknown etcd URL option {name!r}; known: cacert, cert, key, timeout"
                )
            if name in options:
                raise ValueError(f"etcd URL option {name!r} given twice")
            if not value:
                raise ValueError(f"etcd URL option {name!r} needs a value")
            options[name] = value
        tls = None
        if parts.scheme == "etcds":
            tls = TLSFiles(options.get("cacert"), options.get("cert"), options.get("key"))
            if (tls.cert is None) != (tls.key is None):
                raise ValueError("etcd client TLS needs both 'cert' and 'key'")
        elif any(name in options for name in _TLS_OPTIONS):
            raise ValueError("cacert/cert/key need TLS: write 'etcds://' instead of 'etcd://'")
        try:
            timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        except ValueError:
            raise ValueError(f"etcd timeout {options['timeout']!r} is not a number") from None
        prefix = parts.path.rstrip("/") or DEFAULT_PREFIX
        return cls(endpoints, prefix, tls, timeout)


def _endpoint(item: str) -> str:
    """``host[:port]`` -> ``host:port`` (brackets kept for IPv6, as gRPC targets want)."""
    if not item:
        raise ValueError("an etcd URL needs HOST[:PORT] endpoints, e.g. etcd://127.0.0.1:2379")
    if item.startswith("["):
        host, bracket, rest = item.partition("]")
        if not bracket or len(host) < 2:
            raise ValueError(f"bad IPv6 etcd endpoint {item!r}")
        host += "]"
        port_text = rest.removeprefix(":") if rest.startswith(":") else None
        if rest and port_text is None:
            raise ValueError(f"bad etcd endpoint {item!r}")
    else:
        host, colon, port_text_or_empty = item.partition(":")
        port_text = port_text_or_empty if colon else None
        if not host or "/" in host:
            raise ValueError(f"bad etcd endpoint {item!r}")
    port = DEFAULT_PORT
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad port in etcd endpoint {item!r}")
        port = int(port_text)
    return f"{host}:{port}"
