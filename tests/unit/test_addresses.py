"""The destination guard (security.md §1.5, §1.7, §2.6; acceptance rows A5-A7, A11)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubegate.core.addresses import (
    AddressNotAllowed,
    IPClass,
    check_destination,
    classify,
    embedded_ipv4,
    is_self,
    parse_cidr,
    parse_destination_host,
    parse_ip_strict,
)
from kubegate.core.proxy_target import ProxyError

net = ipaddress.ip_network


@pytest.mark.parametrize(
    ("text", "ip_class"),
    [
        ("8.8.8.8", IPClass.PUBLIC),
        ("203.0.113.10", IPClass.PUBLIC),
        ("10.1.2.3", IPClass.PRIVATE),
        ("172.16.0.1", IPClass.PRIVATE),
        ("172.31.255.255", IPClass.PRIVATE),
        ("172.32.0.1", IPClass.PUBLIC),
        ("192.168.1.1", IPClass.PRIVATE),
        ("100.64.0.1", IPClass.PRIVATE),
        ("0.0.0.0", IPClass.UNSPECIFIED),
        ("0.1.2.3", IPClass.UNSPECIFIED),
        ("127.0.0.1", IPClass.LOOPBACK),
        ("127.255.0.9", IPClass.LOOPBACK),
        ("169.254.1.1", IPClass.LINK_LOCAL),
        ("169.254.169.254", IPClass.METADATA),
        ("224.0.0.1", IPClass.MULTICAST),
        ("239.255.255.250", IPClass.MULTICAST),
        ("255.255.255.255", IPClass.BROADCAST),
        ("240.0.0.1", IPClass.RESERVED),
        ("2001:4860::8888", IPClass.PUBLIC),
        ("2001:db8::1", IPClass.PUBLIC),
        ("fd00::1", IPClass.PRIVATE),
        ("fc00::1", IPClass.PRIVATE),
        ("::", IPClass.UNSPECIFIED),
        ("::1", IPClass.LOOPBACK),
        ("0:0:0:0:0:0:0:1", IPClass.LOOPBACK),
        ("fe80::1", IPClass.LINK_LOCAL),
        ("febf::1", IPClass.LINK_LOCAL),
        ("fec0::1", IPClass.RESERVED),
        ("fd00:ec2::254", IPClass.METADATA),
        ("ff02::1", IPClass.MULTICAST),
        ("ff05::2", IPClass.MULTICAST),
        ("100::1", IPClass.RESERVED),  # discard-only
        ("4000::1", IPClass.RESERVED),  # unassigned
        ("64:ff9b:1::1", IPClass.RESERVED),  # local-use NAT64
    ],
)
def test_classify(text: str, ip_class: IPClass) -> None:
    """Each special-purpose range gets its class."""
    assert classify(text) is ip_class


@pytest.mark.parametrize(
    ("text", "ip_class"),
    [
        ("::ffff:127.0.0.1", IPClass.LOOPBACK),  # IPv4-mapped (3.11's is_loopback says False)
        ("::ffff:7f00:1", IPClass.LOOPBACK),
        ("::ffff:169.254.169.254", IPClass.METADATA),
        ("::ffff:0.0.0.0", IPClass.UNSPECIFIED),
        ("::ffff:10.0.0.1", IPClass.PRIVATE),
        ("::ffff:8.8.8.8", IPClass.PUBLIC),
        ("::127.0.0.1", IPClass.LOOPBACK),  # IPv4-compatible
        ("::169.254.169.254", IPClass.METADATA),
        ("::ffff:0:127.0.0.1", IPClass.LOOPBACK),  # IPv4-translated
        ("64:ff9b::127.0.0.1", IPClass.LOOPBACK),  # NAT64
        ("64:ff9b::a9fe:a9fe", IPClass.METADATA),
        ("64:ff9b::8.8.8.8", IPClass.PUBLIC),
        ("2002:7f00:1::", IPClass.LOOPBACK),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", IPClass.METADATA),
        ("2002:0808:0808::1", IPClass.PUBLIC),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", IPClass.PUBLIC),  # Teredo, public ends
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", IPClass.LOOPBACK),  # Teredo client 127.0.0.1
        ("2001:0:a9fe:a9fe::", IPClass.METADATA),  # Teredo server 169.254.169.254
    ],
)
def test_classify_embedded_ipv4(text: str, ip_class: IPClass) -> None:
    """IPv6 forms that deliver to an IPv4 address are judged by that address."""
    assert classify(text) is ip_class


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::1.2.3.4", "1.2.3.4"),
        ("64:ff9b::1.2.3.4", "1.2.3.4"),
        ("2002:0102:0304::", "1.2.3.4"),
        ("::", None),
        ("::1", None),
        ("2001:db8::1.2.3.4", None),
        ("1.2.3.4", None),
    ],
)
def test_embedded_ipv4(text: str, inner: str | None) -> None:
    """embedded_ipv4 finds the IPv4 address behind mapped, compatible, NAT64 and 6to4."""
    found = embedded_ipv4(ipaddress.ip_address(text))
    assert (str(found) if found else None) == inner


# A5 and A7: every one of these is refused before any dial.
REFUSED = [
    "127.0.0.1",
    "0.0.0.0",
    "::",
    "::1",
    "169.254.169.254",
    "fe80::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
    "fd00:ec2::254",
    "ff02::1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "::127.0.0.1",
]
OBSCURE = [
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "127.1",
    "127.0.1",
    "0177.0.0.1",
    "010.0.0.1",
    "127.000.000.001",
    " 127.0.0.1",
    "127.0.0.1 ",
    "127.0.0.1\n",
    "fe80::1%eth0",
    "fe80::1%25eth0",
    "[::1]",
    "::ffff:127.0.0.01",
    "١٢٧.0.0.1",
    "127.0.0.1.",
    "127.0.0.1/32",
    "",
    "localhost",
]


@pytest.mark.parametrize("text", REFUSED + OBSCURE)
def test_check_destination_refuses(text: str) -> None:
    """Special-purpose and obscurely written addresses are 400 address not allowed (A5)."""
    with pytest.raises(AddressNotAllowed) as caught:
        check_destination(text)
    assert isinstance(caught.value, ProxyError)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        "address not allowed",
    )


@pytest.mark.parametrize("text", OBSCURE)
def test_parse_ip_strict_refuses_obscure_forms(text: str) -> None:
    """Only canonical IP text parses: nothing a resolver would read another way."""
    with pytest.raises(AddressNotAllowed):
        parse_ip_strict(text)


@pytest.mark.parametrize(
    "text",
    ["10.1.2.3", "192.168.0.10", "172.20.1.1", "100.64.3.3", "fd12::5", "8.8.8.8", "2001:db8::7"],
)
def test_check_destination_allows_pod_ranges(text: str) -> None:
    """Private and public unicast addresses pass and come back parsed."""
    assert check_destination(text) == ipaddress.ip_address(text)


def test_allow_list_re_allows_loopback() -> None:
    """An allow CIDR re-allows loopback, in its IPv4-mapped form too."""
    allow = (net("127.0.0.0/8"),)
    assert str(check_destination("127.0.0.1", allow=allow)) == "127.0.0.1"
    assert check_destination("::ffff:127.0.0.1", allow=allow).ipv4_mapped is not None  # type: ignore[union-attr]
    with pytest.raises(AddressNotAllowed):
        check_destination("::1", allow=allow)


def test_allow_list_is_exact() -> None:
    """An allow CIDR re-allows only what it covers."""
    allow = (net("127.0.0.1/32"),)
    check_destination("127.0.0.1", allow=allow)
    with pytest.raises(AddressNotAllowed):
        check_destination("127.0.0.2", allow=allow)


def test_allow_list_can_re_allow_link_local() -> None:
    """Operators can explicitly re-allow a refused range such as link-local."""
    check_destination("169.254.10.1", allow=(net("169.254.0.0/16"),))


@pytest.mark.parametrize(
    "text", ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "::ffff:0.0.0.0"]
)
def test_never_allowed_whatever_the_allow_list(text: str) -> None:
    """Unspecified, multicast and broadcast are never destinations, even under 0.0.0.0/0."""
    with pytest.raises(AddressNotAllowed):
        check_destination(text, allow=(net("0.0.0.0/0"), net("::/0")), deny_loopback=False)


def test_deny_list_beats_allow_list() -> None:
    """Deny CIDRs refuse more (Alibaba metadata in CGNAT space) and win over allow."""
    deny = (net("100.100.100.200/32"),)
    check_destination("100.100.100.199", deny=deny)
    with pytest.raises(AddressNotAllowed):
        check_destination("100.100.100.200", deny=deny)
    with pytest.raises(AddressNotAllowed):
        check_destination("::ffff:100.100.100.200", deny=deny)
    with pytest.raises(AddressNotAllowed):
        check_destination("100.100.100.200", deny=deny, allow=(net("100.64.0.0/10"),))


def test_deny_loopback_false_allows_only_loopback() -> None:
    """deny_loopback=False opens loopback (v4, v6, mapped) and nothing else."""
    for text in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        check_destination(text, deny_loopback=False)
    with pytest.raises(AddressNotAllowed):
        check_destination("169.254.169.254", deny_loopback=False)


def test_refusal_carries_the_class() -> None:
    """The exception says why, for logs, without changing the client message."""
    with pytest.raises(AddressNotAllowed) as caught:
        check_destination("::ffff:169.254.169.254")
    assert caught.value.ip_class is IPClass.METADATA
    assert str(caught.value) == "address not allowed"


@pytest.mark.parametrize(
    ("text", "network"),
    [("10.0.0.0/8", "10.0.0.0/8"), ("10.1.2.3/8", "10.0.0.0/8"), ("::1/128", "::1/128")],
)
def test_parse_cidr(text: str, network: str) -> None:
    """CIDRs parse strictly; host bits may be set, as Go's ParseCIDR allows."""
    assert parse_cidr(text) == net(network)


