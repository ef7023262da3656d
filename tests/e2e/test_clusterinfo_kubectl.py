"""`kubegate cluster-info` prints what the real kubectl cluster-info prints, byte for byte,
against the same kubegate server with the same kubeconfig (admin, exec plugin, forbidden)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from serverkit import Kubectl, ServerProcess, start_server_process

pytestmark = pytest.mark.e2e

NOBODY_TOKEN = "nobody-token-0123456789"


def kubegate(
    *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the kubegate CLI with a clean environment (no ~/.kube/config, no KUBECONFIG)."""
    clean = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    clean.update(HOME=str(home), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "kubegate.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A private demo server (its kube-system is changed here), with a token for "nobody"."""
    data_dir = tmp_path_factory.mktemp("clusterinfo")
    tokens = data_dir.parent / f"{data_dir.name}-tokens.csv"
    tokens.write_text(f"{NOBODY_TOKEN},nobody,nobody-uid\n")
    server = start_server_process(data_dir, "--demo", "--token-auth-file", str(tokens))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(cluster: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))


def kubeconfig_for(cluster: ServerProcess, path: Path, user: dict) -> Path:
    """A kubeconfig for ``cluster`` with its CA (a relative file reference) and ``user``."""
    (path.parent / "ca.crt").write_bytes((cluster.data_dir / "ca.crt").read_bytes())
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "kg", "cluster": {"server": cluster.url, "certificate-authority": "ca.crt"}}
        ],
        "users": [{"name": "someone", "user": user}],
        "contexts": [
            {"name": "kg", "context": {"cluster": "kg", "user": "someone", "namespace": "default"}}
        ],
        "current-context": "kg",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def assert_same_output(
    kubectl: Kubectl, kubeconfig: str, home: Path, *args: str, expect_rc: int = 0
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    theirs = Kubectl(kubeconfig, kubectl.cache_dir).run("cluster-info", *args, check=False)
    ours = kubegate("cluster-info", "--kubeconfig", kubeconfig, *args, home=home)
    assert (theirs.returncode == 0) == (expect_rc == 0), theirs.stderr
    assert ours.returncode == expect_rc, ours.stderr
    assert ours.stdout == theirs.stdout
    return ours, theirs


def test_output_equals_kubectl(admin: Kubectl, cluster: ServerProcess, tmp_path: Path):
    """The demo cluster's services, listed exactly as kubectl lists them."""
    ours, _ = assert_same_output(admin, cluster.kubeconfig, tmp_path)
    assert ours.stdout.startswith(f"Kubernetes control plane is running at {cluster.url}\n")
    assert "services/https:secure-echo:https/proxy\n" in ours.stdout


def test_output_equals_kubectl_in_default_namespace(
    admin: Kubectl, cluster: ServerProcess, tmp_path: Path
):
    """-n default (no cluster services there): the control plane and the hint only."""
    ours, _ = assert_same_output(admin, cluster.kubeconfig, tmp_path, "-n", "default")
    assert ours.stdout.count("is running at") == 1


def test_load_balancer_and_port_forms_equal_kubectl(
    admin: Kubectl, cluster: ServerProcess, tmp_path: Path
):
    """LoadBalancer ingress (ip and hostname, trailing spaces), port 443 and unnamed ports."""
    manifest = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "namespace": "kube-system",
                    "labels": {"kubernetes.io/cluster-service": "true", **labels},
                },
                "spec": spec,
            }
            for name, labels, spec in [
                (
                    "lb-ip",
                    {"kubernetes.io/name": "LB-IP"},
                    {
                        "type": "LoadBalancer",
                        "ports": [
                            {"name": "http", "port": 80, "targetPort": 8080},
                            {"name": "https", "port": 443, "targetPort": 8443},
                        ],
                    },
                ),
                (
                    "lb-host",
                    {},
                    {"type": "LoadBalancer", "ports": [{"port": 8080, "targetPort": 80}]},
                ),
                ("plain-443", {}, {"ports": [{"port": 443, "targetPort": 443}]}),
                ("unnamed", {}, {"ports": [{"port": 8080, "targetPort": 80}]}),
            ]
        ],
    }
    admin.run("apply", "-f", "-", input=json.dumps(manifest))
    try:
        for name, ingress in (
            ("lb-ip", {"ip": "203.0.113.7"}),
            ("lb-host", {"hostname": "lb.example.com"}),
        ):
            patch = {"status": {"loadBalancer": {"ingress": [ingress]}}}
            admin.run(
                "patch", "service", name, "-n", "kube-system", "--subresource=status",
                "--type=merge", "-p", json.dumps(patch),
            )  # fmt: skip
        ours, _ = assert_same_output(admin, cluster.kubeconfig, tmp_path)
        lines = ours.stdout.splitlines()
        assert "LB-IP is running at http://203.0.113.7:80 http://203.0.113.7:443 " in lines
        assert "lb-host is running at http://lb.example.com:8080 " in lines
        assert any(line.endswith("/services/https:plain-443:/proxy") for line in lines)
        assert any(line.endswith("/services/unnamed/proxy") for line in lines)
    finally:
        admin.run(
            "delete", "service", "-n", "kube-system", "lb-ip", "lb-host", "plain-443", "unnamed",
            check=False,
        )  # fmt: skip


