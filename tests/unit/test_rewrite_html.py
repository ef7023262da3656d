"""HTML rewriting (core.rewrite_html): what moves under the prefix, what is left byte for
byte, hostile markup, and streaming across every chunk boundary."""

from __future__ import annotations

import html
import html.parser

import pytest

from kubegate.core.html_values import (
    decode_attribute,
    encode_attribute,
    rewrite_refresh_content,
    rewrite_srcset,
)
from kubegate.core.rewrite_html import HtmlRewriter
from kubegate.core.rewrite_url import UrlRule

P = "/api/v1/namespaces/ns/services/web/proxy"
PB = P.encode()
RULE = UrlRule.build(P, backend_host="10.0.0.5:8080", backend_scheme="http", public_host="gw:6443")
SCRIPT = b"<script>SHIM</script>"


def rewrite(doc: bytes, *, inject: bytes = b"", chunk: int = 0, max_bytes: int = 0) -> bytes:
    rewriter = HtmlRewriter(RULE, inject=inject, max_bytes=max_bytes)
    if not chunk:
        return rewriter.feed(doc) + rewriter.finish()
    out = [rewriter.feed(doc[i : i + chunk]) for i in range(0, len(doc), chunk)]
    return b"".join(out) + rewriter.finish()


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (b'<a href="/x">', b'<a href="' + PB + b'/x">'),
        (b"<a href='/x'>", b"<a href='" + PB + b"/x'>"),
        (b"<a href=/x>", b"<a href=" + PB + b"/x>"),
        (b"<A HREF=/x>", b"<A HREF=" + PB + b"/x>"),
        (b'<a href = "/x" >', b'<a href = "' + PB + b'/x" >'),
        (b'<img src="/i.png"/>', b'<img src="' + PB + b'/i.png"/>'),
        (
            b'<form action="/post"><button formaction="/b">',
            b'<form action="' + PB + b'/post"><button formaction="' + PB + b'/b">',
        ),
        (b'<video poster="/p.jpg">', b'<video poster="' + PB + b'/p.jpg">'),
        (b'<object data="/o.swf">', b'<object data="' + PB + b'/o.swf">'),
        (b'<div data="/o">', b'<div data="/o">'),
        (b'<q cite="/c">', b'<q cite="' + PB + b'/c">'),
        (b'<body background="/bg.png">', b'<body background="' + PB + b'/bg.png">'),
        (b'<img longdesc="/l">', b'<img longdesc="' + PB + b'/l">'),
        (b'<html manifest="/m">', b'<html manifest="' + PB + b'/m">'),
        (
            b'<svg><use xlink:href="/s.svg#i"/></svg>',
            b'<svg><use xlink:href="' + PB + b'/s.svg#i"/></svg>',
        ),
        (b'<base href="/">', b'<base href="' + PB + b'/">'),
        (b'<a href="http://10.0.0.5:8080/abs">', b'<a href="' + PB + b'/abs">'),
        (b'<a href="https://gw:6443/pub">', b'<a href="' + PB + b'/pub">'),
        (b'<a href="//10.0.0.5:8080/np">', b'<a href="' + PB + b'/np">'),
        (b'<a href="&#47;ent">', b'<a href="' + PB + b'/ent">'),
        (b'<a href="&#x2F;hex">', b'<a href="' + PB + b'/hex">'),
        (b'<a href="/x?a=1&amp;b=2">', b'<a href="' + PB + b'/x?a=1&amp;b=2">'),
        (b'<a href="/x?a=1&copy=2">', b'<a href="' + PB + b'/x?a=1&amp;copy=2">'),
        (b'<a href="  /sp">', b'<a href="' + PB + b'/sp">'),
        (
            b'<a class="x" id=y href="/x" title=\'t\'>',
            b'<a class="x" id=y href="' + PB + b"/x\" title='t'>",
        ),
        (b'<a title="a>b" href="/x">', b'<a title="a>b" href="' + PB + b'/x">'),
        (b'<a href="/x"title="t">', b'<a href="' + PB + b'/x"title="t">'),
        (b'<!--> <a href="/x">', b'<!--> <a href="' + PB + b'/x">'),
        (b'<!---> <a href="/x">', b'<!---> <a href="' + PB + b'/x">'),
    ],
)
def test_rewritten(doc: bytes, expected: bytes) -> None:
    """URL attributes pointing at the backend move under the prefix; nothing else changes."""
    assert rewrite(doc) == expected


