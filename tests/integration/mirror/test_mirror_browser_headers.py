"""A browser's request through a via-apiserver mirror whose upstream credential is a client
certificate (or basic auth): the mirror judged the browser itself, so the upstream must not
take the mirror's own credential for one a browser attached (which would refuse the
impersonation and confine it to proxy paths)."""

from __future__ import annotations

from integration.mirror.kit import bearer, token
from integration.proxy.harness import Port

BROWSER = [
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "cors"),
    ("Sec-Fetch-Dest", "empty"),
]


async def test_browser_request_through_the_mirror_reaches_the_backend(cluster, backends, mirror):
    """A same-origin fetch (Sec-Fetch-*, Origin of the mirror) reaches the upstream backend."""
    backend = await backends.http()
    await cluster.serve("web", Port(backend))
    backend.reset()
    path = cluster.path("services", "web:http", "/page")
    headers = [*bearer(token("alice")), *BROWSER, ("Origin", f"https://{mirror.netloc}")]
    response = await mirror.request("POST", path, headers=headers, body=b"x=1", auth=None)
    assert response.status == 200, response
    assert [r.target for r in backend.requests] == ["/page"]
