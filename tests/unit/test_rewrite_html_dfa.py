"""The fast lane's DFA tier (core.html_fast_dfa, RE2) and its srcset shortcut, held to the
exact path (``HtmlRewriter(fast=False)``) byte for byte, with the DFA and without it (the
sre lane alone), on hostile markup and on random tags built attribute by attribute."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kubegate.core.html_fast_lane as lane
from kubegate.core.html_fast import _GAP, _NO_VALUE, FAST_RE, STEP_RE, _words
from kubegate.core.html_fast_dfa import GAP
from kubegate.core.rewrite_html import HtmlRewriter
from kubegate.core.rewrite_url import UrlRule

P = "/api/v1/namespaces/ns/services/web/proxy"
PB = P.encode()
RULE = UrlRule.build(P, backend_host="10.0.0.5:8080", backend_scheme="http", public_host="gw:6443")
# The sre gap plus the one construct the DFA takes and it does not (html_fast_dfa): a
# lower-case srcset with a double-quoted value, which the lane rewrites itself.
_SRCSET_NO_VALUE = _words((b"srcset", b"imagesrcset"), _NO_VALUE)
assert _SRCSET_NO_VALUE in _GAP  # in each start tag's attributes
SRE_GAP = re.compile(
    _GAP.replace(_SRCSET_NO_VALUE, rb'(?:srcset="[^"]*+"|' + _SRCSET_NO_VALUE + rb")")
)


@pytest.fixture(params=["dfa", "sre"])
def tier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the DFA tier, and again with the sre lane alone."""
    if request.param == "sre":
        monkeypatch.setattr(lane, "GAP", None)
    return str(request.param)


def rewrite(doc: bytes, *, fast: bool, cuts: tuple[int, ...] = (), inject: bytes = b"") -> bytes:
    rewriter = HtmlRewriter(RULE, inject=inject, fast=fast)
    bounds = [0, *sorted(cuts), len(doc)]
    out = [rewriter.feed(doc[start:stop]) for start, stop in itertools.pairwise(bounds)]
    return b"".join(out) + rewriter.finish()


SHIM = b"<script>SHIM</script>"


def test_the_dfa_is_there() -> None:
    """google-re2 is installed (a declared dependency), so the DFA tier runs."""
    assert GAP is not None


def test_step_pattern_numbers_groups_as_the_lane_pattern() -> None:
    """STEP_RE's candidate groups have FAST_RE's numbers (the lane uses one set for both)."""
    assert STEP_RE.groupindex == FAST_RE.groupindex


@pytest.mark.parametrize(
    "doc",
    [
        b'<p>x</p><iframe srcdoc="<script>f()</script>"></iframe><a href="/y">',
        b'<iframe srcdoc="<a href=/x>" src="/f"></iframe><iframe srcdoc="plain"></iframe>',
        b'<iframe SRCDOC="&lt;img src=&quot;/i.png&quot;&gt;"></iframe><p srcdoc="<a href=/z>">',
    ],
)
def test_srcdoc_documents_agree_with_the_exact_path(doc: bytes, tier: str) -> None:
    """An iframe's srcdoc is a document the exact path rewrites (and gives the injected
    script when it has scripts): every tier leaves it to the exact path, cut anywhere."""
    exact = rewrite(doc, fast=False, inject=SHIM)
    assert exact != rewrite(doc, fast=False)  # (the injected script went into the frame)
    for cut in range(len(doc) + 1):
        assert rewrite(doc, fast=True, cuts=(cut,), inject=SHIM) == exact