@pytest.mark.parametrize(
    "doc",
    [
        b'<a href="rel/x">',
        b'<a href="../x">',
        b'<a href="#top">',
        b'<a href="?q">',
        b'<a href="">',
        b"<a href>",
        b"<a href=>",
        b'<a href="https://cdn.example/x">',
        b'<a href="//cdn.example/x">',
        b'<img src="data:image/png;base64,AAAA">',
        b'<a href="javascript:alert(1)">',
        b'<a href="mailto:a@b.example">',
        b'<a href="' + PB + b'/already">',
        b'<div title="/x" class="/y" data-src="/z">',
        b'<script src="app.js"></script>',
        b'<script>var u = "<a href=\\"/x\\">";</script>',
        b"<script>if (a<b) { x = '<img src=/y>'; }</script>",
        b'<SCRIPT>document.write("<a href=/x>")</sCrIpT >',
        b"<textarea><a href=/x></textarea>",
        b"<title><a href=/x></title>",
        b"<xmp><a href=/x></xmp>",
        b"<noscript><a href=/x></noscript>",
        b"<iframe><a href=/x></iframe>",
        b'<!-- <a href="/x"> -->',
        b"<!---> x",
        b'<![CDATA[ <a href="/x"> ]]>',
        b'<!DOCTYPE html><?xml version="1.0"?>',
        b'</a href="/x">',
        b"a < b and c > d <3",
        b'<a title="<a href=/x>">',
        b"<a title='<a href=\"/x\">'>",
        b"<plaintext><a href=/x>",
        b'<meta name="description" content="0; url=/x">',
        b'<meta http-equiv="refresh" content="5">',
        b'<div style="color: red">',
        b"<div style=\"background: url('https://cdn.example/a.png')\">",
        b'<img srcset="a.png 1x, b.png 2x">',
        "<p>é ü 中文 <a href='x'>".encode(),
    ],
)
def test_left_byte_for_byte(doc: bytes) -> None:
    """Markup with nothing to rewrite, or URLs in places that are not attributes, is unchanged."""
    assert rewrite(doc) == doc


def test_srcset_each_candidate() -> None:
    """Every candidate URL of a srcset is rewritten; descriptors and relative ones stay."""
    doc = b'<img srcset="/a.png 1x, b.png 2x,/c.png 3x">'
    assert rewrite(doc) == b'<img srcset="' + PB + b"/a.png 1x, b.png 2x," + PB + b'/c.png 3x">'


def test_imagesrcset() -> None:
    """imagesrcset on a preload link is a srcset too."""
    doc = b'<link rel=preload as=image imagesrcset="/w.png 100w">'
    assert rewrite(doc) == b'<link rel=preload as=image imagesrcset="' + PB + b'/w.png 100w">'


def test_meta_refresh() -> None:
    """The URL in a meta refresh moves under the prefix, whatever the attribute order."""
    doc = b'<meta content="0; url=/next" http-equiv="Refresh">'
    assert rewrite(doc) == b'<meta content="0; url=' + PB + b'/next" http-equiv="Refresh">'


def test_style_attribute() -> None:
    """url() in a style attribute is rewritten, quotes kept, HTML-escaped."""
    doc = b"<div style=\"background: url('/bg.png') no-repeat\">"
    assert rewrite(doc) == b"<div style=\"background: url('" + PB + b"/bg.png') no-repeat\">"


def test_style_element() -> None:
    """url() and @import in a <style> element are rewritten; the element is CSS, not markup."""
    doc = b'<style>@import "/i.css"; a { background: url(/a.png) } /* <a href="/x"> */</style>'
    expected = (
        b'<style>@import "'
        + PB
        + b'/i.css"; a { background: url('
        + PB
        + b'/a.png) } /* <a href="/x"> */</style>'
    )
    assert rewrite(doc) == expected


# -- hostile input -------------------------------------------------------------------------


