"""The service index at ``/``: what it lists for whom (RBAC), that its links work, that it
escapes what the API holds, and that API clients still get kube's ``GET /`` document."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess

from integration.proxy.harness import Backends, Cluster, Kubegate, Port, Response, eventually
from integration.ui.conftest import BOB_TOKEN
from integration.ui.pages import read_page
from serverkit import kubectl_binary

HTML = ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
BOB = ("Authorization", f"Bearer {BOB_TOKEN}")


async def index(kg: Kubegate, *, as_bob: bool = False, query: str = "") -> Response:
    target = f"/?q={query}" if query else "/"
    if as_bob:
        return await kg.request("GET", target, headers=[BOB, HTML], auth=None)
    return await kg.request("GET", target, headers=[HTML])


async def grant(cluster: Cluster, rules: list[dict], user: str = "bob") -> None:
    """A Role with ``rules`` in the cluster's namespace, bound to ``user``."""
    ns = cluster.namespace
    await cluster.create(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
        {"metadata": {"name": "proxy"}, "rules": rules},
    )
    await cluster.create(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {
            "metadata": {"name": "proxy"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "proxy"},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        },
    )


PROXY_ALL = [{"apiGroups": [""], "resources": ["services/proxy", "pods/proxy"], "verbs": ["get"]}]


async def bob_sees(kg: Kubegate, service: str, query: str = "") -> Response:
    """Bob's index (filtered by ``query``) once it lists ``service`` ("ns/name")."""
    return await eventually(
        lambda: index(kg, as_bob=True, query=query), lambda r: service in read_page(r.body).services
    )


def row(body: bytes, service: str) -> str:
    """The HTML of the index row for ``service`` ("ns/name")."""
    match = re.search(
        rf'<tr class="svc" data-service="{re.escape(service)}">.*?</tr>', body.decode(), re.S
    )
    assert match, f"no row for {service}"
    return match.group(0)


async def test_index_lists_only_what_rbac_lets_the_user_proxy(kg, backends: Backends):
    """A user allowed ``services/proxy`` in one namespace sees that namespace's services only."""
    mine, other = await _new(kg, "mine"), await _new(kg, "other")
    await mine.serve("web", Port(await backends.http()))
    await other.serve("web", Port(await backends.http()))
    await grant(mine, PROXY_ALL)
    response = await bob_sees(kg, f"{mine.namespace}/web")
    services = read_page(response.body).services
    assert f"{mine.namespace}/web" in services
    assert not [s for s in services if s.startswith(other.namespace + "/")]
    assert other.namespace not in response.body.decode()


async def test_index_links_only_the_ports_rbac_names(cluster: Cluster, backends: Backends):
    """With ``resourceNames: [web:http]`` only that link shows; other services and ports do not."""
    await cluster.serve(
        "web",
        Port(await backends.http()),
        Port(await backends.http(), name="admin", service_port=8080, container_name="adm"),
    )
    await cluster.serve("secret", Port(await backends.http()))
    await grant(
        cluster,
        [
            {
                "apiGroups": [""],
                "resources": ["services/proxy"],
                "verbs": ["get"],
                "resourceNames": ["web:http"],
            }
        ],
    )
    response = await bob_sees(cluster.kg, f"{cluster.namespace}/web", cluster.namespace)
    page = read_page(response.body)
    base = f"/api/v1/namespaces/{cluster.namespace}/services"
    assert page.hrefs("port") == [f"{base}/web:http/proxy/"]
    assert f"{cluster.namespace}/secret" not in page.services
    assert "admin 8080/TCP" in row(response.body, f"{cluster.namespace}/web")  # shown, unlinked


