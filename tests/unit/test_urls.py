"""Proxy URLs built by hand: every id form, namespaces, path escaping, queries, targets."""

from __future__ import annotations

import pytest

from kubegate.client.urls import ProxyURL, UrlError, encode_path, parse_target, proxy_url

S = "https://1.2.3.4:6443"
NS = f"{S}/api/v1/namespaces"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # services: every [https:]name[:port] form
        (ProxyURL("service", "echo", "ns"), f"{NS}/ns/services/echo/proxy/"),
        (ProxyURL("service", "echo", "ns", port="http"), f"{NS}/ns/services/echo:http/proxy/"),
        (ProxyURL("service", "echo", "ns", port="8080"), f"{NS}/ns/services/echo:8080/proxy/"),
        (ProxyURL("service", "echo", "ns", https=True), f"{NS}/ns/services/https:echo:/proxy/"),
        (
            ProxyURL("service", "echo", "ns", port="https", https=True),
            f"{NS}/ns/services/https:echo:https/proxy/",
        ),
        (
            ProxyURL("service", "echo", "ns", port="443", https=True),
            f"{NS}/ns/services/https:echo:443/proxy/",
        ),
        # pods and nodes
        (ProxyURL("pod", "web-0", "team"), f"{NS}/team/pods/web-0/proxy/"),
        (ProxyURL("pod", "web-0", "team", port="8080"), f"{NS}/team/pods/web-0:8080/proxy/"),
        (ProxyURL("pod", "web-0", "team", https=True), f"{NS}/team/pods/https:web-0:/proxy/"),
        (ProxyURL("node", "worker-1", None), f"{S}/api/v1/nodes/worker-1/proxy/"),
        (
            ProxyURL("node", "worker-1", None, port="10250", https=True),
            f"{S}/api/v1/nodes/https:worker-1:10250/proxy/",
        ),
        (ProxyURL("node", "w.example.com", None), f"{S}/api/v1/nodes/w.example.com/proxy/"),
        # paths and queries
        (ProxyURL("service", "e", "ns", path="/"), f"{NS}/ns/services/e/proxy/"),
        (ProxyURL("service", "e", "ns", path="/a/b/"), f"{NS}/ns/services/e/proxy/a/b/"),
        (ProxyURL("service", "e", "ns", path="a/b"), f"{NS}/ns/services/e/proxy/a/b"),
        (ProxyURL("service", "e", "ns", path="/x?q=1"), f"{NS}/ns/services/e/proxy/x?q=1"),
        (
            ProxyURL("service", "e", "ns", path="/x?a=1&b=two&c"),
            f"{NS}/ns/services/e/proxy/x?a=1&b=two&c",
        ),
        (
            ProxyURL("service", "e", "ns", path="?only=query"),
            f"{NS}/ns/services/e/proxy/?only=query",
        ),
    ],
)
def test_proxy_url_forms(target, expected):
    """Each target renders as the API server's proxy route expects it."""
    assert proxy_url(S, target) == expected


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://h", "https://h/api/v1/namespaces/ns/services/e/proxy/"),
        ("https://h/", "https://h/api/v1/namespaces/ns/services/e/proxy/"),
        ("https://h/prefix", "https://h/prefix/api/v1/namespaces/ns/services/e/proxy/"),
        ("http://localhost:8080", "http://localhost:8080/api/v1/namespaces/ns/services/e/proxy/"),
    ],
)
def test_base_url_and_path_prefix(base, expected):
    """The base (a server with a path prefix, or a local proxy) is joined without "//"."""
    assert proxy_url(base, ProxyURL("service", "e", "ns")) == expected


@pytest.mark.parametrize(
    ("path", "encoded"),
    [
        ("/a b", "a%20b"),
        ("/caf\u00e9", "caf%C3%A9"),
        ("/already%20escaped", "already%20escaped"),
        ("/100%", "100%25"),
        ("/%zz", "%25zz"),
        ('/a"b<c>', "a%22b%3Cc%3E"),
        ("/keep:@!$&'()*+,;=-._~", "keep:@!$&'()*+,;=-._~"),
        ("/x?q=a b&r=\u00e9", "x?q=a%20b&r=%C3%A9"),
        ("/x?next=/a?b", "x?next=/a?b"),
        ("//double", "double"),
    ],
)
def test_path_escaping(path, encoded):
    """Characters a URL cannot carry are escaped; existing escapes and the query stay."""
    assert encode_path(path) == encoded


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("service/echo", "service", "echo"),
        ("svc/echo", "service", "echo"),
        ("services/echo", "service", "echo"),
        ("Service/echo", "service", "echo"),
        ("pod/web-0", "pod", "web-0"),
        ("po/web-0", "pod", "web-0"),
        ("node/n1.example.com", "node", "n1.example.com"),
        ("no/n1", "node", "n1"),
    ],
)
def test_parse_target(text, kind, name):
    """kubectl's TYPE/NAME spellings are accepted."""
    assert parse_target(text) == (kind, name)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("echo", "is not TYPE/NAME"),
        ("deployment/web", "is not TYPE/NAME"),
        ("service/", "a name is required"),
        ("service/Echo", 'invalid service name "Echo"'),
        ("service/https:echo", 'invalid service name "https:echo"'),
        ("pod/a/b", 'invalid pod name "a/b"'),
    ],
)
def test_parse_target_errors(text, message):
    """Unusable targets are refused with the reason."""
    with pytest.raises(UrlError, match=message):
        parse_target(text)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (ProxyURL("service", "e", "ns", port="0"), 'invalid port "0"'),
        (ProxyURL("service", "e", "ns", port="65536"), 'invalid port "65536"'),
        (ProxyURL("service", "e", "ns", port="080"), 'invalid port "080"'),
        (ProxyURL("service", "e", "ns", port="a:b"), 'invalid port name "a:b"'),
        (ProxyURL("service", "e", "ns", port="very-long-port-name"), "invalid port name"),
        (ProxyURL("service", "e", None), "needs a namespace"),
        (ProxyURL("service", "e", "Bad_NS"), 'invalid namespace "Bad_NS"'),
        (ProxyURL("service", "e", "ns", path="/a#frag"), "#fragment"),
    ],
)
def test_proxy_url_errors(target, message):
    """Ports, namespaces and fragments that cannot make a working URL are refused."""
    with pytest.raises(UrlError, match=message):
        proxy_url(S, target)