def test_attribute_breakout_stays_one_attribute() -> None:
    """A value that decodes to quotes and an event handler stays a single href (security.md §2.10)."""
    out = rewrite(b'<a href="/x&quot; onmouseover=alert(1) x=&quot;">')
    attrs = _attributes(out)
    assert [name for name, _ in attrs] == ["href"]
    assert attrs[0][1] == P + '/x" onmouseover=alert(1) x="'


@pytest.mark.parametrize(
    "value",
    [
        b"/x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;",
        b"/x&#39;onerror=alert(1)",
        b"/x&#x3c;img&#32;src=x&#32;onerror=alert(1)&#x3e;",
        b"/x&#x22;&#x20;onclick=alert(1)",
        b"/x&#96;=1&#9;b=2",
    ],
)
@pytest.mark.parametrize("quote", [b'"', b"'", b""])
def test_no_markup_from_rewritten_values(value: bytes, quote: bytes) -> None:
    """Whatever a rewritten value decodes to, the tag keeps exactly its one attribute, no
    new element appears, and the attribute reads back as the rewritten URL, in every
    quoting style."""
    doc = b"<a href=" + quote + value + quote + b">t</a>"
    out = rewrite(doc)
    assert out != doc
    tags = _start_tags(out)
    assert [tag for tag, _ in tags] == ["a"]
    assert [name for name, _ in tags[0][1]] == ["href"]
    assert tags[0][1][0][1] == RULE.rewrite(decode_attribute(value))


def test_raw_specials_in_url_stay_in_place() -> None:
    """A raw '<' or '"' inside an unquoted URL value stays where it was (the prefix goes in
    front): the tag reads exactly as before."""
    doc = b'<a href=/a<b"c x=1>'
    out = rewrite(doc)
    assert out == b"<a href=" + PB + b'/a<b"c x=1>'
    assert [name for name, _ in _attributes(out)] == [name for name, _ in _attributes(doc)]


def test_huge_attribute() -> None:
    """A 2 MiB attribute value is carried through whole, split or not."""
    big = b"A" * (2 << 20)
    doc = b'<img src="data:image/png;base64,' + big + b'"><a href="/x">'
    expected = doc.replace(b'href="/x"', b'href="' + PB + b'/x"')
    assert rewrite(doc, chunk=65536) == expected


@pytest.mark.parametrize(
    "doc",
    [
        b"<a href='/x",
        b"<a href=/x",
        b"<a href",
        b"<a",
        b"<",
        b"<!--",
        b"<!-- x",
        b"</a",
        b"<![CDATA[x",
        b"<script>x</scr",
    ],
)
def test_unfinished_at_the_end_passes_unchanged(doc: bytes) -> None:
    """A construct cut off by the end of the document is emitted as it came."""
    assert rewrite(doc) == doc
    assert rewrite(doc, chunk=1) == doc


def test_malformed_attribute_names() -> None:
    """Odd attribute names (starting with '=', holding quotes) are read as the tokenizer does."""
    doc = b'<a ="x" \'q=1 href="/x" b"c=/y>'
    assert rewrite(doc) == b'<a ="x" \'q=1 href="' + PB + b'/x" b"c=/y>'


# -- streaming -----------------------------------------------------------------------------

SAMPLE = (
    b"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>T</title>"
    b'<link rel=stylesheet href="/s.css"><style>a{background:url("/a.png")}</style>'
    b'<script src="/app.js"></script><script>var x="</scr"+"ipt>"; if (a<b) {}</script></head>'
    b'<body><!-- c <a href="/no"> --><a href=/x title="a>b">x</a><img srcset="/a.png 1x, /b.png 2x">'
    b"<div style=\"background:url('/bg.png')\"></div><textarea><a href=/t></textarea>"
    b'<meta http-equiv=refresh content="0;url=/r"><a href="&#47;e">e</a><a href="rel">r</a></body></html>'
)


