"""Which forward proxy a client dials the API server through, decided as kubectl decides it.

Two sources, never combined (client-go ``transport/cache.go``):

- the kubeconfig cluster's ``proxy-url``, used for every request to that cluster
  (``NO_PROXY`` does not apply to it);
- else Go's ``http.ProxyFromEnvironment`` (``golang.org/x/net/http/httpproxy``):
  ``HTTPS_PROXY`` for an ``https://`` server, ``HTTP_PROXY`` for ``http://`` (upper case
  first, then lower case; an empty value counts as unset), except when the server's host is
  ``localhost`` or a loopback address, or matches ``NO_PROXY``.

A proxy URL is ``http://``, ``https://`` (TLS to the proxy, then CONNECT) or ``socks5://``
(the proxy resolves the server's name, as Go's SOCKS5 dialer does), with optional
``user:password@`` credentials; a missing port means 80, 443 or 1080. Pure: no IO, no
``os.environ`` (the caller passes the environment).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import unquote, urlsplit

__all__ = ["ForwardProxy", "ProxyURLError", "parse_proxy_url", "proxy_from_environment"]

ProxyScheme = Literal["http", "https", "socks5"]
DEFAULT_PORTS: Final[dict[str, int]] = {"http": 80, "https": 443, "socks5": 1080}


class ProxyURLError(ValueError):
    """A proxy URL kubectl would refuse; ``str()`` is the reason, never the URL itself (it
    may hold a password)."""


@dataclass(frozen=True, slots=True)
class ForwardProxy:
    """A forward proxy to open connections through; the credentials never appear in repr."""

    scheme: ProxyScheme
    host: str  # a name or an IP literal, without brackets
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """``host:port`` as Go prints a dial address (IPv6 in brackets); no credentials."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def display(self) -> str:
        """The proxy URL for messages and logs, credentials left out."""
        return f"{self.scheme}://{self.address}"


def parse_proxy_url(url: str) -> ForwardProxy:
    """A ``proxy-url`` value -> ``ForwardProxy`` (``ProxyURLError`` with client-go's text)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ProxyURLError("could not parse it (a bad port?)") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ProxyURLError(f'unsupported scheme "{scheme}", must be http, https, or socks5')
    host = parts.hostname
    if not host:
        raise ProxyURLError("it has no host")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return ForwardProxy(
        scheme=scheme,  # type: ignore[arg-type]  # checked against DEFAULT_PORTS above
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        username=username,
        password=password,
    )


def proxy_from_environment(server_url: str, env: Mapping[str, str]) -> str | None:
    """The proxy URL Go's ``ProxyFromEnvironment`` picks for ``server_url``, or None."""
    server = urlsplit(server_url)
    if server.scheme == "https":
        chosen = _env_any(env, "HTTPS_PROXY", "https_proxy")
    elif server.scheme == "http":
        chosen = _env_any(env, "HTTP_PROXY", "http_proxy")
    else:
        return None
    if not chosen or not server.hostname:
        return None
    try:
        port = str(server.port or DEFAULT_PORTS[server.scheme])
    except ValueError:
        return None
    if not _use_proxy(server.hostname.lower(), port, _env_any(env, "NO_PROXY", "no_proxy")):
        return None
    return _with_scheme(chosen)


def _env_any(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = env.get(name, "")
        if value:
            return value
    return ""


def _with_scheme(proxy: str) -> str:
    """httpproxy's ``parseProxy``: a value without a usable scheme is read as ``http://``."""
    scheme = proxy.partition("://")[0].lower() if "://" in proxy else ""
    return proxy if scheme in DEFAULT_PORTS else "http://" + proxy


def _use_proxy(host: str, port: str, no_proxy: str) -> bool:
    """httpproxy's ``useProxy``: False for localhost, loopback and ``NO_PROXY`` matches."""
    if host == "localhost":
        return False
    ip = _ip(host)
    if ip is not None and ip.is_loopback:
        return False
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return False
        if _matches(entry, host, port, ip):
            return False
    return True


def _matches(
    entry: str, host: str, port: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
) -> bool:
    """One ``NO_PROXY`` entry: a CIDR, an IP or a domain, each with an optional ``:port``."""
    if "/" in entry:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
        return ip is not None and ip.version == network.version and ip in network
    entry_host, entry_port = _split_host_port(entry)
    if not entry_host:
        return False  # ":80" and the like: malformed, ignored as Go ignores it
    entry_ip = _ip(entry_host)
    if entry_ip is not None:
        return ip is not None and ip == entry_ip and entry_port in ("", port)
    if entry_host.startswith("*."):
        entry_host = entry_host[1:]
    exact = not entry_host.startswith(".")
    suffix = entry_host if not exact else "." + entry_host
    # "example.com" matches example.com and every subdomain; ".example.com" only subdomains
    if host.endswith(suffix) or (exact and host == entry_host):
        return entry_port in ("", port)
    return False


def _split_host_port(entry: str) -> tuple[str, str]:
    """``host:port``, ``[v6]:port`` or a bare host (an IPv6 literal stays whole)."""
    if entry.startswith("["):
        close = entry.find("]")
        if close > 0 and entry[close + 1 : close + 2] == ":" and entry[close + 2 :].isdigit():
            return entry[1:close], entry[close + 2 :]
        return entry.strip("[]"), ""
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, port
    return entry, ""


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
