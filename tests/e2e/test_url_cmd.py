"""`kubegate url` against the demo server: the URLs it prints, --check, and fetching them."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from serverkit import Kubectl, ServerProcess

pytestmark = pytest.mark.e2e


def kubegate(server: ServerProcess, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(home)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kubegate.cli.main",
            "url",
            "--kubeconfig",
            server.kubeconfig,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture
def ns(kubectl: Kubectl):
    """A fresh namespace per test, deleted afterwards."""
    name = f"url-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def fetch(server: ServerProcess, url: str) -> tuple[int, bytes]:
    """GET ``url`` with the admin token, trusting the server's CA."""
    context = ssl.create_default_context(cafile=str(server.data_dir / "ca.crt"))
    token = (server.data_dir / "admin.token").read_text().strip()
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return response.status, response.read()


@pytest.mark.parametrize(
    ("args", "suffix"),
    [
        (["service/echo"], "/api/v1/namespaces/kube-system/services/echo/proxy/"),
        (
            ["svc/echo", "--port", "http"],
            "/api/v1/namespaces/kube-system/services/echo:http/proxy/",
        ),
        (["svc/echo", "--port", "80"], "/api/v1/namespaces/kube-system/services/echo:80/proxy/"),
        (
            ["svc/secure-echo", "--https"],
            "/api/v1/namespaces/kube-system/services/https:secure-echo:/proxy/",
        ),
        (
            ["svc/secure-echo", "--https", "--port", "https", "--path", "/a b?x=1"],
            "/api/v1/namespaces/kube-system/services/https:secure-echo:https/proxy/a%20b?x=1",
        ),
        (["pod/web-0", "--port", "8080"], "/api/v1/namespaces/kube-system/pods/web-0:8080/proxy/"),
        (["node/worker-1", "--path", "/healthz"], "/api/v1/nodes/worker-1/proxy/healthz"),
    ],
)
def test_url_forms(server: ServerProcess, tmp_path: Path, args, suffix):
    """The printed URL is the server's URL plus the proxy path, one line on stdout."""
    result = kubegate(server, *args, "-n", "kube-system", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{server.url}{suffix}\n"


def test_namespace_defaults_to_the_context(server: ServerProcess, tmp_path: Path):
    """Without -n the kubeconfig context's namespace (default) is used."""
    result = kubegate(server, "service/echo", home=tmp_path)
    assert result.stdout == f"{server.url}/api/v1/namespaces/default/services/echo/proxy/\n"


def test_via_proxy_prints_the_local_form(server: ServerProcess, tmp_path: Path):
    """--via-proxy puts the local proxy in place of the server."""
    result = kubegate(
        server, "svc/echo", "-n", "kube-system", "--via-proxy", "http://localhost:8080/",
        home=tmp_path,
    )  # fmt: skip
    assert result.stdout == (
        "http://localhost:8080/api/v1/namespaces/kube-system/services/echo/proxy/\n"
    )


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["svc/echo", "--port", "http", "--path", "/hello/world?x=1&y=two"], "/hello/world"),
        (["svc/secure-echo", "--https", "--port", "https", "--path", "/tls"], "/tls"),
    ],
)
def test_printed_url_reaches_the_backend(server: ServerProcess, tmp_path: Path, args, path):
    """Fetching the printed URL with the admin token returns the echo backend's answer."""
    result = kubegate(server, *args, "-n", "kube-system", "--check", home=tmp_path)
    assert result.returncode == 0, result.stderr
    status, body = fetch(server, result.stdout.strip())
    assert status == 200
    echoed = json.loads(body)
    assert echoed["path"] == path
    assert echoed["service"] in ("echo", "secure-echo")
    if "?" in args[-1]:
        assert echoed["raw_query"] == "x=1&y=two"


def test_check_success_reports_endpoints(server: ServerProcess, tmp_path: Path):
    """--check: the URL on stdout, what was verified on stderr."""
    result = kubegate(
        server, "svc/echo", "-n", "kube-system", "--port", "http", "--check", home=tmp_path
    )
    assert result.returncode == 0
    assert (
        result.stdout == f"{server.url}/api/v1/namespaces/kube-system/services/echo:http/proxy/\n"
    )
    assert 'service "echo" port "http": 1 ready endpoint' in result.stderr


def test_check_without_port_on_a_named_single_port_adds_a_note(
    server: ServerProcess, tmp_path: Path
):
    """kubegate picks a single port itself; the note says what kube-apiserver would need."""
    result = kubegate(server, "svc/echo", "-n", "kube-system", "--check", home=tmp_path)
    assert result.returncode == 0
    assert "--port http" in result.stderr


TWO_PORTS = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "two"},
    "spec": {
        "selector": {"app": "nothing-runs-this"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "metrics", "port": 9090, "targetPort": 9090},
        ],
    },
}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["svc/nope"], 'error: service "nope" not found in namespace "{ns}"'),
        (["svc/two"], 'error: service "two" has 2 ports; name one of: http, metrics'),
        (
            ["svc/two", "--port", "grpc"],
            'error: service "two" has no port named "grpc"; ports: http (80), metrics (9090)',
        ),
        (
            ["svc/two", "--port", "81"],
            'error: service "two" has no port 81; ports: http (80), metrics (9090)',
        ),
        (["svc/two", "--port", "http"], 'error: no ready endpoints for service "two"'),
        (["svc/two", "--port", "9090"], 'error: no ready endpoints for service "two"'),
        (["pod/ghost"], 'error: pod "ghost" not found in namespace "{ns}"'),
        (["node/ghost"], 'error: node "ghost" not found'),
    ],
)
def test_check_failures(
    server: ServerProcess, kubectl: Kubectl, ns: str, tmp_path: Path, args, message
):
    """--check explains why the URL cannot work, prints no URL, and exits 1."""
    kubectl.run("apply", "-n", ns, "-f", "-", input=json.dumps(TWO_PORTS))
    result = kubegate(server, *args, "-n", ns, "--check", home=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == message.format(ns=ns)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["echo"], '"echo" is not TYPE/NAME'),
        (["deploy/web"], '"deploy/web" is not TYPE/NAME'),
        (["svc/echo", "--port", "0"], 'invalid port "0"'),
        (["svc/echo", "--path", "/a#b"], "#fragment"),
        (["svc/echo", "-n", "Not_A_Namespace"], 'invalid namespace "Not_A_Namespace"'),
    ],
)
def test_usage_errors_exit_2(server: ServerProcess, tmp_path: Path, args, message):
    """Malformed targets, ports and paths are usage errors: exit 2, no traceback."""
    result = kubegate(server, *args, home=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_forbidden_check_is_kubectl_like(server: ServerProcess, tmp_path: Path):
    """An API error during --check is printed the way kubectl prints it."""
    kubeconfig = tmp_path / "anon.kubeconfig"
    text = Path(server.kubeconfig).read_text()
    lines = [
        line
        for line in text.splitlines()
        if "client-certificate-data" not in line and "client-key-data" not in line
    ]
    kubeconfig.write_text("\n".join(lines).replace("user:", "user: {}", 1) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "kubegate.cli.main", "url", "--kubeconfig", str(kubeconfig),
         "svc/echo", "-n", "kube-system", "--check"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(
        ("Error from server (Forbidden): ", "error: You must be logged in")
    ), result.stderr


def test_help_has_examples(server: ServerProcess, tmp_path: Path):
    """url --help shows examples."""
    result = kubegate(server, "--help", home=tmp_path)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--check" in result.stdout
