"""Which forward proxy the client uses: proxy-url parsing, Go's ProxyFromEnvironment rules
(HTTPS_PROXY/HTTP_PROXY/NO_PROXY) and how a kubeconfig chooses between them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubegate.client.kubeconfig import ClientConfig, KubeconfigError
from kubegate.client.kubeconfig_loader import load_client_config
from kubegate.core.forward_proxy import (
    ForwardProxy,
    ProxyURLError,
    parse_proxy_url,
    proxy_from_environment,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://proxy:3128", ForwardProxy("http", "proxy", 3128)),
        ("http://proxy", ForwardProxy("http", "proxy", 80)),
        ("https://proxy", ForwardProxy("https", "proxy", 443)),
        ("socks5://proxy", ForwardProxy("socks5", "proxy", 1080)),
        ("HTTP://Proxy:8080", ForwardProxy("http", "proxy", 8080)),
        ("http://[::1]:3128", ForwardProxy("http", "::1", 3128)),
        ("http://al%40ice:p%3Ass@proxy:1", ForwardProxy("http", "proxy", 1, "al@ice", "p:ss")),
        ("socks5://bob@proxy:1", ForwardProxy("socks5", "proxy", 1, "bob", None)),
    ],
)
def test_proxy_urls(url: str, expected: ForwardProxy) -> None:
    """Scheme, host, default port and percent-decoded credentials come out of a proxy URL."""
    parsed = parse_proxy_url(url)
    assert (parsed, parsed.username, parsed.password) == (
        expected,
        expected.username,
        expected.password,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://proxy:21", 'unsupported scheme "ftp", must be http, https, or socks5'),
        ("socks4://proxy:1080", 'unsupported scheme "socks4", must be http, https, or socks5'),
        ("proxy:3128", 'unsupported scheme "proxy", must be http, https, or socks5'),
        ("http://:3128", "it has no host"),
        ("http://u:secret@proxy:port", "could not parse it (a bad port?)"),
    ],
)
def test_bad_proxy_urls(url: str, message: str) -> None:
    """An unusable proxy URL is refused with client-go's reason, never echoing the URL."""
    with pytest.raises(ProxyURLError) as info:
        parse_proxy_url(url)
    assert str(info.value) == message


def test_credentials_stay_out_of_repr() -> None:
    """A proxy's repr and display name never carry its password."""
    proxy = parse_proxy_url("http://alice:s3cret@proxy:3128")
    assert "s3cret" not in repr(proxy) and "s3cret" not in proxy.display
    assert proxy.display == "http://proxy:3128"


ENV = {"HTTPS_PROXY": "http://sp:1", "HTTP_PROXY": "http://p:2"}


@pytest.mark.parametrize(
    ("server", "env", "expected"),
    [
        ("https://api.example.com", ENV, "http://sp:1"),
        ("http://api.example.com", ENV, "http://p:2"),
        ("https://api.example.com", {"https_proxy": "socks5://s:3"}, "socks5://s:3"),
        ("https://api.example.com", {"HTTPS_PROXY": "", "https_proxy": "http://l:4"}, "http://l:4"),
        ("https://api.example.com", {"HTTPS_PROXY": "sp:1"}, "http://sp:1"),
        ("https://api.example.com", {"HTTP_PROXY": "http://p:2"}, None),
        ("https://localhost:6443", ENV, None),
        ("https://127.0.0.5:6443", ENV, None),
        ("https://[::1]:6443", ENV, None),
        ("https://10.0.0.1:6443", ENV, "http://sp:1"),
    ],
)
def test_proxy_from_environment(server: str, env: dict[str, str], expected: str | None) -> None:
    """HTTPS_PROXY for https servers, HTTP_PROXY for http, lower case as fallback, never for
    localhost or loopback addresses."""
    assert proxy_from_environment(server, env) == expected


