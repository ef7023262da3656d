"""The path and query a backend receives, and the redirect for a bare ``…/proxy``
(k8s-proxy-semantics.md §1.3, §1.7, §1.8; security.md A22, A24)."""

from __future__ import annotations

import pytest

from integration.proxy.harness import Port, new_cluster


@pytest.fixture
async def backend(cluster, backends):
    """An echo backend published as Service ``svc`` in the test's namespace."""
    echo = await backends.http()
    await cluster.serve("svc", Port(echo))
    return echo


@pytest.mark.parametrize(
    ("subpath", "forwarded"),
    [("/a/b/", "/a/b/"), ("/a/b", "/a/b"), ("/", "/")],
)
async def test_trailing_slash_is_kept(cluster, backend, subpath, forwarded):
    """The backend path ends in '/' exactly when the proxied path does."""
    response = await cluster.get("services", "svc", subpath)
    assert response.status == 200
    assert backend.targets() == [forwarded]


@pytest.mark.parametrize(
    "climb",
    [
        "/../../../../{ns}/services/svc/proxy/x",
        "/%2e%2e/%2E%2E/.%2e/%2e./{ns}/services/svc/proxy/x",
        "/a/../../../../../{ns}/services/svc/proxy/x",
    ],
)
async def test_dot_segments_cannot_climb_out_of_the_backend_root(cluster, backends, climb):
    """``..`` in the sub-path stays under the backend's '/', never another namespace (A22)."""
    mine, theirs = await backends.http(), await backends.http()
    other = await new_cluster(cluster.kg)
    await other.serve("svc", Port(theirs))
    await cluster.serve("svc", Port(mine))
    response = await cluster.get("services", "svc", climb.format(ns=other.namespace))
    assert response.status in (200, 400), response
    assert theirs.requests == []
    if response.status == 200:
        assert mine.targets() == [f"/{other.namespace}/services/svc/proxy/x"]


async def test_raw_query_is_forwarded_byte_for_byte(cluster, backend):
    """The query reaches the backend exactly as sent: escapes, '+', ';', repeats, empties."""
    query = "a=%20x+y&a=2&b=&c&d=1;e=2&f=%2F%3F%26&g=%e2%82%AC&h=%41"
    response = await cluster.get("services", "svc", f"/q?{query}")
    assert response.status == 200
    assert backend.targets() == [f"/q?{query}"]


async def test_empty_query_after_question_mark_is_not_invented(cluster, backend):
    """A path without a query reaches the backend without a '?'."""
    await cluster.get("services", "svc", "/plain")
    assert backend.targets() == ["/plain"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_bare_proxy_path_redirects_to_the_slash_form(cluster, backend, method):
    """GET or HEAD ``…/proxy?q`` answers 301 to the relative ``…/proxy/?q``."""
    path = cluster.path("services", "svc", "")
    response = await cluster.kg.request(method, f"{path}?x=1&y=%20")
    assert response.status == 301
    assert response.header("location") == f"{path}/?x=1&y=%20"
    assert backend.requests == []


async def test_bare_proxy_redirect_without_query_has_no_question_mark(cluster, backend):
    """GET ``…/proxy`` without a query redirects to ``…/proxy/`` exactly."""
    path = cluster.path("services", "svc", "")
    response = await cluster.kg.request("GET", path)
    assert response.status == 301
    assert response.header("location") == f"{path}/"


async def test_post_to_bare_proxy_path_goes_to_backend_root(cluster, backend):
    """POST ``…/proxy?q`` is not redirected: the backend gets ``POST /?q`` with the body."""
    path = cluster.path("services", "svc", "")
    response = await cluster.kg.request("POST", f"{path}?k=v", body=b"payload")
    assert response.status == 200
    assert [(r.method, r.target, r.body) for r in backend.requests] == [
        ("POST", "/?k=v", b"payload")
    ]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_every_proxy_method_reaches_the_backend(cluster, backend, method):
    """PUT, PATCH, DELETE and OPTIONS are proxied with their method."""
    response = await cluster.kg.request(method, cluster.path("services", "svc", "/m"), body=b"{}")
    assert response.status == 200
    assert [(r.method, r.target) for r in backend.requests] == [(method, "/m")]