@pytest.mark.parametrize(
    "text", ["10.0.0.0", "10.0.0.0/33", "010.0.0.0/8", "10.0.0.0/08", "x/8", ""]
)
def test_parse_cidr_rejects(text: str) -> None:
    """Malformed CIDRs are ValueError."""
    with pytest.raises(ValueError):
        parse_cidr(text)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("10.0.0.7", ipaddress.ip_address("10.0.0.7")),
        ("fd00::7", ipaddress.ip_address("fd00::7")),
        ("node-1.example.internal", "node-1.example.internal"),
        ("Node-1.Example.", "node-1.example"),
        ("ip-10-0-0-1", "ip-10-0-0-1"),
    ],
)
def test_parse_destination_host(text: str, parsed: object) -> None:
    """Node addresses are an IP literal or a lower-cased DNS name to resolve once."""
    assert parse_destination_host(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "127.1",
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "0177.0.0.1",
        "a.b.123",
        "",
        "a b",
        "x_y.z",
        "[::1]",
        "fe80::1%eth0",
    ],
)
def test_parse_destination_host_refuses_numeric_names(text: str) -> None:
    """Names a resolver reads as IPv4 (last label numeric) are refused, not resolved."""
    with pytest.raises(AddressNotAllowed):
        parse_destination_host(text)


