"""The real kubectl (pinned 1.37.1) drives kubegate for every verb the API offers."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import yaml

pytestmark = pytest.mark.e2e


@pytest.fixture
def ns(kubectl):
    """A fresh namespace per test, deleted afterwards."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def test_version_reports_client_and_server(kubectl):
    """`kubectl version` reads /version and prints both versions."""
    out = kubectl.run("version", "-o", "json").stdout
    data = json.loads(out)
    assert data["serverVersion"]["major"] == "1"
    assert data["serverVersion"]["gitVersion"].startswith("v1.")


def test_api_resources_lists_served_types(kubectl):
    """Discovery lists every served resource with its short names and groups."""
    out = kubectl.run("api-resources", "--no-headers").stdout
    rows = {line.split()[0]: line for line in out.splitlines()}
    for name in (
        "services",
        "pods",
        "nodes",
        "endpoints",
        "configmaps",
        "secrets",
        "namespaces",
        "endpointslices",
        "roles",
        "clusterrolebindings",
        "serviceaccounts",
    ):
        assert name in rows, name
    assert " svc " in rows["services"]
    assert "discovery.k8s.io/v1" in rows["endpointslices"]


def test_create_configmap_secret_namespace_with_protobuf_bodies(kubectl, ns):
    """Typed create commands send protobuf; the objects arrive intact."""
    kubectl.run(
        "create", "configmap", "cfg", "-n", ns, "--from-literal=color=blue", "--from-literal=size=2"
    )
    kubectl.run("create", "secret", "generic", "tok", "-n", ns, "--from-literal=password=s3cr3t")
    child = f"{ns}-child"
    kubectl.run("create", "namespace", child)
    try:
        cm = kubectl.json("get", "configmap", "cfg", "-n", ns)
        assert cm["data"] == {"color": "blue", "size": "2"}
        secret = kubectl.json("get", "secret", "tok", "-n", ns)
        assert secret["type"] == "Opaque"
        assert secret["data"]["password"] == "czNjcjN0"  # base64 of s3cr3t
        assert kubectl.json("get", "namespace", child)["status"]["phase"] == "Active"
    finally:
        kubectl.run("delete", "namespace", child, "--wait=false", check=False)


def test_create_service_and_serviceaccount_with_protobuf(kubectl, ns):
    """`create service nodeport` and `create serviceaccount` decode and allocate."""
    kubectl.run("create", "service", "nodeport", "np", "-n", ns, "--tcp=8080:80")
    kubectl.run("create", "serviceaccount", "robot", "-n", ns)
    svc = kubectl.json("get", "svc", "np", "-n", ns)
    assert svc["spec"]["type"] == "NodePort"
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    assert kubectl.json("get", "sa", "robot", "-n", ns)["metadata"]["name"] == "robot"


def test_get_svc_all_namespaces_prints_kube_columns(kubectl):
    """`get svc -A` prints the Table columns kube-apiserver serves."""
    out = kubectl.run("get", "svc", "-A").stdout
    header = out.splitlines()[0].split()
    assert header == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert re.search(
        r"^default\s+kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443/TCP", out, re.M
    )
    assert re.search(r"^kube-system\s+echo\s+ClusterIP\s+10\.", out, re.M)


def test_get_output_yaml_round_trips(kubectl):
    """`get -o yaml` returns a full object with server-set metadata."""
    obj = yaml.safe_load(
        kubectl.run("get", "svc", "kubernetes", "-n", "default", "-o", "yaml").stdout
    )
    assert obj["kind"] == "Service"
    assert obj["apiVersion"] == "v1"
    assert obj["metadata"]["uid"]
    assert int(obj["metadata"]["resourceVersion"]) > 0


SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
spec:
  selector: {{app: web}}
  ports:
  - name: http
    port: 80
    targetPort: {target}