@pytest.mark.parametrize(
    "doc",
    [
        # a value's last '=', its closing quote and '/' spell NEEDLE outside any value
        b'<svg background="/x="/><a href="/y">',
        b'<a xlink:href="/x="/ ><a href="/y">',
        b'<img alt="=" src="/a="/><a title="x="/>',
        # style and srcset values that start with '/': never a plain URL attribute
        b'<input style="/a 1x (x), /b"><a href="/y">',
        b'<div srcset="//cdn/x"><img srcset="' + PB + b'/a 1x">',
        # a candidate tag that also holds an absolute URL on the backend's own host
        b'<img srcset="/a 1x" src="http://10.0.0.5:8080/y"><a href="/z">',
        b'<a href=\'/x\' icon="http://10.0.0.5:8080/y"><a href="/z">',
        b'<b srcset="color" title="http"><a href="/z">',
        # quoted '>' and '<' in values, names in capitals, unquoted values
        b'<a title="a>b" href="/x"><a title="<a href=/y>" href="/z">',
        b'<A HREF="/x"><IMG SRC=/y><a Href="hTtP://10.0.0.5:8080/x">',
        b"<a href=/x title=y><a href=/x=y><a href='/a?b=c'>",
        # entities, spaces and backslashes in URLs
        b'<a href="&#47;x"><a href="/a&amp;b"><a href=" /x"><a href="\\x"><a href="/%2e%2e/x">',
        # script with an end tag spelt apart, comments and CDATA holding markup
        b"<script>document.write('</scr' + 'ipt><a href=\"/x\">')</script><a href=\"/y\">",
        b'<!-- <a href="/x"> --><!--> <a href="/y"> --><!---><a href="/z">',
        b'<![CDATA[<a href="/x">]]><a href="/y"><!x href="/z"><?x href="/w">',
        # SVG, xlink:href, srcset lists, inline style url()
        b'<svg><use xlink:href="/s.svg#i"/><image href="/i.png"/></svg>',
        b'<img srcset="/a.png 1x, /b.png 2x"><img srcset="/a.png,/b.png 2x">',
        b'<img srcset=" /a 1x,, /b, /c 2x (w)"><img srcset="a.png 1x, /b 2x">',
        b'<div style="background:url(/bg.png)"><p style="color:red" title="/t">',
        # raw-text elements that the DFA takes whole, and those it leaves to sre
        b'<title>t</title><textarea><a href="/x"></textarea><a href="/y">',
        b'<noscript><a href="/x"></noscript><iframe src="/f"></iframe><xmp>=</xmp>',
        b'<script>a = b; c == d; e=\'x\'; f=1</script><script>g="/h"</script><a href="/y">',
        b'<script>x=</script><script>y="h"</script><title>a=b</title><a href="/y">',
        b'<meta http-equiv=refresh content="0;url=/r"><object data="/o"></object>',
        # '=' in text: taken unless a quote follows it
        b'<p>a = b; c == d; e=</p>x=<a href="/y">y=="/z" w=\'/v\' =>',
        b'<p>a="/b" =<!-- c --> ==<br>=</p><a href="/y">= "/w"=',
        # srcset the DFA takes, which the lane rewrites: plain, odd, absolute, prefixed,
        # empty, twice in a tag, after other attributes, in a raw-text start tag
        b'<img src="/a" srcset="/a 1x, /b 2x" alt="x"><img srcset="" src="/c">',
        b'<img srcset="http://10.0.0.5:8080/a 1x, /b 2x"><a href="/y">',
        b'<img srcset="https://example.com/a 1x"><img srcset=" /a 1x,, /b, /c 2x (w)">',
        b'<img srcset="' + PB + b'/a 1x, /b 2x"><img srcset="/a&amp;b 1x,/c">',
        b'<img srcset="/a 1x" srcset="/b 2x"><script srcset="/s">x=1</script><a href="/y">',
        b'<img srcset="/a="/><img srcset="a=" src="/b"><img srcset="/a=" alt="b">',
        b'<img srcset="/a 1x /b, /c 2x"><img SRCSET="/a 1x/2,\t/c, ,/d"><img srcset=",/e">',
        # lookalikes that are not a lower-case srcset attribute
        b'<img data-srcset="/a 1x, /b 2x" xsrcset="/c" SRCSET="/d" imagesrcset="/e">',
        b'<p>srcset="/a 1x"</p><!-- srcset="/b" --><img title="srcset=" src="/c">',
        b'<script>x.srcset="/a 1x"</script><textarea> srcset="/b"</textarea><a href="/y">',
        b'<meta srcset="/m 1x"><img alt=\'srcset="/a"\' src="/b">',
        # <meta>: taken without http-equiv (none of its attributes is rewritten then)
        b'<meta name="a" content="0;url=/r"><meta charset=utf-8/><meta\nname=x><a href="/y">',
        b'<meta http-equiv=refresh content="0;url=/r"><META HTTP-EQUIV="Refresh" content="1;url=/s">',
        b'<meta content="0;url=/r" http-equiv="refresh"><meta http-equiv content="0;url=/r">',
        b'<meta name=a href="/x" src=\'/y\' srcset="/z 1x"><meta http-equivx=refresh content="/c">',
        b'<meta content="http://10.0.0.5:8080/x"><a href="/y"><meta content="https://gw:6443/">',
        b'<meta x=y/http-equiv=refresh content="0;url=/r"><meta/http-equiv=refresh content="0;url=/r">',
    ],
)
def test_tiers_agree_with_the_exact_path(doc: bytes, tier: str) -> None:
    """Hostile markup comes out as the exact path writes it, whole and cut anywhere."""
    exact = rewrite(doc, fast=False)
    assert rewrite(doc, fast=True) == exact
    for cut in range(len(doc) + 1):
        assert rewrite(doc, fast=True, cuts=(cut,)) == exact