def test_every_chunk_boundary() -> None:
    """Split at every offset into two pieces, the output equals the unsplit output."""
    whole = rewrite(SAMPLE, inject=SCRIPT)
    for cut in range(1, len(SAMPLE)):
        rewriter = HtmlRewriter(RULE, inject=SCRIPT)
        out = rewriter.feed(SAMPLE[:cut]) + rewriter.feed(SAMPLE[cut:]) + rewriter.finish()
        assert out == whole, cut


def test_byte_by_byte() -> None:
    """Fed one byte at a time, the output equals the unsplit output."""
    assert rewrite(SAMPLE, inject=SCRIPT, chunk=1) == rewrite(SAMPLE, inject=SCRIPT)


def test_sample_rewrites() -> None:
    """The sample's URLs are all rewritten and its raw text is not."""
    out = rewrite(SAMPLE)
    for path in (b"/s.css", b"/a.png", b"/app.js", b"/x", b"/b.png", b"/bg.png", b"/r", b"/e"):
        assert PB + path in out, path
    assert b'<a href="/no">' in out and b"<a href=/t>" in out and b'href="rel"' in out


def test_streamed_output_is_released_early() -> None:
    """Completed markup is returned at once, not held until the end."""
    rewriter = HtmlRewriter(RULE)
    assert rewriter.feed(b'<p>hello</p><a href="/x">') == b'<p>hello</p><a href="' + PB + b'/x">'
    assert rewriter.feed(b"<a hr") == b""
    assert rewriter.feed(b"ef=/y>") == b"<a href=" + PB + b"/y>"


def test_long_script_streams() -> None:
    """Raw text of a long script is released as it comes, with only a short tail held."""
    rewriter = HtmlRewriter(RULE)
    out = rewriter.feed(b"<script>" + b"x" * 100_000)
    assert len(out) > 99_000


def test_cap_passes_the_rest_unchanged() -> None:
    """Past max_bytes the input is relayed unrewritten and the rewriter says so."""
    rewriter = HtmlRewriter(RULE, max_bytes=100)
    first = rewriter.feed(b'<a href="/x">' * 5)
    second = rewriter.feed(b'<a href="/y">' * 10)  # crosses the cap after 35 bytes
    assert first == (b'<a href="' + PB + b'/x">') * 5
    assert second == (b'<a href="' + PB + b'/y">') * 2 + b'<a href="/y">' * 8
    assert rewriter.feed(b'<a href="/z">') == b'<a href="/z">'
    assert rewriter.truncated


# -- injection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            b"<!DOCTYPE html><html><head><title>",
            b"<!DOCTYPE html><html><head>" + SCRIPT + b"<title>",
        ),
        (b'<html><HEAD class="x"><meta>', b'<html><HEAD class="x">' + SCRIPT + b"<meta>"),
        (
            b"<!doctype html>\n<!-- c --><html><body>",
            b"<!doctype html>\n<!-- c --><html>" + SCRIPT + b"<body>",
        ),
        (b"<p>fragment</p>", SCRIPT + b"<p>fragment</p>"),
        (b"\xef\xbb\xbf<!DOCTYPE html><head>", b"\xef\xbb\xbf<!DOCTYPE html><head>" + SCRIPT),
        (b"", SCRIPT),
        (b"<!DOCTYPE html>", b"<!DOCTYPE html>" + SCRIPT),
        (b"<headline>", SCRIPT + b"<headline>"),
    ],
)
def test_injection_point(doc: bytes, expected: bytes) -> None:
    """The script goes right after <head>, else before the first content after the prologue."""
    assert rewrite(doc, inject=SCRIPT) == expected
    assert rewrite(doc, inject=SCRIPT, chunk=1) == expected


def test_injection_keeps_html_attributes_rewritten() -> None:
    """The <html> start tag is still rewritten when the script goes after it."""
    out = rewrite(b'<html manifest="/m"><head>', inject=SCRIPT)
    assert out == b'<html manifest="' + PB + b'/m"><head>' + SCRIPT


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"&amp;", "&"),
        (b"&#47;", "/"),
        (b"&#x2f", "/"),
        (b"&#0;", "\ufffd"),
        (b"&#x80;", "\u20ac"),
        (b"&copy=1", "&copy=1"),
        (b"&copyx", "&copyx"),
        (b"&copy;x", "\xa9x"),
        (b"&notin;", "\u2209"),
        (b"&notit;", "&notit;"),  # legacy "&not" before an alphanumeric stays literal
        (b"&bogus;", "&bogus;"),
        (b"\xc3\xa9", "\udcc3\udca9"),
    ],
)
def test_decode_attribute(raw: bytes, text: str) -> None:
    """Character references decode with the attribute-value rules; raw bytes stay bytes."""
    assert decode_attribute(raw) == text


