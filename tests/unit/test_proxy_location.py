"""Location, Content-Location and Refresh rewriting (semantics §2.3; security.md §2.7, A27)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubegate.core.proxy_location import rewrite_location, rewrite_refresh

PREFIX = "/api/v1/namespaces/ns/services/svc/proxy"
BACKEND = {"backend_host": "10.1.0.5:8080", "backend_scheme": "http", "proxy_prefix": PREFIX}
ORIGIN = "https://gateway.example:6443"


def rewrite(location: str, public_origin: str | None = None, **overrides: str) -> str | None:
    kwargs = {**BACKEND, **overrides}
    return rewrite_location(location, public_origin=public_origin, **kwargs)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        # kube's examples (semantics §2.3)
        ("http://10.1.0.5:8080/login", PREFIX + "/login"),
        ("/login", PREFIX + "/login"),
        ("login", "login"),
        ("https://other.example/x", "https://other.example/x"),
        # same host: query, fragment and trailing slash kept
        ("http://10.1.0.5:8080/a/b/?next=/x#top", PREFIX + "/a/b/?next=/x#top"),
        ("http://10.1.0.5:8080", PREFIX + "/"),
        ("http://10.1.0.5:8080?x=1", PREFIX + "/?x=1"),
        ("HTTP://10.1.0.5:8080/CaseKept", PREFIX + "/CaseKept"),
        ("/", PREFIX + "/"),
        ("/?a=1", PREFIX + "/?a=1"),
        ("/caf%C3%A9", PREFIX + "/caf%C3%A9"),
        ("/a%2Fb", PREFIX + "/a%2Fb"),
        # already prefixed (a prefix-aware backend): not prefixed twice
        (PREFIX + "/x", PREFIX + "/x"),
        (PREFIX, PREFIX),
        (PREFIX + "/", PREFIX + "/"),
        ("http://10.1.0.5:8080" + PREFIX + "/x", PREFIX + "/x"),
        # a string prefix is not a path prefix
        (PREFIX + "foo", PREFIX + PREFIX + "foo"),
        # relative references stay relative
        ("", ""),
        ("?page=2", "?page=2"),
        ("#frag", "#frag"),
        ("../up", "../up"),
        ("./here", "./here"),
        ("evil.com/x", "evil.com/x"),
        # foreign or different scheme / port: unchanged (relayed, never followed)
        ("http://10.1.0.5:9090/x", "http://10.1.0.5:9090/x"),
        ("https://10.1.0.5:8080/x", "https://10.1.0.5:8080/x"),
        ("http://10.1.0.6:8080/x", "http://10.1.0.6:8080/x"),
        ("https://evil.example/", "https://evil.example/"),
        ("http://10.1.0.5:8080@evil.example/", "http://10.1.0.5:8080@evil.example/"),
        ("http://user@10.1.0.5:8080/", "http://user@10.1.0.5:8080/"),
        ("mailto:a@b.c", "mailto:a@b.c"),
        ("javascript:alert(1)", "javascript:alert(1)"),
    ],
)
def test_rewrite_location(location: str, expected: str) -> None:
    """Same-host URLs move under the prefix; relative and foreign ones are left alone."""
    assert rewrite(location) == expected


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        # protocol-relative and backslash forms never become an open redirect
        ("//evil.example/x", PREFIX + "/evil.example/x"),
        ("///evil.example/x", PREFIX + "/evil.example/x"),
        ("/\\evil.example", PREFIX + "/evil.example"),
        ("\\\\evil.example", PREFIX + "/evil.example"),
        ("\\/evil.example/", PREFIX + "/evil.example/"),
        ("/%5Cevil.example", PREFIX + "/%5Cevil.example"),
        ("//10.1.0.5:8080/a", PREFIX + "/a"),  # protocol-relative to the backend itself
        ("http:\\\\10.1.0.5:8080\\a?q=\\x", PREFIX + "/a?q=\\x"),  # query left as sent
        (" //evil.example", PREFIX + "/evil.example"),
        # dot segments cannot climb out of the prefix
        ("/a/../../../../secrets", PREFIX + "/secrets"),
        (PREFIX + "/../../../other/proxy/x", PREFIX + "/api/v1/namespaces/ns/other/proxy/x"),
        ("/%2e%2e/%2e%2e/x", PREFIX + "/x"),
        ("http://10.1.0.5:8080/a/./b/../c", PREFIX + "/a/c"),
    ],
)
def test_rewrite_location_injection_safety(location: str, expected: str) -> None:
    """A27-style: nothing a backend sends becomes //host or escapes the prefix."""
    assert rewrite(location) == expected


@pytest.mark.parametrize(
    "location",
    [
        "/\t/evil.example",
        "/a\nb",
        "/a\rb",
        "/a\x00",
        "/x\x7f",
        "/%00",
        "/100%",
        "http://[::1/",
        "http://h:99999/",
    ],
)
def test_rewrite_location_drops_unrewritable(location: str) -> None:
    """Control characters, malformed escapes and bad authorities mean: drop the header."""
    assert rewrite(location) is None