def test_plain_srcset_shortcut_prefixes_every_url() -> None:
    """A srcset of plain root-relative URLs gets the prefix in front of each (in bytes)."""
    doc = b'<img srcset="/a.png 1x, /b.png 2x,/c.png">'
    assert rewrite(doc, fast=True) == (
        b'<img srcset="' + PB + b"/a.png 1x, " + PB + b"/b.png 2x," + PB + b'/c.png">'
    )


# Tags built attribute by attribute from names and values that matter to one tier or the
# other, between comments, raw-text elements, odd constructs and text.
NAMES = (
    b"href HREF src SRC srcset SrcSet imagesrcset style STYLE data data-x action formaction"
    b" poster cite background longdesc manifest icon xlink:href class title alt content"
    b' http-equiv charset x s st styl styles srcse i image <x a"b =x h ht srcdoc SrcDoc srcdo'
).split(b" ")
VALUES = [
    *(
        b"/x /a/b.png / //cdn/x /../x /./x /%2e%2e/x /%41/b /a&amp;b /a<b> http://10.0.0.5:8080/x"
        b" https://example.com/x HTTP://10.0.0.5:8080/x hTtp://gw:6443/x http ht h H hello"
        b" Hello html x= = a= == /x= /a?b=c&d=e /a#f javascript:x data:x== //gw:6443/x"
        b" https://gw:6443/x url(/x) 0;url=/r refresh /\xc3\xa9 \xc3\xa9"
    ).split(b" "),
    b"",
    b" /x",
    b"\t/x",
    b"&#47;x",
    b"\\x",
    b"color: red",
    b"background:url(/bg.png)",
    b"/a.png 1x, /b.png 2x",
    b"/a.png,/b.png",
    b"a.png 1x, /b 2x",
    b"/a 1x (x), /b",
    PB + b"/x",
    PB + b"x",
    b"&lt;img src=&quot;/i.png&quot;&gt;",
    b"<script>f()</script><a href=/x>",
    b"<script>f()</script>",
    b"&lt;iframe srcdoc=&quot;&amp;lt;a href=/y&amp;gt;&quot;&gt;",
]
TAGS = (
    b"a A img div p td meta object script style title textarea iframe noscript xmp noembed"
    b" noframes plaintext link form svg metas scripts s t ti titl m me span x-y"
).split(b" ")
RAW = [b"script", b"style", b"title", b"textarea", b"iframe", b"noscript", b"xmp"]


