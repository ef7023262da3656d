"""The destination guard: which IP addresses the proxy may connect to.

Kubernetes refuses pod and node addresses that are not global unicast (loopback, link-local,
multicast, unspecified) with 400 ``address not allowed``; it checks nothing for service
endpoints, which lets anyone who can write EndpointSlices point the apiserver anywhere
(CVE-2021-25740). kubegate checks *every* destination, after resolution, here:

* refused by default: unspecified (``0.0.0.0/8``, ``::``), loopback (``127/8``, ``::1``),
  link-local (``169.254/16``, ``fe80::/10``), cloud metadata (``169.254.169.254``,
  ``fd00:ec2::254``), multicast, broadcast, reserved (``240/4``; IPv6 outside ``2000::/3``
  and ``fc00::/7``, deprecated site-local ``fec0::/10``, local-use NAT64 ``64:ff9b:1::/48``);
* addresses that embed an IPv4 address are judged by that address: IPv4-mapped
  (``::ffff:a.b.c.d``; CPython 3.11's ``is_loopback`` misses these), IPv4-compatible
  (``::a.b.c.d``), IPv4-translated (``::ffff:0:a.b.c.d``), NAT64 (``64:ff9b::/96``), 6to4
  (``2002::/16``) and Teredo (``2001::/32``, server and client);
* allowed by default: private ranges (``10/8``, ``172.16/12``, ``192.168/16``,
  ``100.64/10``, ``fc00::/7``) — pods live there — and every other unicast address.

Operators widen the policy with allow-list CIDRs (``--proxy-allow-cidrs``: loopback for a
development cluster, say) and narrow it with deny CIDRs (a control-plane range,
``100.100.100.200``); a deny beats an allow. Unspecified, multicast and broadcast addresses
are never destinations, whatever the lists say.

Only canonical text is accepted (:func:`parse_ip_strict`): dotted-quad IPv4 without leading
zeros and RFC 4291 IPv6 without a zone. The forms ``getaddrinfo`` reads differently
(``2130706433``, ``127.1``, ``0x7f.1``, ``0177.0.0.1``) are refused, never "treated as a
hostname" (security.md §2.6 parser differential). Every refusal raises
:class:`AddressNotAllowed` (400, ``address not allowed``).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable
from typing import Final

from kubegate.core.names import is_dns1123_subdomain, is_valid_cidr, parse_ip
from kubegate.core.proxy_target import ProxyError

__all__ = [
    "AddressNotAllowed",
    "IPAddress",
    "IPClass",
    "IPNetwork",
    "check_destination",
    "classify",
    "embedded_ipv4",
    "is_self",
    "parse_cidr",
    "parse_destination_host",
    "parse_ip_strict",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ADDRESS_NOT_ALLOWED: Final = "address not allowed"


class AddressNotAllowed(ProxyError):
    """The destination may not be dialled (kube's 400 ``address not allowed``)."""

    def __init__(self, ip_class: IPClass | None = None) -> None:
        super().__init__(400, "BadRequest", ADDRESS_NOT_ALLOWED)
        self.ip_class = ip_class  # why, for logs; None when the text is not an address


class IPClass(enum.Enum):
    """What an address is, judged by the IPv4 address it embeds if it embeds one."""

    PUBLIC = "public"  # any other unicast address (Go's IsGlobalUnicast and not private)
    PRIVATE = "private"  # RFC 1918, shared 100.64/10, unique-local fc00::/7
    UNSPECIFIED = "unspecified"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    METADATA = "metadata"
    MULTICAST = "multicast"
    BROADCAST = "broadcast"
    RESERVED = "reserved"

    @property
    def refused_by_default(self) -> bool:
        return self not in (IPClass.PUBLIC, IPClass.PRIVATE)


# Never destinations: no allow-list can make these a unicast peer.
_NEVER_ALLOWED: Final = frozenset({IPClass.UNSPECIFIED, IPClass.MULTICAST, IPClass.BROADCAST})

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
_METADATA: Final = frozenset(
    {ipaddress.IPv4Address("169.254.169.254"), ipaddress.IPv6Address("fd00:ec2::254")}
)
_V4_CLASSES: Final = (
    (_V4("0.0.0.0/8"), IPClass.UNSPECIFIED),  # "this network": only a source address
    (_V4("127.0.0.0/8"), IPClass.LOOPBACK),
    (_V4("169.254.0.0/16"), IPClass.LINK_LOCAL),
    (_V4("224.0.0.0/4"), IPClass.MULTICAST),
    (_V4("255.255.255.255/32"), IPClass.BROADCAST),
    (_V4("240.0.0.0/4"), IPClass.RESERVED),
    (_V4("10.0.0.0/8"), IPClass.PRIVATE),
    (_V4("172.16.0.0/12"), IPClass.PRIVATE),
    (_V4("192.168.0.0/16"), IPClass.PRIVATE),
    (_V4("100.64.0.0/10"), IPClass.PRIVATE),
)
_V6_CLASSES: Final = (
    (_V6("::/128"), IPClass.UNSPECIFIED),
    (_V6("::1/128"), IPClass.LOOPBACK),
    (_V6("fe80::/10"), IPClass.LINK_LOCAL),
    (_V6("fec0::/10"), IPClass.RESERVED),  # deprecated site-local (RFC 3879)
    (_V6("ff00::/8"), IPClass.MULTICAST),
    (_V6("64:ff9b:1::/48"), IPClass.RESERVED),  # local-use NAT64: embedding varies (RFC 8215)
    (_V6("fc00::/7"), IPClass.PRIVATE),
    (_V6("2000::/3"), IPClass.PUBLIC),
)
# Prefixes whose last 32 bits are an IPv4 address the packet ends up at.
_EMBEDDING_V6: Final = (
    _V6("::ffff:0:0/96"),  # IPv4-mapped
    _V6("::ffff:0:0:0/96"),  # IPv4-translated (SIIT, RFC 2765)
    _V6("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052)
    _V6("::/96"),  # IPv4-compatible (deprecated), :: and ::1 excepted
)
_TEREDO: Final = _V6("2001::/32")
_SIXTOFOUR: Final = _V6("2002::/16")
_MAX_IP_TEXT: Final = 45  # the longest IPv6 text: ffff:...:ffff:255.255.255.255
# WHATWG URL: a host whose last label is a number is parsed as IPv4 (127.1, 0x7f.1, 2130706433).
_NUMERIC_LABEL_RE: Final = re.compile(r"(0[xX][0-9a-fA-F]*|[0-9]+)")


def parse_ip_strict(text: str) -> IPAddress:
    """Parse canonical IP text, refusing every form a resolver might read differently.

    Accepted: dotted-quad IPv4 without leading zeros; RFC 4291 IPv6 text (including an
    embedded dotted quad). Refused: integers, short or hex or octal IPv4 forms, whitespace,
    zone ids (``fe80::1%eth0``), brackets, non-ASCII digits.
    """
    if not text or len(text) > _MAX_IP_TEXT or not text.isascii():
        raise AddressNotAllowed()
    parsed = parse_ip(text)  # the names.py parser: no zones, no whitespace, no leading zeros
    if parsed is None:
        raise AddressNotAllowed()
    return parsed


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address delivers to (mapped, compatible, NAT64, 6to4)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip in _SIXTOFOUR:
        return ip.sixtofour
    if int(ip) <= 1:  # :: and ::1 are themselves, not IPv4-compatible 0.0.0.0 / 0.0.0.1
        return None
    for prefix in _EMBEDDING_V6:
        if ip in prefix:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: str | IPAddress) -> IPClass:
    """Classify an address (text is parsed strictly; unparsable text is refused)."""
    address = parse_ip_strict(ip) if isinstance(ip, str) else ip
    if address in _METADATA:
        return IPClass.METADATA
    if isinstance(address, ipaddress.IPv4Address):
        for network, ip_class in _V4_CLASSES:
            if address in network:
                return ip_class
        return IPClass.PUBLIC
    inner = embedded_ipv4(address)
    if inner is not None:
        return classify(inner)
    if address in _TEREDO and address.teredo is not None:
        for end in address.teredo:  # (server, client): either could be the real peer
            end_class = classify(end)
            if end_class.refused_by_default:
                return end_class
        return IPClass.PUBLIC
    for network6, ip_class in _V6_CLASSES:
        if address in network6:
            return ip_class
    return IPClass.RESERVED  # unassigned IPv6 space (100::/64 discard, 4000::/3, ...)


def check_destination(
    ip_text: str,
    *,
    allow: tuple[IPNetwork, ...] = (),
    deny: tuple[IPNetwork, ...] = (),
    deny_loopback: bool = True,
) -> IPAddress:
    """Return the parsed address if the proxy may connect to it; else AddressNotAllowed.

    ``allow`` re-allows refused ranges explicitly (loopback, link-local, reserved);
    ``deny`` refuses more (a control-plane CIDR, ``100.100.100.200``) and beats ``allow``;
    ``deny_loopback=False`` allows loopback without a CIDR (development). Both lists match
    the literal address and the IPv4 address it embeds, so ``::ffff:127.0.0.1`` is as
    allowed, or as denied, as ``127.0.0.1``. The caller connects to the returned literal.
    """
    address = parse_ip_strict(ip_text)
    ip_class = classify(address)
    if ip_class in _NEVER_ALLOWED:
        raise AddressNotAllowed(ip_class)
    forms = _forms(address)
    if any(form in network for form in forms for network in deny):
        raise AddressNotAllowed(ip_class)
    if any(form in network for form in forms for network in allow):
        return address
    if ip_class is IPClass.LOOPBACK and not deny_loopback:
        return address
    if ip_class.refused_by_default:
        raise AddressNotAllowed(ip_class)
    return address


def _forms(address: IPAddress) -> tuple[IPAddress, ...]:
    inner = embedded_ipv4(address)
    return (address,) if inner is None else (address, inner)


def parse_cidr(text: str) -> IPNetwork:
    """Parse one ``--proxy-allow-cidrs``/deny entry strictly (host bits may be set)."""
    if not text.isascii() or not is_valid_cidr(text):
        raise ValueError(f"invalid CIDR {text!r}")
    return ipaddress.ip_network(text, strict=False)


def parse_destination_host(text: str) -> IPAddress | str:
    """A node address as something safe to resolve: an IP literal, or a DNS name.

    Returns the parsed address for canonical IP text, the lower-cased name (without a
    trailing dot) for an RFC 1123 hostname, and refuses anything else — in particular names
    whose last label is numeric (``127.1``, ``0x7f.1``, ``2130706433``), which resolvers and
    browsers read as IPv4. The caller resolves a name once and checks every answer with
    :func:`check_destination` (CVE-2020-8562).
    """
    try:
        return parse_ip_strict(text)
    except AddressNotAllowed:
        pass
    name = text.lower().removesuffix(".")
    if not name or not name.isascii() or is_dns1123_subdomain(name):
        raise AddressNotAllowed()
    if _NUMERIC_LABEL_RE.fullmatch(name.rsplit(".", 1)[-1]):
        raise AddressNotAllowed()
    return name


def is_self(
    ip: str | IPAddress,
    port: int,
    listen_addresses: Iterable[tuple[str | IPAddress, int]],
    *,
    local_addresses: Iterable[IPAddress] = (),
) -> bool:
    """True when ``ip:port`` is one of the server's own listening sockets (A11: no loop).

    A wildcard listener (``0.0.0.0``/``::``) is reached through any local address: loopback
    always, and the host's interface addresses when the caller passes them as
    ``local_addresses``. A listener given by name (``localhost``) counts as loopback.
    IPv4-mapped forms compare equal to their IPv4 address.
    """
    try:
        target = _unmapped(parse_ip_strict(ip) if isinstance(ip, str) else ip)
    except AddressNotAllowed:
        return False
    local = {_unmapped(a) for a in local_addresses}
    for host, listen_port in listen_addresses:
        if listen_port != port:
            continue
        listen_ip = _listen_ip(host)
        if listen_ip is None:  # a name: only "localhost"-like names can be bound here
            if target.is_loopback:
                return True
            continue
        if listen_ip == target:
            return True
        if listen_ip.is_unspecified and (
            target.is_loopback or target.is_unspecified or target in local
        ):
            return True
    return False


def _listen_ip(host: str | IPAddress) -> IPAddress | None:
    if not isinstance(host, str):
        return _unmapped(host)
    text = host.strip("[]").split("%", 1)[0]  # getsockname() may add a zone
    parsed = parse_ip(text)
    return None if parsed is None else _unmapped(parsed)


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