async def test_every_link_on_the_index_reaches_its_backend(cluster: Cluster, backends: Backends):
    """Following each port link (as the user who saw it) gets the backend's own answer."""
    await cluster.serve(
        "web",
        Port(await backends.http()),
        Port(await backends.http(), name="metrics", service_port=9090, container_name="m"),
    )
    await cluster.serve("api", Port(await backends.http(), name="grpc-web", service_port=81))
    await grant(cluster, PROXY_ALL)
    response = await bob_sees(cluster.kg, f"{cluster.namespace}/api")
    links = [h for h in read_page(response.body).hrefs("port") if cluster.namespace in h]
    assert len(links) >= 5  # three service ports and two pods' container ports
    for href in links:
        answer = await cluster.kg.request("GET", href, headers=[BOB], auth=None)
        assert answer.status == 200, (href, answer)
        assert answer.json()["target"] == "/", href  # the echo backend, at its root


async def test_ready_counts_match_the_endpointslices(cluster: Cluster, backends: Backends):
    """The row shows ready/total endpoint addresses as ``cluster-info -o wide`` counts them."""
    backend = await backends.http()
    await cluster.pod("a", [("web", backend.port)], labels={"app": "pool"}, ip="127.0.0.1")
    await cluster.pod(
        "b", [("web", backend.port)], labels={"app": "pool"}, ip="127.0.0.2", ready=False
    )
    await cluster.pod("c", [("web", backend.port)], labels={"app": "pool"}, ip="127.0.0.3")
    await cluster.service(
        "pool", [{"name": "http", "port": 80, "targetPort": "web"}], selector={"app": "pool"}
    )
    service = f"{cluster.namespace}/pool"
    response = await eventually(
        lambda: index(cluster.kg),
        lambda r: (
            "2/3 ready" in row(r.body, service) if service in read_page(r.body).services else False
        ),
    )
    assert "2/3 ready" in row(response.body, service)


async def test_hostile_annotations_are_escaped(cluster: Cluster, backends: Backends):
    """Markup in annotation-derived text is shown as text, never run or parsed as HTML."""
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    await cluster.serve(
        "web",
        Port(await backends.http()),
        annotations={"kubegate.io/description": hostile, "kubegate.io/sandbox": hostile},
    )
    service = f"{cluster.namespace}/web"
    response = await eventually(
        lambda: index(cluster.kg), lambda r: service in read_page(r.body).services
    )
    body = response.body.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in body
    )
    page = read_page(response.body)
    assert len(page.scripts) == 1 and "clipboard" in page.scripts[0]  # only kubegate's own


async def test_hostile_port_name_never_becomes_markup(cluster: Cluster):
    """A port name carrying markup is refused by validation, so it can never reach the page."""
    response = await cluster.kg.api(
        "POST",
        f"/api/v1/namespaces/{cluster.namespace}/services",
        {"metadata": {"name": "bad"}, "spec": {"ports": [{"name": "<b>x", "port": 80}]}},
    )
    assert response.status == 422, response


async def test_index_commands_name_the_link(cluster: Cluster, backends: Backends):
    """The kubectl, curl and local-proxy commands carry the service's proxy path, quoted."""
    await cluster.serve("web", Port(await backends.http()))
    service = f"{cluster.namespace}/web"
    response = await eventually(
        lambda: index(cluster.kg), lambda r: service in read_page(r.body).services
    )
    path = f"/api/v1/namespaces/{cluster.namespace}/services/web:http/proxy/"
    commands = [c for c in read_page(response.body).codes if path in c]
    assert commands[0] == f"kubectl get --raw '{path}'"
    assert commands[1].endswith(f"'https://{cluster.kg.netloc}{path}'")
    assert commands[2] == f"kubegate proxy & curl 'http://127.0.0.1:8001{path}'"