@st.composite
def attribute(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(NAMES))
    if draw(st.integers(0, 6)) == 0:
        return name
    quote = draw(st.sampled_from([b'"', b'"', b'"', b"'", b""]))
    equals = draw(st.sampled_from([b"=", b"=", b"=", b" = ", b"= "]))
    return name + equals + quote + draw(st.sampled_from(VALUES)) + quote


@st.composite
def construct(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind < 5:
        name = draw(st.sampled_from(TAGS))
        parts = [b"<" + name]
        for _ in range(draw(st.integers(0, 4))):
            parts.append(draw(st.sampled_from([b" ", b" ", b"\n", b"/", b""])))
            parts.append(draw(attribute()))
        parts.append(draw(st.sampled_from([b">", b">", b"/>", b" />", b""])))
        if name.lower() in RAW and draw(st.booleans()):
            parts.append(draw(st.sampled_from([b"", b"x", b"a<b", b'x="/y"', b"</" + name])))
            parts.append(b"</" + draw(st.sampled_from([name, name.upper(), b"x"])) + b">")
        return b"".join(parts)
    if kind == 5:
        return b"</" + draw(st.sampled_from(TAGS)) + draw(st.sampled_from([b">", b' x="/y">']))
    if kind == 6:
        body = draw(st.sampled_from([b"", b"-", b" a-b ", b"a--b", b'<a href="/x">', b"=", b">"]))
        return b"<!--" + body + draw(st.sampled_from([b"-->", b"--!>", b"--->", b""]))
    if kind == 7:
        return draw(
            st.sampled_from([b"<!DOCTYPE html>", b"<?x?>", b"<![CDATA[x]]>", b"<>", b"< a"])
        )
    return draw(
        st.sampled_from(
            [
                *(b"text", b" ", b"\n", b"a=b", b'a="/b"', b"1 < 2", b"x > y", PB),
                *(b"a = b", b"x=", b"==", b' srcset="/s 1x"', b"=>", b'= "/q"'),
            ]
        )
    )


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(construct(), max_size=20),
    cut_points=st.lists(st.integers(min_value=0, max_value=2000), max_size=3),
    inject=st.sampled_from([b"", b"<script>SHIM</script>"]),
)
def test_tiers_agree_on_random_tags(
    pieces: list[bytes], cut_points: list[int], inject: bytes
) -> None:
    """On random tags, comments and raw text, fed in random pieces, the fast lane with the
    DFA tier and without it writes exactly what the exact path alone writes."""
    doc = b"".join(pieces)
    cuts = tuple(cut % (len(doc) + 1) for cut in cut_points)
    exact = rewrite(doc, fast=False, cuts=cuts, inject=inject)
    assert rewrite(doc, fast=True, cuts=cuts, inject=inject) == exact
    saved = lane.GAP
    lane.GAP = None
    try:
        assert rewrite(doc, fast=True, cuts=cuts, inject=inject) == exact
    finally:
        lane.GAP = saved


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(construct(), max_size=20))
def test_dfa_gap_is_a_part_of_the_sre_gap(pieces: list[bytes]) -> None:
    """Where the DFA's gap ends, the sre gap (stopped there) ends too: the DFA takes whole
    constructs the sre gap takes, never more."""
    assert GAP is not None
    doc = b"".join(pieces)
    for start in range(len(doc) + 1):
        if start and doc[start - 1 : start] != b">":
            continue  # from the starts of constructs (and the first byte)
        end = GAP(doc, start)
        assert SRE_GAP.match(doc, start, end).end() == end


def test_dfa_takes_text_equals_and_lower_case_srcset() -> None:
    """'=' in text and a lower-case srcset stay in the DFA (the lane's own srcset
    rewrite runs), and a '="' in text stops it before the '='."""
    assert GAP is not None
    doc = b'<p>a = b, c==d, e=<b>f</b></p><img src="/a" srcset="/a 1x, /b 2x" alt="x">'
    assert GAP(doc, 0) == len(doc)
    assert GAP(b'<p>a="/b"</p>', 0) == len(b"<p>a")
    assert rewrite(doc, fast=True) == rewrite(doc, fast=False)