def test_exec_plugin_kubeconfig_equals_kubectl(
    admin: Kubectl, cluster: ServerProcess, tmp_path: Path
):
    """Both tools run the same exec plugin (file-relative command) and print the same."""
    token = (cluster.data_dir / "admin.token").read_text().strip()
    plugin = tmp_path / "bin" / "token-plugin"
    plugin.parent.mkdir()
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    plugin.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(credential))})\n")
    plugin.chmod(0o755)
    exec_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "./bin/token-plugin",
            "interactiveMode": "Never",
        }
    }
    kubeconfig = kubeconfig_for(cluster, tmp_path / "exec.kubeconfig", exec_user)
    ours, _ = assert_same_output(admin, str(kubeconfig), tmp_path)
    assert "Echo is running at" in ours.stdout


def test_forbidden_list_matches_kubectl(admin: Kubectl, cluster: ServerProcess, tmp_path: Path):
    """A user who may not list services: the hint only on stdout, kubectl's error, exit 1."""
    kubeconfig = kubeconfig_for(cluster, tmp_path / "nobody.kubeconfig", {"token": NOBODY_TOKEN})
    ours, theirs = assert_same_output(admin, str(kubeconfig), tmp_path, expect_rc=1)
    assert (
        ours.stdout
        == "\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n"
    )
    assert ours.stderr.strip() == theirs.stderr.strip().splitlines()[-1]
    assert ours.stderr.startswith(
        'Error from server (Forbidden): services is forbidden: User "nobody"'
    )


def test_unauthorized_matches_kubectl_error_line(
    admin: Kubectl, cluster: ServerProcess, tmp_path: Path
):
    """A token the server does not know: kubectl's "You must be logged in" line."""
    kubeconfig = kubeconfig_for(cluster, tmp_path / "bad.kubeconfig", {"token": "wrong"})
    ours, theirs = assert_same_output(admin, str(kubeconfig), tmp_path, expect_rc=1)
    assert ours.stderr.strip() == theirs.stderr.strip().splitlines()[-1]
    assert ours.stderr.startswith("error: You must be logged in to the server (Unauthorized)")


