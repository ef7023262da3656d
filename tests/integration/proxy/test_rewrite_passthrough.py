"""A small compressed body that rewriting leaves as it is goes on as the backend encoded it
(proxy/rewrite_stream.py, ``BodyTransformer.whole``), through a real ``kubegate serve``."""

from __future__ import annotations

import gzip

from integration.proxy.test_rewrite import FETCH, HTML, fetch, serving

FRAGMENT = b'<div class="row"><a href="details/1.html">one</a> <span>two</span></div>' * 20


async def test_unchanged_compressed_body_is_relayed_as_encoded(cluster, backends):
    """An HTML fragment without a URL to rewrite comes back byte for byte as gzipped."""
    encoded = gzip.compress(FRAGMENT, 9)
    headers = [*HTML, ("Content-Encoding", "gzip")]
    response, _ = await fetch(cluster, backends, serving(headers, encoded), headers=FETCH)
    assert response.header("x-kubegate-rewrite") == "html"
    assert response.body == encoded


async def test_changed_compressed_body_is_reencoded(cluster, backends):
    """A body that rewriting changes is sent re-encoded, in the same coding."""
    body = FRAGMENT + b'<a href="/top">top</a>'
    headers = [*HTML, ("Content-Encoding", "gzip")]
    response, prefix = await fetch(
        cluster, backends, serving(headers, gzip.compress(body)), headers=FETCH
    )
    assert response.header("content-encoding") == "gzip"
    assert gzip.decompress(response.body) == body.replace(b'"/top"', f'"{prefix}/top"'.encode())
