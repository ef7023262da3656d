"""Browser sign-in with ``--anonymous-auth`` on, over real HTTPS: a credential-less page load
that RBAC refuses to system:anonymous goes to /login (not a dead-end 403), while API clients
keep kube's 403 Status and what anonymous users are allowed keeps working."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.login_kit import Browser, grant_edit, publish_echo, web, write_user_files
from integration.proxy.harness import (
    Backend,
    Cluster,
    Kubegate,
    backends_fixture,
    new_cluster,
    running_kubegate,
)

backends = backends_fixture()


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubegate]:
    """kubegate with anonymous access, basic-auth users (so /login works) and loopback backends."""
    passwords, _ = write_user_files(tmp_path_factory.mktemp("anonymous-login-users"))
    with running_kubegate(
        "--anonymous-auth",
        "--proxy-allow-cidrs=127.0.0.0/8",
        f"--basic-auth-file={passwords}",
    ) as kg:
        yield kg


@pytest.fixture
async def cluster(kg: Kubegate) -> Cluster:
    return await new_cluster(kg, "anon-login")


@pytest.fixture
async def echo(cluster: Cluster, backends) -> Backend:
    return await publish_echo(cluster, backends)


async def test_an_anonymous_page_load_rbac_refuses_goes_to_login(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """A browser without a credential loading a proxied page system:anonymous may not see is
    sent to /login?then=<that page>, and the backend is never reached."""
    target = web(cluster, "/app?x=1")
    response = await Browser(kg).page(target)
    assert response.status == 302, response
    assert (response.header("location") or "").startswith("/login?then=")
    assert echo.targets() == []


async def test_an_anonymous_api_client_still_gets_the_403_status(
    kg: Kubegate, cluster: Cluster
) -> None:
    """Without Accept: text/html, an anonymous request RBAC refuses stays kube's 403 Status."""
    response = await kg.request("GET", f"/api/v1/namespaces/{cluster.namespace}/pods", auth=None)
    assert response.status == 403
    assert response.json()["reason"] == "Forbidden"
    assert 'User "system:anonymous"' in response.json()["message"]


async def test_an_anonymous_page_load_rbac_allows_is_served(
    kg: Kubegate, cluster: Cluster, echo: Backend
) -> None:
    """Where RBAC lets system:anonymous in, the browser gets the page, not the login form."""
    await grant_edit(cluster, "system:anonymous")
    response = await Browser(kg).page(web(cluster, "/open"))
    assert response.status == 200, response
    assert echo.targets() == ["/open"]


async def test_health_checks_from_a_browser_stay_public(kg: Kubegate) -> None:
    """/healthz loaded in a browser without a credential answers ok, not a redirect."""
    response = await Browser(kg).page("/healthz")
    assert response.status == 200 and response.body == b"ok"
