"""The HTML rewriter's fast lane (core.html_fast, core.html_fast_lane) against the exact
path alone (``HtmlRewriter(fast=False)``): byte for byte the same output, on tricky markup
and on random HTML-ish input split anywhere."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubegate.core.rewrite_html import HtmlRewriter
from kubegate.core.rewrite_url import UrlRule

P = "/api/v1/namespaces/ns/services/web/proxy"
PB = P.encode()
RULE = UrlRule.build(P, backend_host="10.0.0.5:8080", backend_scheme="http", public_host="gw:6443")
SCRIPT = b"<script>SHIM</script>"


def rewrite(
    doc: bytes, *, fast: bool, cuts: tuple[int, ...] = (), inject: bytes = b"", max_bytes: int = 0
) -> bytes:
    rewriter = HtmlRewriter(RULE, inject=inject, max_bytes=max_bytes, fast=fast)
    bounds = [0, *sorted(cuts), len(doc)]
    out = [rewriter.feed(doc[start:stop]) for start, stop in itertools.pairwise(bounds)]
    return b"".join(out) + rewriter.finish()


def both(doc: bytes, **options: object) -> tuple[bytes, bytes]:
    return rewrite(doc, fast=True, **options), rewrite(doc, fast=False, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "doc",
    [
        # the value's last '=', its closing quote and '/' make "=\"/" outside any URL
        b'<a title="x href="/><a href="/y">',
        b'<img alt="a="/><a href="/y">',
        b'<a title=\'x="/y\' href="/z">',
        b'<p>a href="/x" in text</p><a href="/y">',
        b'<!-- <a href="/x"> --><a href="/y">',
        b'<pre>&lt;a href="/x"&gt;</pre><a href="/y">',
        b'<script>x.innerHTML=\'<a href="/x">\';</script><a href="/y">',
        b'<textarea><a href="/x"></textarea><a href="/y">',
        # already under the prefix, and a lookalike that is not
        b'<a href="' + PB + b'/x"><a href="/y"><a href="' + PB + b'x">',
        # absolute URLs: foreign, the backend's, kubegate's, spelt oddly
        b'<a href="https://example.com/x"><a href="http://10.0.0.5:8080/y"><a href="/z">',
        b'<a href="https://GW.:6443/x"><a href="/z">',
        b'<a href="http://10&#46;0.0.5:8080/x"><a href="/z">',
        b'<a href="http:/\\10.0.0.5:8080/x"><a href="/z">',
        b'<a href="https://u@10.0.0.5:8080/x"><a href="/z">',
        b'<a data-url="http://10.0.0.5:8080/x" href="/z">',
        b'<a href="HTTP://10.0.0.5:8080/x"><a href="hTtP://10.0.0.5:8080/x">',
        # paths the exact path normalises or escapes
        b'<a href="/x/../y"><a href="/./y"><a href="/%2e%2e/y"><a href="//10.0.0.5:8080/np">',
        b'<a href="/a<b>"><a href="/a b"><a href="/a&amp;b"><a href="/\xc3\xa9">',
        b"<a href='/sq'><a href=/uq><a href='/a\"b'><a href=/a\"b>",
        # srcset, style, meta, object, raw-text elements with URL attributes
        b'<img src="/a.png" srcset="/a.png 1x, /b.png 2x" alt="">',
        b'<img srcset="a.png 1x, b.png 2x"><img srcset=/c.png>',
        b'<div style="background:url(/bg.png)"><div style="color:red" title="/t">',
        b'<meta http-equiv=refresh content="0;url=/r"><meta content="/c">',
        b'<object data="/o"></object><div data="/d">',
        b'<script src="/app.js"></script><iframe src="/f"></iframe><title>/t</title>',
        # odd but legal syntax the fast lane declines
        b'<a href = "/sp"><a\nhref="/nl"><a/href="/sl"><A HREF="/UP"><a href="/x"/>',
        b'<a ="x" href="/y"><a b"c=/d href="/e"><a x=a="b href=/f>',
        b"<title>x</title> 1 < 2 <a href=/y>",
        b"<noscript></noscript><![CDATA[x]]><a href=/y>",
    ],
)
def test_fast_lane_agrees_on_tricky_markup(doc: bytes) -> None:
    """Markup at the edges of the fast lane's subset comes out as the exact path writes it."""
    fast, exact = both(doc)
    assert fast == exact
    assert both(doc, inject=SCRIPT)[0] == both(doc, inject=SCRIPT)[1]


def test_fast_lane_rewrites_plain_paths() -> None:
    """The common case really is rewritten (the prefix goes in front of each plain path)."""
    doc = b'<ul><li><a class="nav" href="/docs/a">a</a></li><li><img src="/i.png" alt=""></li></ul>'
    out = rewrite(doc, fast=True)
    assert out == doc.replace(b'="/', b'="' + PB + b"/")


# What random documents are made of: the delimiters of every tokenizer state, names and
# values that matter, URLs of each kind, whole tags of the common shapes.
FRAGMENTS = [
    *(
        b"< > / = \" ' a p td href HREF src srcset style url( ) /x // .. . %2e & &#47; http:// "
        b"https:// 10.0.0.5:8080 gw:6443 example.com <a <img <meta http-equiv=refresh "
        b"content= 0;url= <script> </script> <style> </style> <!-- --> <![CDATA[ ]]> <! <? </ "
        b"<title> </title> <plaintext> \\ ` ? # , data <object \xc3\xa9 class h H - --"
    ).split(b" "),
    b" ",
    b"\n",
    b" 1x",
    b"\x00",
    PB,
    b'<a href="/x">',
    b'<img src="/i.png" alt="">',
    b'<a href="https://example.com/x">',
    b'<a href="http://10.0.0.5:8080/y">',
    b"<td>x</td>",
    b'<p class="c">t</p>',
    b'<img srcset="/a 1x, /b 2x">',
    b'<a title="x href="/>',
    b'<iframe srcdoc="&lt;a href=&quot;/x&quot;&gt;"></iframe>',
    b"<iframe srcdoc='<script>f()</script><img src=/i.png>'></iframe>",
    b'<p srcdoc="<a href=/z>">',
    b'<iframe srcdoc="<script>f()</script>"></iframe>',  # only the injected script to add
]


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(FRAGMENTS), max_size=40),
    cut_points=st.lists(st.integers(min_value=0, max_value=2000), max_size=5),
    inject=st.sampled_from([b"", SCRIPT]),
    max_bytes=st.sampled_from([0, 0, 37, 150]),
)
def test_fast_lane_agrees_with_exact_path(
    pieces: list[bytes], cut_points: list[int], inject: bytes, max_bytes: int
) -> None:
    """On random HTML-ish input, fed in random pieces, the fast lane writes exactly what the
    exact path alone writes."""
    doc = b"".join(pieces)
    cuts = tuple(cut % (len(doc) + 1) for cut in cut_points)
    options = {"cuts": cuts, "inject": inject, "max_bytes": max_bytes}
    fast, exact = both(doc, **options)
    assert fast == exact


@pytest.mark.parametrize("fast", [True, False])
def test_raw_text_then_markup_does_not_crash(fast: bool) -> None:
    """A raw-text element followed by a '<' in text or a bogus comment is rewritten (a
    capturing group in a possessive loop made Python 3.11's re raise SystemError here,
    CPython gh-101955)."""
    doc = b"<title>x</title> 1 < 2 <?pi?><a href=/y>"
    assert rewrite(doc, fast=fast) == doc.replace(b"=/y", b"=" + PB + b"/y")
