"""HTTPS backends with ``--proxy-ca-file``: the certificate must chain to that CA and name
``{service}.{namespace}.svc`` (the SNI name kubegate sends); otherwise 503. Without the flag
kubegate verifies nothing, as kube does (test_targets covers that)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from integration.proxy.harness import (
    Backend,
    Backends,
    Cluster,
    Kubegate,
    Port,
    Response,
    cluster_fixture,
    running_kubegate,
    server_tls,
)


@pytest.fixture(scope="module")
def proxy_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def verifying_kg(
    proxy_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubegate]:
    """A kubegate that verifies https backends against ``proxy_ca``."""
    ca_file = Path(tmp_path_factory.mktemp("proxy-ca")) / "ca.pem"
    proxy_ca.cert_pem.write_to_path(str(ca_file))
    with running_kubegate(
        "--proxy-allow-cidrs", "127.0.0.0/8", "--proxy-ca-file", str(ca_file)
    ) as kg:
        yield kg


cluster = cluster_fixture("verifying_kg")


async def first_answer(
    cluster: Cluster, backends: Backends, cert: trustme.LeafCert
) -> tuple[Backend, Response]:
    """Publish an https backend with ``cert``; return the first resolved answer for it."""
    backend = await backends.http(ssl_context=server_tls(cert))
    await cluster.pod("svc-pod", [("web", backend.port)], labels={"app": "svc"})
    await cluster.service(
        "svc", [{"name": "https", "port": 443, "targetPort": "web"}], selector={"app": "svc"}
    )
    return backend, await cluster.wait_resolved("services", "https:svc:", "/v")


async def test_certificate_for_the_service_name_from_the_ca_is_accepted(
    cluster, backends, proxy_ca
):
    """A backend certificate for ``svc.ns.svc`` signed by the --proxy-ca-file CA works."""
    backend, response = await first_answer(
        cluster, backends, proxy_ca.issue_cert(f"svc.{cluster.namespace}.svc")
    )
    assert response.status == 200
    assert backend.targets() == ["/v"]


async def test_certificate_from_another_ca_is_503(cluster, backends):
    """A certificate the --proxy-ca-file CA did not sign answers 503 and reaches nothing."""
    other = trustme.CA()
    backend, response = await first_answer(
        cluster, backends, other.issue_cert(f"svc.{cluster.namespace}.svc")
    )
    assert response.status == 503
    assert response.message.startswith("error trying to reach service: ")
    assert "certificate" in response.message
    assert backend.requests == []


async def test_certificate_for_another_name_is_503(cluster, backends, proxy_ca):
    """A certificate from the right CA for a name other than ``svc.ns.svc`` answers 503."""
    backend, response = await first_answer(cluster, backends, proxy_ca.issue_cert("other.example"))
    assert response.status == 503
    assert response.message.startswith("error trying to reach service: ")
    assert backend.requests == []


async def test_server_name_annotation_changes_the_name_verified(cluster, backends, proxy_ca):
    """``kubegate.io/proxy-tls-server-name`` is the name sent as SNI and verified."""
    backend = await backends.http(
        ssl_context=server_tls(proxy_ca.issue_cert("api.internal.example"))
    )
    await cluster.serve(
        "svc",
        Port(backend, name="https", service_port=443),
        wait_id="https:svc:",
        annotations={"kubegate.io/proxy-tls-server-name": "api.internal.example"},
    )
    response = await cluster.get("services", "https:svc:", "/named")
    assert response.status == 200
    assert backend.targets() == ["/named"]


async def test_https_pod_certificate_from_another_ca_is_503(cluster, backends):
    """A pod reached over https is verified against the CA too: a foreign chain answers 503."""
    backend = await backends.http(ssl_context=server_tls(trustme.CA().issue_cert("127.0.0.1")))
    await cluster.pod("p", [("web", backend.port)])
    response = await cluster.wait_found("pods", f"https:p:{backend.port}")
    assert response.status == 503
    assert response.message.startswith("error trying to reach service: ")
    assert backend.requests == []
