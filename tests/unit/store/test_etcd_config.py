"""EtcdConfig.from_url: the etcd store URL grammar."""

from __future__ import annotations

import pytest

from kubegate.store.etcd_config import EtcdConfig, TLSFiles


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("etcd://127.0.0.1:2379", EtcdConfig(("127.0.0.1:2379",))),
        ("etcd://etcd", EtcdConfig(("etcd:2379",))),
        ("etcd://a:1,b,[::1]:3", EtcdConfig(("a:1", "b:2379", "[::1]:3"))),
        ("etcd://[::1]", EtcdConfig(("[::1]:2379",))),
        ("etcd://a:1/kubegate/", EtcdConfig(("a:1",), prefix="/kubegate")),
        ("etcd://a:1/", EtcdConfig(("a:1",))),
        ("etcd://a:1?timeout=0.5", EtcdConfig(("a:1",), timeout=0.5)),
        ("etcds://a:1", EtcdConfig(("a:1",), tls=TLSFiles())),
        (
            "etcds://a:1/p?cacert=/ca.pem&cert=/c.pem&key=/k.pem",
            EtcdConfig(("a:1",), "/p", TLSFiles("/ca.pem", "/c.pem", "/k.pem")),
        ),
    ],
)
def test_good_urls(url: str, expected: EtcdConfig) -> None:
    """Each documented form parses to its endpoints, prefix, TLS files and timeout."""
    assert EtcdConfig.from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("etcd://", "endpoints"),
        ("etcd://a:1,,b:2", "endpoints"),
        ("etcd://a:x", "port"),
        ("etcd://a:0", "port"),
        ("etcd://user:pw@a:1", "client certificates"),
        ("etcd://a:1?cacert=/ca.pem", "etcds://"),
        ("etcds://a:1?cert=/c.pem", "both 'cert' and 'key'"),
        ("etcd://a:1?color=red", "unknown etcd URL option"),
        ("etcd://a:1?timeout=1&timeout=2", "twice"),
        ("etcd://a:1?timeout=", "needs a value"),
        ("etcd://a:1?timeout=soon", "not a number"),
        ("etcd://a:1?timeout=0", "positive"),
        ("etcd://a:1?timeout=inf", "positive"),
        ("etcd://[::1:2379", "IPv6"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    """Mistakes are refused at startup with a message naming the problem."""
    with pytest.raises(ValueError, match=complaint):
        EtcdConfig.from_url(url)
