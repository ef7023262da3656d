"""CSS rewriting (core.rewrite_css): url() and @import under the prefix, strings and
comments untouched, streaming across chunk boundaries."""

from __future__ import annotations

import pytest

from kubegate.core.rewrite_css import CssStream, rewrite_css
from kubegate.core.rewrite_url import UrlRule

P = "/api/v1/namespaces/ns/services/web/proxy"
RULE = UrlRule.build(P, backend_host="10.0.0.5:8080", backend_scheme="http")


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ("a{background:url(/a.png)}", f"a{{background:url({P}/a.png)}}"),
        ('a{background:url("/a.png")}', f'a{{background:url("{P}/a.png")}}'),
        ("a{background:url('/a.png')}", f"a{{background:url('{P}/a.png')}}"),
        ("a{background:URL( /a.png )}", f"a{{background:URL( {P}/a.png )}}"),
        ("a{b:url(http://10.0.0.5:8080/a.png)}", f"a{{b:url({P}/a.png)}}"),
        ('@import "/base.css";', f'@import "{P}/base.css";'),
        ("@import '/base.css' screen;", f"@import '{P}/base.css' screen;"),
        ("@IMPORT url(/base.css);", f"@IMPORT url({P}/base.css);"),
        (
            "@font-face{src:url(/f.woff2) format('woff2'),url(/f.woff)}",
            f"@font-face{{src:url({P}/f.woff2) format('woff2'),url({P}/f.woff)}}",
        ),
        ("a{b:url(/\\61 .png)}", f"a{{b:url({P}/a.png)}}"),
        ('a{b:url("/a\\"b.png")}', f'a{{b:url("{P}/a\\22 b.png")}}'),
        ("a{b:url(/a%20b.png)}", f"a{{b:url({P}/a%20b.png)}}"),
    ],
)
def test_rewritten(css: str, expected: str) -> None:
    """URLs in url() and @import pointing at the backend move under the prefix."""
    assert rewrite_css(css, RULE.rewrite) == expected


@pytest.mark.parametrize(
    "css",
    [
        "a{background:url(a.png)}",
        "a{background:url(../a.png)}",
        "a{background:url(https://cdn.example/a.png)}",
        "a{background:url(//cdn.example/a.png)}",
        "a{background:url(data:image/png;base64,AAAA)}",
        'a{content:"url(/x)"}',
        "/* url(/x) */ a{}",
        "a{b:myurl(/x)}",
        "a{b:url(/x y)}",
        "@importx '/x';",
        f"a{{b:url({P}/x)}}",
        "a{b:url(/x",
        "a{b:'unterminated url(/x)",
    ],
)
def test_left_alone(css: str) -> None:
    """Relative, foreign, quoted-text, commented and malformed URLs are not rewritten."""
    assert rewrite_css(css, RULE.rewrite) is None


def test_no_style_breakout() -> None:
    """A URL that decodes to '</style>' comes out escaped: it cannot end a <style> element."""
    out = rewrite_css("a{b:url(/x\\3c/style\\3e)}", RULE.rewrite)
    assert out is not None and "<" not in out and ">" not in out


def test_non_ascii_bytes_kept() -> None:
    """Raw non-ASCII bytes (surrogate-escaped) pass through as the same bytes."""
    stream = CssStream(RULE.rewrite)
    css = "a{b:url(/é.png)} /* ü */".encode()
    assert stream.feed(css) + stream.finish() == f"a{{b:url({P}/é.png)}} /* ü */".encode()


SAMPLE = (
    b'@import "/a.css";\n/* url(/no) */ .x{background:url( "/b.png" )}\n'
    b".y{background:url(/c.png) , url('d.png')} .z{content:'url(/no)'} @import url(/e.css);"
)


def test_every_chunk_boundary() -> None:
    """Split at every offset, the output equals the unsplit output."""
    stream = CssStream(RULE.rewrite)
    whole = stream.feed(SAMPLE) + stream.finish()
    assert whole.count(P.encode()) == 4
    for cut in range(1, len(SAMPLE)):
        stream = CssStream(RULE.rewrite)
        assert stream.feed(SAMPLE[:cut]) + stream.feed(SAMPLE[cut:]) + stream.finish() == whole, cut


def test_byte_by_byte() -> None:
    """Fed one byte at a time, the output equals the unsplit output."""
    stream = CssStream(RULE.rewrite)
    whole = stream.feed(SAMPLE) + stream.finish()
    stream = CssStream(RULE.rewrite)
    assert (
        b"".join(stream.feed(SAMPLE[i : i + 1]) for i in range(len(SAMPLE))) + stream.finish()
        == whole
    )