async def test_kubectl_get_raw_runs_the_command_shown(
    cluster: Cluster, backends: Backends, tmp_path
):
    """The copy-able ``kubectl get --raw`` command returns the backend's answer."""
    await cluster.serve("web", Port(await backends.http()))
    service = f"{cluster.namespace}/web"
    response = await eventually(
        lambda: index(cluster.kg), lambda r: service in read_page(r.body).services
    )
    command = next(
        c
        for c in read_page(response.body).codes
        if c.startswith("kubectl get --raw") and cluster.namespace in c
    )
    raw_path = command.split("'")[1]
    # In a thread: the backends answering kubectl run on this test's event loop.
    out = await asyncio.to_thread(
        subprocess.run,
        [
            kubectl_binary(),
            "--kubeconfig",
            cluster.kg.process.kubeconfig,
            "--cache-dir",
            str(tmp_path),
            "get",
            "--raw",
            raw_path,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout)["target"] == "/"


async def test_filter_query_narrows_the_list(cluster: Cluster, backends: Backends):
    """``?q=`` keeps only targets whose namespace/name contains the text (no JavaScript)."""
    await cluster.serve("alpha", Port(await backends.http()))
    await cluster.serve("beta", Port(await backends.http()))
    response = await index(cluster.kg, query="alpha")
    services = read_page(response.body).services
    assert f"{cluster.namespace}/alpha" in services
    assert f"{cluster.namespace}/beta" not in services


async def test_cluster_info_section_links_cluster_services(kg, backends: Backends):
    """kube-system services labelled ``kubernetes.io/cluster-service=true`` are linked as
    ``kubectl cluster-info`` prints them, under the control plane's URL."""
    backend = await backends.http()
    system = Cluster(kg, "kube-system")
    await system.pod("dns-ui-pod", [("web", backend.port)], labels={"app": "dns-ui"})
    await system.create(
        "/api/v1/namespaces/kube-system/services",
        {
            "metadata": {
                "name": "dns-ui",
                "labels": {
                    "kubernetes.io/cluster-service": "true",
                    "kubernetes.io/name": "CoreDNS",
                },
            },
            "spec": {
                "selector": {"app": "dns-ui"},
                "ports": [{"name": "http", "port": 80, "targetPort": "web"}],
            },
        },
    )
    response = await eventually(
        lambda: index(kg), lambda r: "CoreDNS is running at" in r.body.decode()
    )
    body = response.body.decode()
    section = body[body.index('id="cluster-info"') : body.index("</section>")]
    assert f'Kubernetes control plane is running at <a href="https://{kg.netloc}/">' in section
    link = "/api/v1/namespaces/kube-system/services/dns-ui:http/proxy"
    assert f'CoreDNS is running at <a href="{link}/">https://{kg.netloc}{link}</a>' in section


async def test_index_page_headers_lock_it_down(kg):
    """The page is no-store, unframeable, and styled only by its own nonce-tagged style."""
    response = await index(kg)
    assert response.status == 200
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert response.header("cache-control") == "no-store"
    assert response.header("x-frame-options") == "DENY"
    assert response.header("x-content-type-options") == "nosniff"
    csp = response.header("content-security-policy") or ""
    nonce = re.search(r"style-src 'nonce-([^']+)'", csp).group(1)
    assert f'<style nonce="{nonce}">' in response.body.decode()
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


async def test_json_root_keeps_the_kube_paths_document(kg, tmp_path):
    """``kubectl get --raw /`` still gets ``{"paths": [...]}``, not the HTML page."""
    out = await asyncio.to_thread(
        subprocess.run,
        [
            kubectl_binary(),
            "--kubeconfig",
            kg.process.kubeconfig,
            "--cache-dir",
            str(tmp_path),
            "get",
            "--raw",
            "/",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    paths = json.loads(out.stdout)["paths"]
    assert {
        "/api",
        "/api/v1",
        "/apis",
        "/healthz",
        "/version",
        "/apis/rbac.authorization.k8s.io/v1",
    } <= set(paths)
    assert paths == sorted(paths)


async def test_json_root_needs_the_nonresource_rule_html_does_not(kg):
    """As in kube, ``GET /`` for JSON needs ``get`` on path ``/``; the HTML index does not."""
    json_answer = await kg.request("GET", "/", headers=[BOB], auth=None)
    assert json_answer.status == 403, json_answer
    assert json_answer.json()["message"] == 'forbidden: User "bob" cannot get path "/"'
    html_answer = await index(kg, as_bob=True)
    assert html_answer.status == 200


async def _new(kg: Kubegate, prefix: str) -> Cluster:
    from integration.proxy.harness import new_cluster

    return await new_cluster(kg, prefix)
