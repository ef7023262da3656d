"""BodyTransformer.whole (proxy/rewrite_stream.py): a whole compressed body is sent on as
encoded when rewriting leaves it unchanged, re-encoded otherwise, and never kept whole in
memory past PASS_MAX."""

from __future__ import annotations

import gzip

from kubegate.core.rewrite_url import UrlRule
from kubegate.proxy.rewrite_stream import PASS_MAX, BodyTransformer

P = "/api/v1/namespaces/ns/services/web/proxy"
RULE = UrlRule.build(P, backend_host="10.0.0.5:8080", backend_scheme="http")
BORING = b'<p class="x">text <a href="rel/y">y</a></p>\n'


def transformer() -> BodyTransformer:
    return BodyTransformer(kind="html", rule=RULE, coding="gzip", inject=b"", max_bytes=10 << 20)


def test_unchanged_body_keeps_its_encoding() -> None:
    """A gzip body with nothing to rewrite comes back as the very same bytes."""
    encoded = gzip.compress(BORING * 100, 9)
    assert transformer().whole(encoded) == encoded


def test_changed_body_is_reencoded() -> None:
    """A gzip body with a URL to rewrite comes back re-encoded, rewritten."""
    body = BORING * 100 + b'<a href="/x">x</a>'
    out = transformer().whole(gzip.compress(body))
    assert gzip.decompress(out) == body.replace(b'"/x"', b'"' + P.encode() + b'/x"')


def test_body_past_pass_max_is_encoded_as_it_goes() -> None:
    """A body decoding to more than PASS_MAX is re-encoded (not kept to compare), intact."""
    body = BORING * (2 * PASS_MAX // len(BORING))
    encoded = gzip.compress(body)
    out = transformer().whole(encoded)
    assert out != encoded
    assert gzip.decompress(out) == body


def test_css_cap_does_not_depend_on_the_pieces() -> None:
    """A stylesheet past the cap comes out the same whole or streamed in small pieces: its
    first max_bytes rewritten, the rest as it was."""
    css = b"a{background:url(/i.png)}\n" * 100
    cap = len(css) // 2

    def css_transformer() -> BodyTransformer:
        return BodyTransformer(kind="css", rule=RULE, coding="", inject=b"", max_bytes=cap)

    whole = css_transformer().whole(css)
    streamed = css_transformer()
    pieces = b"".join(streamed.feed(css[i : i + 100]) for i in range(0, len(css), 100))
    assert pieces + streamed.finish() == whole
    assert whole.endswith(css[cap + 50 :]) and whole.startswith(b"a{background:url(" + P.encode())