@pytest.mark.parametrize(
    ("location", "backend_host", "backend_scheme", "expected"),
    [
        ("http://10.1.0.5/x", "10.1.0.5", "http", PREFIX + "/x"),  # default ports both sides
        ("http://10.1.0.5:80/x", "10.1.0.5", "http", PREFIX + "/x"),
        ("http://10.1.0.5/x", "10.1.0.5:80", "http", PREFIX + "/x"),
        ("https://10.1.0.5/x", "10.1.0.5:443", "https", PREFIX + "/x"),
        ("https://10.1.0.5/x", "10.1.0.5:80", "http", "https://10.1.0.5/x"),
        ("http://[fd00::5]:8080/x", "[fd00::5]:8080", "http", PREFIX + "/x"),
        ("http://[FD00:0::5]:8080/x", "[fd00::5]:8080", "http", PREFIX + "/x"),
        ("https://Node1.Internal.:10250/logs/", "node1.internal:10250", "https", PREFIX + "/logs/"),
        ("http://10.1.0.5:/x", "10.1.0.5:80", "http", PREFIX + "/x"),
        ("http://[fd00::5]/x", "fd00::5", "http", PREFIX + "/x"),  # unbracketed Host header
        ("http://[fd00::5]:81/x", "fd00::5", "http", "http://[fd00::5]:81/x"),
    ],
)
def test_same_host_comparison(
    location: str, backend_host: str, backend_scheme: str, expected: str
) -> None:
    """Hosts compare case-insensitively with default ports filled in and IPv6 canonical."""
    assert rewrite(location, backend_host=backend_host, backend_scheme=backend_scheme) == expected


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/login", ORIGIN + PREFIX + "/login"),
        ("http://10.1.0.5:8080/login?x=1", ORIGIN + PREFIX + "/login?x=1"),
        ("//evil.example/x", ORIGIN + PREFIX + "/evil.example/x"),
        # a backend that built an absolute URL from X-Forwarded-Host
        ("https://gateway.example:6443/login", ORIGIN + PREFIX + "/login"),
        ("https://GATEWAY.example:6443" + PREFIX + "/x", ORIGIN + PREFIX + "/x"),
        ("http://gateway.example:6443/login", "http://gateway.example:6443/login"),
        ("login", "login"),
        ("https://evil.example/", "https://evil.example/"),
    ],
)
def test_rewrite_location_on_public_origin(location: str, expected: str) -> None:
    """With a public origin, rewritten URLs are absolute on it."""
    assert rewrite(location, public_origin=ORIGIN) == expected


def test_default_port_public_origin() -> None:
    """A public origin without a port matches URLs using the scheme's default port."""
    assert rewrite("https://gw.example:443/a", public_origin="https://gw.example") == (
        "https://gw.example" + PREFIX + "/a"
    )


@pytest.mark.parametrize("origin", ["gateway.example", "ftp://x", "https://u@x", "https://"])
def test_invalid_public_origin_is_a_caller_error(origin: str) -> None:
    """A public origin must be http(s)://host[:port]."""
    with pytest.raises(ValueError):
        rewrite("/x", public_origin=origin)


@pytest.mark.parametrize(
    ("refresh", "expected"),
    [
        ("5; url=/login", "5; url=" + PREFIX + "/login"),
        ("0;URL='http://10.1.0.5:8080/a'", "0; url=" + PREFIX + "/a"),
        ('3, url="/b"', "3; url=" + PREFIX + "/b"),
        ("1; /c", "1; url=" + PREFIX + "/c"),
        ("5; url=https://evil.example/", "5; url=https://evil.example/"),
        ("5; url=//evil.example/", "5; url=" + PREFIX + "/evil.example/"),
        ("5; url=next", "5; url=next"),
        ("10", "10"),
        ("5;", "5;"),
    ],
)
def test_rewrite_refresh(refresh: str, expected: str) -> None:
    """The URL inside Refresh follows the same rules."""
    assert rewrite_refresh(refresh, public_origin=None, **BACKEND) == expected


@pytest.mark.parametrize("refresh", ["soon; url=/x", "5; url=/\t/evil", "url=/x"])
def test_rewrite_refresh_drops_unreadable(refresh: str) -> None:
    """A Refresh value that cannot be read safely is dropped."""
    assert rewrite_refresh(refresh, public_origin=None, **BACKEND) is None


# -- properties -----------------------------------------------------------------------------------

LOCATION_ALPHABET = "/\\.:?#@%2eEfF5Cabhtps[]10 \t"
locations = st.one_of(
    st.text(alphabet=LOCATION_ALPHABET, max_size=30),
    st.builds(
        lambda s: "http://10.1.0.5:8080" + s, st.text(alphabet=LOCATION_ALPHABET, max_size=20)
    ),
    st.builds(lambda s: "//" + s, st.text(alphabet=LOCATION_ALPHABET, max_size=20)),
)


@given(locations, st.sampled_from([None, ORIGIN]))
def test_never_protocol_relative(location: str, origin: str | None) -> None:
    """No rewritten value starts with '//' or a backslash form a browser reads as '//'."""
    result = rewrite(location, public_origin=origin)
    if result is None:
        return
    probe = result.strip(" ").replace("\\", "/")
    assert not probe.startswith("//")


@given(locations)
def test_rewrite_is_idempotent(location: str) -> None:
    """A rewritten value rewrites to itself (nothing is prefixed twice)."""
    once = rewrite(location)
    if once is None:
        return
    assert rewrite(once) == once


@given(locations)
def test_rewritten_paths_stay_under_the_prefix(location: str) -> None:
    """Anything rewritten to a path lives under the prefix, dot segments resolved."""
    result = rewrite(location)
    if result is None or result == location.strip(" ") or not result.startswith("/"):
        return
    path = result.split("?", 1)[0].split("#", 1)[0]
    assert path == PREFIX or path.startswith(PREFIX + "/")
    assert "/../" not in path + "/" and "/./" not in path + "/"


@given(st.text(max_size=40))
def test_rewrite_location_never_raises(location: str) -> None:
    """Arbitrary text is rewritten, left alone or dropped, never an exception."""
    rewrite(location)
    rewrite(location, public_origin=ORIGIN)