def test_encode_attribute_round_trip() -> None:
    """Raw non-ASCII bytes go back as the same bytes; decoded code points as references."""
    assert encode_attribute("\udcc3\udca9/\u4e2d", '"') == b"\xc3\xa9/&#x4e2d;"
    assert encode_attribute('a b"c', "") == b"a&#x20;b&quot;c"
    assert encode_attribute("a b'c", "'") == b"a b&#39;c"


def test_srcset_with_commas_in_url() -> None:
    """A URL containing commas is one candidate; trailing commas end it."""
    assert rewrite_srcset("/a,b.png 1x,, /c.png", RULE.rewrite) == f"{P}/a,b.png 1x,, {P}/c.png"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("0;url=/a", f"0;url={P}/a"),
        ("5; URL='/a'", f"5; URL='{P}/a'"),
        ("3, /a", f"3, {P}/a"),
        ("0", None),
        ("0; url=rel", None),
        ("no", None),
    ],
)
def test_refresh_content(content: str, expected: str | None) -> None:
    """Only the URL part of a refresh value changes."""
    assert rewrite_refresh_content(content, RULE.rewrite) == expected


# -- helpers -------------------------------------------------------------------------------


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _start_tags(doc: bytes) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(doc.decode("utf-8", "surrogateescape"))
    parser.close()
    return parser.tags


def _attributes(doc: bytes) -> list[tuple[str, str | None]]:
    return _start_tags(doc)[0][1]


SHIM = b"<script>SHIM</script>"


def test_srcdoc_is_rewritten_as_the_document_it_is() -> None:
    """An iframe's srcdoc: its URLs get the prefix as in a page, entities and quotes stay
    valid, and a frame with scripts gets the injected script first; without scripts none."""
    doc = b'<iframe srcdoc="&lt;a href=&quot;/x&quot;&gt;a&amp;b&lt;/a&gt;"></iframe>'
    assert rewrite(doc, inject=SHIM) == (
        SHIM + b'<iframe srcdoc="&lt;a href=&quot;' + P.encode() + b"/x&quot;&gt;a&amp;b"
        b'&lt;/a&gt;"></iframe>'
    )
    scripted = b"<iframe srcdoc='<script>f()</script>'></iframe>"
    assert rewrite(scripted, inject=SHIM) == (
        SHIM + b"<iframe srcdoc='&lt;script&gt;SHIM&lt;/script&gt;&lt;script&gt;f()"
        b"&lt;/script&gt;'></iframe>"
    )


def test_srcdoc_left_alone_where_a_rewrite_could_not_be_exact() -> None:
    """Raw non-ASCII bytes (the page's own charset), a srcdoc on another element, one
    with nothing to change, and documents nested deeper than four frames stay as sent."""
    for doc in (
        b'<iframe srcdoc="\xe9<a href=/x>"></iframe>',
        b'<div srcdoc="<a href=/x>"></div>',
        b'<iframe srcdoc="<p>plain</p>"></iframe>',
    ):
        assert rewrite(doc) == doc

    def nested(levels: int) -> bytes:
        inner = b'<a href="/deep">'
        for _ in range(levels):
            inner = b'<iframe srcdoc="' + html.escape(inner.decode()).encode() + b'"></iframe>'
        return inner

    def deepest(doc: bytes) -> bytes:  # the innermost document, all escapes undone
        text = doc.decode()
        while "srcdoc=" in text:
            text = html.unescape(text.split('srcdoc="', 1)[1].rsplit('"></iframe>', 1)[0])
        return text.encode()

    assert deepest(rewrite(nested(4))) == b'<a href="' + P.encode() + b'/deep">'
    assert rewrite(nested(5)) == nested(5)  # the link is in the fifth: kept as sent