def test_wide_and_via_proxy(cluster: ServerProcess, tmp_path: Path):
    """-o wide counts ready endpoints; --via-proxy prints the local-proxy links."""
    result = kubegate(
        "cluster-info", "--kubeconfig", cluster.kubeconfig, "-o", "wide",
        "--via-proxy", "http://localhost:8080", home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Kubernetes control plane is running at http://localhost:8080"
    assert (
        "Echo is running at http://localhost:8080/api/v1/namespaces/kube-system/services/"
        "echo:http/proxy (1/1 endpoints ready)"
    ) in lines


def test_all_namespaces_lists_cluster_services_everywhere(
    admin: Kubectl, cluster: ServerProcess, tmp_path: Path
):
    """-A finds cluster services outside kube-system, linked in their own namespace."""
    admin.run("create", "namespace", "ci-team")
    try:
        admin.run("create", "service", "clusterip", "team-ui", "-n", "ci-team", "--tcp=80:8080")
        admin.run(
            "label", "service", "team-ui", "-n", "ci-team", "kubernetes.io/cluster-service=true"
        )
        result = kubegate("cluster-info", "--kubeconfig", cluster.kubeconfig, "-A", home=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (
            f"team-ui is running at {cluster.url}/api/v1/namespaces/ci-team/services/"
            "team-ui:80-8080/proxy"
        ) in result.stdout.splitlines()
        assert "Echo is running at" in result.stdout
    finally:
        admin.run("delete", "namespace", "ci-team", "--wait=false", check=False)


def test_dump_to_directory(cluster: ServerProcess, tmp_path: Path):
    """dump --output-directory writes one private file per list and says where."""
    out = tmp_path / "dump"
    result = kubegate(
        "cluster-info", "dump", "--kubeconfig", cluster.kubeconfig,
        "--namespaces", "kube-system", "--output-directory", str(out), home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Cluster info dumped to {out}\n"
    services = json.loads((out / "kube-system" / "services.json").read_text())
    assert services["kind"] == "ServiceList"
    assert {"echo", "secure-echo", "webapp"} <= {s["metadata"]["name"] for s in services["items"]}
    assert json.loads((out / "nodes.json").read_text())["kind"] == "NodeList"
    # lists the server does not serve are written empty, with a warning
    assert json.loads((out / "kube-system" / "deployments.json").read_text())["items"] == []
    assert "does not serve /apis/apps/v1/namespaces/kube-system/deployments" in result.stderr
    assert (out / "kube-system" / "services.json").stat().st_mode & 0o777 == 0o600
    assert (out / "kube-system").stat().st_mode & 0o777 == 0o700


def test_dump_yaml_to_stdout(cluster: ServerProcess, tmp_path: Path):
    """dump -o yaml prints every list as a YAML document."""
    result = kubegate(
        "cluster-info", "dump", "--kubeconfig", cluster.kubeconfig, "-o", "yaml",
        "--namespaces", "kube-system", home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert [d["kind"] for d in docs][:3] == ["NodeList", "EventList", "ReplicationControllerList"]
    assert len(docs) == 8


@pytest.mark.parametrize(
    ("args", "rc", "message"),
    [
        (
            ["--kubeconfig", "/nonexistent/kc"],
            1,
            "error: stat /nonexistent/kc: no such file or directory",
        ),
        (["--context", "nope"], 1, 'error: context "nope" does not exist'),
        (["-o", "json"], 2, "invalid choice"),
        (["--via-proxy", "localhost:8080"], 2, "is not an http(s) URL"),
    ],
)
def test_cli_errors(cluster: ServerProcess, tmp_path: Path, args, rc, message):
    """Bad kubeconfigs exit 1 with kubectl's text; usage errors exit 2; never a traceback."""
    base = [] if "--kubeconfig" in args else ["--kubeconfig", cluster.kubeconfig]
    result = kubegate("cluster-info", *base, *args, home=tmp_path)
    assert result.returncode == rc
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_no_configuration_at_all(tmp_path: Path):
    """Without any kubeconfig: a clear error instead of trying localhost:8080."""
    result = kubegate("cluster-info", home=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "error: no configuration has been provided, try setting KUBERNETES_MASTER environment "
        "variable\n"
    )


def test_help_has_examples(tmp_path: Path):
    """--help shows examples for cluster-info and dump."""
    for args in (["cluster-info"], ["cluster-info", "dump"]):
        result = kubegate(*args, "--help", home=tmp_path)
        assert result.returncode == 0
        assert "examples:" in result.stdout