"""


def test_apply_creates_then_changes(kubectl, ns):
    """`apply -f` creates, and a second apply patches the change in (strategic merge)."""
    kubectl.run("apply", "-f", "-", input=SERVICE_YAML.format(ns=ns, target=8080))
    first = kubectl.json("get", "svc", "web", "-n", ns)
    out = kubectl.run("apply", "-f", "-", input=SERVICE_YAML.format(ns=ns, target=9090)).stdout
    assert "configured" in out
    second = kubectl.json("get", "svc", "web", "-n", ns)
    assert second["spec"]["ports"][0]["targetPort"] == 9090
    assert second["spec"]["clusterIP"] == first["spec"]["clusterIP"]
    assert second["metadata"]["generation"] == first["metadata"]["generation"] + 1


def test_apply_strict_validation_rejects_unknown_field(kubectl, ns):
    """`apply` validates strictly by default: an unknown field is refused and nothing is stored."""
    bad = SERVICE_YAML.format(ns=ns, target=80).replace(
        "  selector:", "  bogusField: 1\n  selector:"
    )
    result = kubectl.run("apply", "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert "bogusField" in result.stderr
    assert kubectl.run("get", "svc", "web", "-n", ns, check=False).returncode != 0


def test_replace_updates_whole_object(kubectl, ns):
    """`replace -f` PUTs the edited object."""
    kubectl.run("create", "configmap", "cfg", "-n", ns, "--from-literal=a=1")
    cm = kubectl.json("get", "configmap", "cfg", "-n", ns)
    cm["data"] = {"a": "2", "b": "3"}
    kubectl.run("replace", "-f", "-", input=json.dumps(cm))
    assert kubectl.json("get", "configmap", "cfg", "-n", ns)["data"] == {"a": "2", "b": "3"}


def test_replace_with_stale_resource_version_conflicts(kubectl, ns):
    """A PUT carrying an old resourceVersion is refused with a conflict."""
    kubectl.run("create", "configmap", "cfg", "-n", ns, "--from-literal=a=1")
    stale = kubectl.json("get", "configmap", "cfg", "-n", ns)
    kubectl.run("label", "configmap", "cfg", "-n", ns, "touched=yes")
    stale["data"] = {"a": "stale"}
    result = kubectl.run("replace", "-f", "-", input=json.dumps(stale), check=False)
    assert result.returncode != 0
    assert "the object has been modified" in result.stderr


def test_label_sets_and_removes_labels(kubectl, ns):
    """`label` adds, overwrites and removes labels through patches."""
    kubectl.run("create", "configmap", "cfg", "-n", ns)
    kubectl.run("label", "configmap", "cfg", "-n", ns, "tier=web")
    kubectl.run("label", "configmap", "cfg", "-n", ns, "tier=db", "--overwrite")
    assert kubectl.json("get", "configmap", "cfg", "-n", ns)["metadata"]["labels"]["tier"] == "db"
    kubectl.run("label", "configmap", "cfg", "-n", ns, "tier-")
    assert "tier" not in (
        kubectl.json("get", "configmap", "cfg", "-n", ns)["metadata"].get("labels") or {}
    )


def test_patch_all_three_types(kubectl, ns):
    """Merge, JSON and strategic merge patches each apply their own semantics."""
    kubectl.run("apply", "-f", "-", input=SERVICE_YAML.format(ns=ns, target=8080))
    kubectl.run(
        "patch",
        "svc",
        "web",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        '{"metadata":{"annotations":{"owner":"me"}}}',
    )
    kubectl.run(
        "patch",
        "svc",
        "web",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/ports/0/targetPort","value":7070}]',
    )
    kubectl.run(
        "patch",
        "svc",
        "web",
        "-n",
        ns,
        "--type",
        "strategic",
        "-p",
        '{"spec":{"ports":[{"port":443,"name":"https","targetPort":8443}]}}',
    )
    svc = kubectl.json("get", "svc", "web", "-n", ns)
    assert svc["metadata"]["annotations"]["owner"] == "me"
    ports = {p["port"]: p["targetPort"] for p in svc["spec"]["ports"]}
    assert ports == {80: 7070, 443: 8443}  # strategic merge keyed the list by port


def test_delete_removes_object(kubectl, ns):
    """`delete` removes the object; a later get is NotFound."""
    kubectl.run("create", "configmap", "cfg", "-n", ns)
    kubectl.run("delete", "configmap", "cfg", "-n", ns)
    result = kubectl.run("get", "configmap", "cfg", "-n", ns, check=False)
    assert result.returncode != 0
    assert 'configmaps "cfg" not found' in result.stderr


def test_get_watch_sees_a_change(kubectl, ns):
    """`get -w` prints the initial state, then a change made meanwhile."""
    kubectl.run("create", "configmap", "watched", "-n", ns)
    proc = kubectl.popen("get", "configmap", "-n", ns, "-w", "--output-watch-events")
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # header
        assert "NAME" in first
        deadline = time.monotonic() + 20
        lines = []
        kubectl.run("label", "configmap", "watched", "-n", ns, "seen=yes")
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("MODIFIED"):
                break
        assert any(line.startswith("ADDED") and "watched" in line for line in lines)
        assert any(line.startswith("MODIFIED") and "watched" in line for line in lines)
    finally:
        proc.kill()
        proc.communicate(timeout=5)


def test_explain_service_reads_openapi(kubectl):
    """`explain` walks the served OpenAPI v3 schema."""
    out = kubectl.run("explain", "service.spec.ports").stdout
    assert "targetPort" in out
    assert "ServicePort" in out or "<[]ServicePort>" in out


def test_cluster_info_lists_demo_services_with_proxy_urls(kubectl, server):
    """`cluster-info` lists kube-system cluster services with kube's proxy URL format."""
    out = kubectl.run("cluster-info").stdout
    assert f"Kubernetes control plane is running at {server.url}" in out
    base = f"{server.url}/api/v1/namespaces/kube-system/services/"
    assert f"is running at {base}echo:http/proxy" in out
    assert f"is running at {base}https:secure-echo:https/proxy" in out
    assert f"is running at {base}webapp:http-web/proxy" in out


