"""Name, label and IP syntax checks, with Kubernetes' exact messages."""

from __future__ import annotations

import pytest

from kubegate.core import names

DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_KEY_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my-name", []),
        ("123-abc", []),
        ("a" * 63, []),
        ("a" * 64, ["must be no more than 63 characters"]),
        ("My-Name", [DNS1123_LABEL_MSG]),
        ("-name", [DNS1123_LABEL_MSG]),
        ("name-", [DNS1123_LABEL_MSG]),
        ("", [DNS1123_LABEL_MSG]),
        ("a.b", ["must not contain dots"]),
    ],
)
def test_dns1123_label(value: str, expected: list[str]) -> None:
    """RFC 1123 labels are lowercase alphanumerics and inner dashes, at most 63 long."""
    assert names.is_dns1123_label(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", []),
        ("a", []),
        ("a." * 126 + "a", []),
        ("a" * 254, ["must be no more than 253 characters"]),
        ("Example.com", [DNS1123_SUBDOMAIN_MSG]),
        ("a..b", [DNS1123_SUBDOMAIN_MSG]),
        ("a_b", [DNS1123_SUBDOMAIN_MSG]),
    ],
)
def test_dns1123_subdomain(value: str, expected: list[str]) -> None:
    """Subdomains are dot-separated labels, at most 253 long."""
    assert names.is_dns1123_subdomain(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my-svc", []),
        ("abc-123", []),
        ("1svc", [DNS1035_LABEL_MSG]),
        ("svc.x", [DNS1035_LABEL_MSG]),
    ],
)
def test_dns1035_label(value: str, expected: list[str]) -> None:
    """DNS-1035 labels (Service names) must start with a letter."""
    assert names.is_dns1035_label(value) == expected


def test_generate_name_prefix_may_end_with_dash() -> None:
    """A generateName prefix is validated as if its trailing dash were a letter."""
    assert names.name_is_dns_subdomain("web-", prefix=True) == []
    assert names.name_is_dns_subdomain("web-", prefix=False) == [DNS1123_SUBDOMAIN_MSG]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("app", []),
        ("app.kubernetes.io/name", []),
        ("My_Key.1", []),
        ("/name", ["prefix part must be non-empty"]),
        ("example.com/", ["name part must be non-empty", LABEL_KEY_NAME_MSG]),
        ("Example.com/name", ["prefix part " + DNS1123_SUBDOMAIN_MSG]),
        ("-bad", [LABEL_KEY_NAME_MSG]),
        ("a" * 64, ["name part must be no more than 63 characters"]),
    ],
)
def test_qualified_name(value: str, expected: list[str]) -> None:
    """Label keys are an optional subdomain prefix plus a 63-character name."""
    assert names.is_qualified_name(value) == expected


def test_qualified_name_with_two_slashes() -> None:
    """More than one '/' gets the whole-key message."""
    (message,) = names.is_qualified_name("a/b/c")
    assert message.startswith("a valid label key must consist of alphanumeric characters")
    assert message.endswith(
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("v1.2_3-x", []),
        ("-x", [LABEL_VALUE_MSG]),
        ("a b", [LABEL_VALUE_MSG]),
        ("a" * 64, ["must be no more than 63 characters"]),
    ],
)
def test_label_value(value: str, expected: list[str]) -> None:
    """Label values may be empty; otherwise like a label key's name part."""
    assert names.is_label_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http", []),
        ("h2c-8080", []),
        ("8080", ["must contain at least one letter (a-z)"]),
        ("a--b", ["must not contain consecutive hyphens"]),
        ("-web", ["must not begin or end with a hyphen"]),
        ("Web", ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"]),
        ("abcdefghijklmnop", ["must be no more than 15 characters"]),
    ],
)
def test_port_name(value: str, expected: list[str]) -> None:
    """IANA service names: 15 lowercase alphanumerics or '-', a letter, no '--'."""
    assert names.is_valid_port_name(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("config.yaml", []),
        ("KEY_NAME", []),
        (
            "a/b",
            [
                names.regex_error(
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    "[-._a-zA-Z0-9]+",
                    "key.name",
                    "KEY_NAME",
                    "key-name",
                )
            ],
        ),
        (".", ["must not be '.'"]),
        ("..", ["must not be '..'"]),
        ("..data", ["must not start with '..'"]),
    ],
)
def test_config_map_key(value: str, expected: list[str]) -> None:
    """ConfigMap and Secret keys are file-name safe and never '.' or '..'-prefixed."""
    assert names.is_config_map_key(value) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("system:admin", []),
        (".", ["may not be '.'"]),
        ("a/b%c", ["may not contain '/'", "may not contain '%'"]),
    ],
)
def test_path_segment_name(name: str, expected: list[str]) -> None:
    """RBAC names only need to be a usable URL path segment."""
    assert names.is_valid_path_segment_name(name) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("10.0.0.1", True),
        ("2001:db8::ffff", True),
        ("::ffff:10.0.0.1", True),
        ("010.0.0.1", False),
        ("10.0.0", False),
        ("10.0.0.256", False),
        ("fe80::1%eth0", False),
        (" 10.0.0.1", False),
        ("", False),
        ("example.com", False),
    ],
)
def test_is_valid_ip(value: str, valid: bool) -> None:
    """IP parsing is strict: no leading zeros, zones or surrounding space."""
    assert names.is_valid_ip(value) is valid


def test_ip_families() -> None:
    """IPv4-mapped IPv6 addresses count as IPv4, as Go's To4() has it."""
    assert names.is_valid_ipv4("::ffff:1.2.3.4")
    assert not names.is_valid_ipv6("::ffff:1.2.3.4")
    assert names.is_valid_ipv6("fd00::1")
    assert not names.is_valid_ipv4("fd00::1")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("10.0.0.0/8", True),
        ("10.0.0.1/24", True),
        ("fd00::/64", True),
        ("10.0.0.0/33", False),
        ("10.0.0.0", False),
    ],
)
def test_is_valid_cidr(value: str, valid: bool) -> None:
    """CIDRs need an address and an in-range prefix length."""
    assert names.is_valid_cidr(value) is valid


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.1.2.3", []),
        ("0.0.0.0", ["may not be unspecified (0.0.0.0)"]),
        ("127.0.0.1", ["may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
        ("::ffff:127.0.0.1", ["may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
        ("::1", ["may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
        ("169.254.169.254", ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]),
        ("fe80::1", ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]),
        ("224.0.0.1", ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]),
        ("ff02::1", ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]),
        ("nope", ["must be a valid IP address"]),
    ],
)
def test_special_ip_errors(value: str, expected: list[str]) -> None:
    """Endpoint IPs may not be unspecified, loopback or link-local."""
    assert names.special_ip_errors(value) == expected