@pytest.mark.parametrize(
    ("server", "no_proxy", "proxied"),
    [
        ("https://api.example.com", "example.com", False),
        ("https://example.com", "example.com", False),
        ("https://api.example.com", ".example.com", False),
        ("https://example.com", ".example.com", True),
        ("https://api.example.com", "*.example.com", False),
        ("https://notexample.com", "example.com", True),
        ("https://api.example.com:6443", "example.com:6443", False),
        ("https://api.example.com:6443", "example.com:443", True),
        ("https://api.example.com", "example.com:443", False),
        ("https://10.1.2.3", "10.0.0.0/8", False),
        ("https://11.1.2.3", "10.0.0.0/8", True),
        ("https://10.1.2.3:6443", "10.1.2.3", False),
        ("https://10.1.2.3:6443", "10.1.2.3:6443", False),
        ("https://10.1.2.3:6443", "10.1.2.3:443", True),
        ("https://[fd00::1]:6443", "[fd00::1]:6443", False),
        ("https://[fd00::1]:6443", "fd00::/8", False),
        ("https://API.Example.com", " other.org , EXAMPLE.com ", False),
        ("https://anything.org", "*", False),
        ("https://anything.org", ":80,,", True),
    ],
)
def test_no_proxy(server: str, no_proxy: str, proxied: bool) -> None:
    """NO_PROXY entries (domains and their subdomains, .suffixes, IPs, CIDRs, optional ports,
    ``*``) exclude a server exactly as Go's httpproxy does."""
    env = {"HTTPS_PROXY": "http://sp:1", "NO_PROXY": no_proxy}
    assert (proxy_from_environment(server, env) is not None) is proxied


def _kubeconfig(tmp_path: Path, cluster: dict[str, object]) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kc"
    path.write_text(json.dumps(doc))
    return str(path)


def _load(kubeconfig: str, env: dict[str, str]) -> ClientConfig:
    return load_client_config(
        kubeconfig=kubeconfig,
        context=None,
        cluster=None,
        user=None,
        namespace=None,
        env=env,
        cwd=Path("/"),
    )


def test_kubeconfig_proxy_url_wins_over_the_environment(tmp_path: Path) -> None:
    """A cluster's proxy-url is used even where HTTPS_PROXY and NO_PROXY say otherwise."""
    kc = _kubeconfig(tmp_path, {"server": "https://api.example.com", "proxy-url": "socks5://s"})
    config = _load(kc, {"HTTPS_PROXY": "http://other:1", "NO_PROXY": "*"})
    assert config.proxy == ForwardProxy("socks5", "s", 1080)


def test_kubeconfig_without_proxy_url_takes_the_environment(tmp_path: Path) -> None:
    """Without proxy-url the environment's proxy applies, and NO_PROXY can lift it."""
    kc = _kubeconfig(tmp_path, {"server": "https://api.example.com"})
    assert _load(kc, {"HTTPS_PROXY": "http://p:3128"}).proxy == ForwardProxy("http", "p", 3128)
    assert _load(kc, {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.com"}).proxy is None


def test_invalid_proxy_url_is_kubectls_error_without_the_password(tmp_path: Path) -> None:
    """A bad proxy-url stops with kubectl's message, the URL's password redacted."""
    kc = _kubeconfig(tmp_path, {"server": "https://s", "proxy-url": "ftp://u:hunter2@p:21"})
    with pytest.raises(KubeconfigError) as info:
        _load(kc, {})
    assert str(info.value) == (
        'error: invalid \'proxy-url\' "ftp://u:xxxxx@p:21" for cluster "c": '
        'unsupported scheme "ftp", must be http, https, or socks5'
    )


def test_invalid_environment_proxy_is_an_error(tmp_path: Path) -> None:
    """An unusable HTTPS_PROXY is refused rather than silently bypassed."""
    kc = _kubeconfig(tmp_path, {"server": "https://api.example.com"})
    with pytest.raises(KubeconfigError, match=r"invalid proxy address .* \(from HTTPS_PROXY\)"):
        _load(kc, {"HTTPS_PROXY": "http://p:notaport"})