def test_auth_whoami_reports_admin_identity(kubectl):
    """`auth whoami` (protobuf SelfSubjectReview) returns the certificate's identity."""
    out = kubectl.run("auth", "whoami", "-o", "json").stdout
    info = json.loads(out)["status"]["userInfo"]
    assert info["username"] == "kubegate-admin"
    assert "system:masters" in info["groups"]


def test_pod_status_subresource_drives_endpoint_slices(kubectl, ns):
    """A pod made ready through the status subresource appears in its service's EndpointSlice."""
    kubectl.run("apply", "-f", "-", input=SERVICE_YAML.format(ns=ns, target="web"))
    kubectl.run("run", "web-1", "-n", ns, "--image=nginx", "--labels=app=web", "--port=8080")
    # name the container port so the service's named targetPort resolves
    kubectl.run(
        "patch",
        "pod",
        "web-1",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        '[{"op":"add","path":"/spec/containers/0/ports/0/name","value":"web"}]',
        check=False,
    )
    status = {
        "status": {
            "phase": "Running",
            "podIP": "10.1.0.7",
            "podIPs": [{"ip": "10.1.0.7"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    }
    kubectl.run(
        "patch",
        "pod",
        "web-1",
        "-n",
        ns,
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        json.dumps(status),
    )
    deadline = time.monotonic() + 15
    endpoints: list = []
    while time.monotonic() < deadline:
        slices = kubectl.json(
            "get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=web"
        )["items"]
        endpoints = [e for s in slices for e in s.get("endpoints") or []]
        if endpoints and endpoints[0]["conditions"].get("ready"):
            break
        time.sleep(0.2)
    assert endpoints and endpoints[0]["addresses"] == ["10.1.0.7"]
    assert endpoints[0]["conditions"]["ready"] is True


def test_delete_namespace_takes_its_objects(kubectl):
    """Deleting a namespace deletes its objects, then the namespace."""
    name = f"e2e-gone-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "namespace", name)
    kubectl.run("create", "configmap", "cfg", "-n", name)
    kubectl.run("delete", "namespace", name, "--timeout=30s")
    assert kubectl.run("get", "namespace", name, check=False).returncode != 0
    assert (
        kubectl.run(
            "get",
            "configmaps",
            "-A",
            "--field-selector",
            f"metadata.namespace={name}",
            "-o",
            "name",
        ).stdout.strip()
        == ""
    )
