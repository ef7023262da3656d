"""The rewriting cap (``--proxy-rewrite-max-bytes``) through a real ``kubegate serve``."""

from __future__ import annotations

from integration.proxy.harness import backends_fixture, cluster_fixture, kubegate_fixture
from integration.proxy.test_rewrite import HTML, fetch, serving

CAP = 4096
kg_capped = kubegate_fixture(
    "--proxy-allow-cidrs", "127.0.0.0/8", "--proxy-rewrite-max-bytes", str(CAP)
)
backends = backends_fixture()
cluster = cluster_fixture("kg_capped")

LINK = b'<a href="/x">x</a>'


async def test_declared_length_past_cap_is_announced(cluster, backends):
    """A page longer than the cap says truncated-at-cap; its head is rewritten, its tail not."""
    body = LINK * (3 * CAP // len(LINK))
    response, prefix = await fetch(
        cluster, backends, serving(HTML, body), headers=[("Sec-Fetch-Dest", "empty")]
    )
    assert response.header("x-kubegate-rewrite") == "truncated-at-cap"
    rewritten = f'<a href="{prefix}/x">x</a>'.encode()
    assert response.body.startswith(rewritten)
    assert response.body.endswith(LINK * 10)
    assert response.body.count(rewritten) < body.count(LINK) // 2


async def test_page_within_cap_is_rewritten_whole(cluster, backends):
    """A page shorter than the cap is rewritten throughout and says html."""
    body = LINK * (CAP // len(LINK) // 2)
    response, prefix = await fetch(
        cluster, backends, serving(HTML, body), headers=[("Sec-Fetch-Dest", "empty")]
    )
    assert response.header("x-kubegate-rewrite") == "html"
    assert LINK not in response.body
    assert response.body.count(f'<a href="{prefix}/x">'.encode()) == body.count(LINK)
