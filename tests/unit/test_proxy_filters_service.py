"""Service mode of the local proxy: the target grammar, path mapping, Location rewriting."""

from __future__ import annotations

import pytest

from kubegate.client.service_mode import (
    ServiceTarget,
    parse_service_target,
    root_location,
    upstream_path,
)

WEB = ServiceTarget("kube-system", "webapp")
PREFIX = "/api/v1/namespaces/kube-system/services/webapp/proxy"
API = frozenset({"127.0.0.1:6443"})


@pytest.mark.parametrize(
    ("text", "namespace", "service_id"),
    [
        ("kube-system/webapp", "kube-system", "webapp"),
        ("default/web:8080", "default", "web:8080"),
        ("default/web:http", "default", "web:http"),
        ("default/https:web:443", "default", "https:web:443"),
        ("default/https:web:", "default", "https:web:"),
    ],
)
def test_parse_service_target(text: str, namespace: str, service_id: str) -> None:
    """NS/NAME[:PORT], with kube's optional scheme."""
    assert parse_service_target(text) == ServiceTarget(namespace, service_id)


@pytest.mark.parametrize(
    "text",
    [
        "webapp",
        "/webapp",
        "ns/",
        "ns/a/b",
        "NS/web",
        "ns/Web",
        "ns/1web",
        "ns/web:0",
        "ns/web:99999",
        "ns/web:bad_name",
        "ns/ftp:web:80",
        "ns/a:b:c:d",
    ],
)
def test_parse_service_target_refuses(text: str) -> None:
    """Malformed targets are usage errors naming the flag."""
    with pytest.raises(ValueError, match="--service"):
        parse_service_target(text)


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        ("/", PREFIX + "/"),
        ("/api/items", PREFIX + "/api/items"),
        ("/a%20b", PREFIX + "/a%20b"),
        (PREFIX + "/x", PREFIX + "/x"),  # a link already built with the prefix
        (PREFIX, PREFIX),
        (PREFIX + "x", PREFIX + PREFIX + "x"),  # not on a segment boundary
    ],
)
def test_upstream_path(raw_path: str, expected: str) -> None:
    """Every local path goes under the service proxy prefix, once."""
    assert upstream_path(WEB, raw_path) == expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("location", PREFIX + "/login", "/login"),
        ("location", PREFIX + "/", "/"),
        ("location", PREFIX, "/"),
        ("location", PREFIX + "?next=1", "/?next=1"),
        ("content-location", PREFIX + "/doc", "/doc"),
        ("location", "https://127.0.0.1:6443" + PREFIX + "/x?y", "/x?y"),  # the API server's URL
        (
            "location",
            "https://other.example" + PREFIX + "/x",
            "https://other.example" + PREFIX + "/x",
        ),
        ("location", "/elsewhere", "/elsewhere"),
        ("location", "relative/path", "relative/path"),
        ("location", "//evil.example" + PREFIX, "//evil.example" + PREFIX),
        ("location", PREFIX + "x", PREFIX + "x"),
        ("set-cookie", PREFIX + "/login", PREFIX + "/login"),  # only URL-bearing headers
    ],
)
def test_root_location(name: str, value: str, expected: str) -> None:
    """Locations under the prefix come back rooted at /."""
    assert root_location(name, value, WEB, API) == expected