# -- A11: never proxy to ourselves ----------------------------------------------------------

LISTEN = [("127.0.0.1", 6443), ("10.0.0.2", 6443)]


@pytest.mark.parametrize(
    ("ip", "port", "listen", "expected"),
    [
        ("127.0.0.1", 6443, LISTEN, True),
        ("::ffff:127.0.0.1", 6443, LISTEN, True),
        ("10.0.0.2", 6443, LISTEN, True),
        ("10.0.0.2", 8080, LISTEN, False),
        ("10.0.0.3", 6443, LISTEN, False),
        ("127.0.0.5", 6443, [("0.0.0.0", 6443)], True),  # wildcard: any loopback
        ("::1", 6443, [("::", 6443)], True),
        ("0.0.0.0", 6443, [("0.0.0.0", 6443)], True),
        ("10.9.9.9", 6443, [("0.0.0.0", 6443)], False),  # unknown without local_addresses
        ("127.0.0.1", 6443, [("localhost", 6443)], True),
        ("::1", 6443, [("[::1]", 6443)], True),
        ("fe80::1", 6443, [("fe80::1%eth0", 6443)], True),
        ("not-an-ip", 6443, LISTEN, False),
    ],
)
def test_is_self(ip: str, port: int, listen: list[tuple[str, int]], expected: bool) -> None:
    """A destination equal to one of our listening sockets is ourselves (A11)."""
    assert is_self(ip, port, listen) is expected


def test_is_self_wildcard_with_local_addresses() -> None:
    """A wildcard listener is reached through the host's own interface addresses."""
    local = [ipaddress.ip_address("10.9.9.9")]
    assert is_self(
        ipaddress.ip_address("10.9.9.9"), 6443, [("0.0.0.0", 6443)], local_addresses=local
    )
    assert not is_self("10.9.9.8", 6443, [("0.0.0.0", 6443)], local_addresses=local)


# -- properties ------------------------------------------------------------------------------

ipv4s = st.ip_addresses(v=4)
ipv6s = st.ip_addresses(v=6)


@given(ipv4s)
def test_mapped_form_is_judged_like_ipv4(ip: ipaddress.IPv4Address) -> None:
    """::ffff:a.b.c.d is allowed exactly when a.b.c.d is."""
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    assert classify(mapped) is classify(ip)


@given(st.one_of(ipv4s, ipv6s))
def test_canonical_text_always_parses(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Every address in its canonical text form is accepted by parse_ip_strict."""
    assert parse_ip_strict(str(ip)) == ip


@given(st.one_of(ipv4s, ipv6s))
def test_allowed_means_not_refused_class(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """With default policy, an address passes exactly when its class is not refused."""
    try:
        check_destination(str(ip))
    except AddressNotAllowed:
        assert classify(ip).refused_by_default
    else:
        assert not classify(ip).refused_by_default
        assert not ip.is_loopback and not ip.is_link_local and not ip.is_multicast
        assert not ip.is_unspecified


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_integer_forms_never_parse(value: int) -> None:
    """Decimal and hex integer spellings of IPv4 addresses are never accepted."""
    for text in (str(value), hex(value)):
        if text.count(".") == 3:
            continue
        with pytest.raises(AddressNotAllowed):
            parse_ip_strict(text)


@given(st.text(max_size=50))
def test_check_destination_only_raises_address_not_allowed(text: str) -> None:
    """Arbitrary text is either an allowed address or AddressNotAllowed."""
    try:
        check_destination(text)
    except AddressNotAllowed:
        pass
