"""The client commands reach a real kubegate through real forward proxies (pproxy on loopback):
the kubeconfig's ``proxy-url`` as HTTP CONNECT, CONNECT over TLS and SOCKS5 with a username
and password, and ``HTTPS_PROXY`` from the environment. Each test checks the proxy's own log
to prove the traffic went through it; failures are fast and say what went wrong."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import trustme
import websockets
import yaml

from integration.forward_proxy_harness import ForwardProxyProcess, start_forward_proxy
from integration.localproxy_harness import DEMO, start_kubegate_proxy
from kubegate.client.api import APIClient, APIConnectionError
from kubegate.client.kubeconfig_loader import load_client_config
from kubegate.core.forward_proxy import ForwardProxy
from serverkit import ServerProcess, kubectl_binary, start_server_process

CREDENTIALS = "alice:s3cret"
SCHEMES = ["http", "https", "socks5"]


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server_process(tmp_path_factory.mktemp("via-proxy"), "--demo")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def proxy_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def proxies(
    proxy_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ForwardProxyProcess]]:
    """One pproxy per scheme, each requiring CREDENTIALS."""
    pem = tmp_path_factory.mktemp("proxy-tls") / "proxy.pem"
    proxy_ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    running: dict[str, ForwardProxyProcess] = {}
    try:
        for scheme in SCHEMES:
            running[scheme] = start_forward_proxy(
                scheme, credentials=CREDENTIALS, tls_cert_pem=pem if scheme == "https" else None
            )
        yield running
    finally:
        for proc in running.values():
            proc.stop()


def _kubeconfig(
    path: Path, server: ServerProcess, proxy_url: str | None, extra_ca: trustme.CA | None = None
) -> str:
    """The server's admin kubeconfig with a proxy-url; with ``extra_ca`` the CA bundle also
    trusts the HTTPS proxy (kubectl verifies the proxy with the kubeconfig's CA, as we do)."""
    doc = yaml.safe_load(Path(server.kubeconfig).read_text())
    cluster = doc["clusters"][0]["cluster"]
    if proxy_url is not None:
        cluster["proxy-url"] = proxy_url
    if extra_ca is not None:
        bundle = base64.b64decode(cluster["certificate-authority-data"]) + extra_ca.cert_pem.bytes()
        cluster["certificate-authority-data"] = base64.b64encode(bundle).decode()
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _kubegate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubegate.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _api_port(server: ServerProcess) -> int:
    return int(server.url.rpartition(":")[2])


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """The proxy logs a connection from its own thread: poll for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_cluster_info_through_a_proxy_matches_kubectl(
    scheme: str,
    kg: ServerProcess,
    proxies: dict[str, ForwardProxyProcess],
    proxy_ca: trustme.CA,
    tmp_path: Path,
) -> None:
    """``kubegate cluster-info`` through each kind of proxy prints what kubectl prints through
    the same proxy, and the proxy carried kubegate's connections."""
    proxy = proxies[scheme]
    kc = _kubeconfig(tmp_path / "kc", kg, proxy.url(CREDENTIALS), proxy_ca)
    before = proxy.carried(_api_port(kg))
    ours = _kubegate("cluster-info", "--kubeconfig", kc)
    assert ours.returncode == 0, ours.stderr
    assert _wait_for(lambda: proxy.carried(_api_port(kg)) > before)
    theirs = subprocess.run(
        [kubectl_binary(), "cluster-info", "--kubeconfig", kc, "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


def test_url_check_through_a_socks5_proxy(
    kg: ServerProcess, proxies: dict[str, ForwardProxyProcess], tmp_path: Path
) -> None:
    """``kubegate url --check`` asks the server through a SOCKS5 proxy."""
    proxy = proxies["socks5"]
    kc = _kubeconfig(tmp_path / "kc", kg, proxy.url(CREDENTIALS))
    before = proxy.carried(_api_port(kg))
    done = _kubegate("url", "svc/echo", "-n", "kube-system", "--check", "--kubeconfig", kc)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("/api/v1/namespaces/kube-system/services/echo/proxy/")
    assert _wait_for(lambda: proxy.carried(_api_port(kg)) > before)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_local_proxy_through_a_proxy(
    scheme: str,
    kg: ServerProcess,
    proxies: dict[str, ForwardProxyProcess],
    proxy_ca: trustme.CA,
    tmp_path: Path,
) -> None:
    """``kubegate proxy`` forwards requests and WebSocket upgrades through each kind of proxy."""
    proxy = proxies[scheme]
    local = start_kubegate_proxy(_kubeconfig(tmp_path / "kc", kg, proxy.url(CREDENTIALS), proxy_ca))
    try:
        before = proxy.carried(_api_port(kg))
        response = await local.request("GET", f"{DEMO}/echo/proxy/via?x=1")
        assert response.status == 200, response
        assert response.json()["raw_query"] == "x=1"
        uri = f"ws://localhost:{local.port}{DEMO}/webapp/proxy/ws"
        async with asyncio.timeout(20), websockets.connect(uri) as ws:
            assert json.loads(await ws.recv())["type"] == "greeting"
            await ws.send("through the proxy")
            assert await ws.recv() == "through the proxy"
        # the pooled connection and the upgrade's own connection both went through it
        assert _wait_for(lambda: proxy.carried(_api_port(kg)) >= before + 2)
    finally:
        local.stop()


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        ("http", "407 Proxy Authentication Required (wrong username/password in the proxy URL?)"),
        ("socks5", "the proxy closed the connection (wrong username/password in the proxy URL?)"),
    ],
)
def test_wrong_proxy_credentials_are_a_clear_error(
    scheme: str,
    expected: str,
    kg: ServerProcess,
    proxies: dict[str, ForwardProxyProcess],
    tmp_path: Path,
) -> None:
    """Credentials the proxy refuses end the command with the proxy's answer, not the password."""
    proxy = proxies[scheme]
    refused = len(proxy.refusals())
    kc = _kubeconfig(tmp_path / "kc", kg, proxy.url("alice:not-the-password"))
    done = _kubegate("cluster-info", "--kubeconfig", kc)
    assert done.returncode == 1
    assert expected in done.stderr
    assert f"127.0.0.1:{proxy.port}" in done.stderr
    assert "not-the-password" not in done.stderr + done.stdout
    assert _wait_for(lambda: len(proxy.refusals()) > refused)


def test_https_proxy_is_verified_with_the_kubeconfig_ca(
    kg: ServerProcess, proxies: dict[str, ForwardProxyProcess], tmp_path: Path
) -> None:
    """An HTTPS proxy whose certificate the kubeconfig's CA bundle does not vouch for is
    refused (kubectl verifies the proxy with the same CA)."""
    proxy = proxies["https"]
    kc = _kubeconfig(tmp_path / "kc", kg, proxy.url(CREDENTIALS))  # the proxy CA left out
    done = _kubegate("cluster-info", "--kubeconfig", kc)
    assert done.returncode == 1
    assert f"proxy https://127.0.0.1:{proxy.port} CONNECT" in done.stderr
    assert "tls: failed to verify the proxy's certificate" in done.stderr


async def test_local_proxy_reports_a_refusing_proxy(
    kg: ServerProcess, proxies: dict[str, ForwardProxyProcess], tmp_path: Path
) -> None:
    """Through a proxy that refuses the credentials, ``kubegate proxy`` answers kubectl's 500
    with the proxy's reason."""
    proxy = proxies["http"]
    local = start_kubegate_proxy(_kubeconfig(tmp_path / "kc", kg, proxy.url("alice:nope")))
    try:
        response = await local.request("GET", "/api/v1/namespaces")
        assert response.status == 500
        assert b"407 Proxy Authentication Required" in response.body
        assert b"nope" not in response.body
    finally:
        local.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_proxy_fails_fast(kg: ServerProcess, tmp_path: Path) -> None:
    """A proxy that is not listening is reported as such, at once."""
    port = _closed_port()
    kc = _kubeconfig(tmp_path / "kc", kg, f"http://127.0.0.1:{port}")
    started = time.monotonic()
    done = _kubegate("cluster-info", "--kubeconfig", kc)
    assert time.monotonic() - started < 15
    assert done.returncode == 1
    assert (
        "Unable to connect to the server: proxyconnect tcp: dial tcp "
        f"127.0.0.1:{port}: connect: connection refused"
    ) in done.stderr


async def test_silent_proxy_times_out(kg: ServerProcess, tmp_path: Path) -> None:
    """A proxy that accepts the connection but never answers CONNECT costs the timeout, no more."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
        port = silent.getsockname()[1]
        config = load_client_config(
            kubeconfig=_kubeconfig(tmp_path / "kc", kg, None),
            context=None,
            cluster=None,
            user=None,
            namespace=None,
            env={},
            cwd=tmp_path,
        )
        config = replace(config, proxy=ForwardProxy("http", "127.0.0.1", port))
        started = time.monotonic()
        async with APIClient(config, timeout=1.0) as api:
            with pytest.raises(APIConnectionError) as info:
                await api.get_json("/api")
        assert time.monotonic() - started < 5
    assert info.value.kubectl_text() == (
        f"Unable to connect to the server: proxy http://127.0.0.1:{port} CONNECT "
        f"{kg.url.removeprefix('https://')}: i/o timeout"
    )


def test_https_proxy_from_the_environment(tmp_path: Path) -> None:
    """Without proxy-url, HTTPS_PROXY is used for a non-local server (the proxy, not the
    server's name, is what the error is about: nothing was resolved or dialed directly)."""
    port = _closed_port()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://kubegate.invalid:6443"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": ""}}],
    }
    kc = tmp_path / "kc"
    kc.write_text(json.dumps(doc))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["HTTPS_PROXY"] = f"127.0.0.1:{port}"
    done = _kubegate("url", "svc/echo", "--check", "--kubeconfig", str(kc), env=env)
    assert done.returncode == 1
    assert f"proxyconnect tcp: dial tcp 127.0.0.1:{port}: connect: connection refused" in (
        done.stderr
    )
