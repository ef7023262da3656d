"""Module imports under the prefix: the Sec-CH-UA parser (core/client_hints.py), the import
map's text (proxy/shim_text.py) and when ResponseRewriter.plan puts it into a page."""

from __future__ import annotations

import json
import re

import pytest

from kubegate.core.client_hints import chromium_major, merges_import_maps
from kubegate.core.rewrite_csp import restricts_inline_scripts, script_hash_source
from kubegate.http.types import Request
from kubegate.proxy.rewrite import ResponseRewriter, RewriteSettings
from kubegate.proxy.rewrite_policy import DEFAULT_POLICY
from kubegate.proxy.shim_text import import_map_script

P = "/api/v1/namespaces/ns/services/web:http/proxy"
CHROME_133 = '"Not(A:Brand";v="99", "Google Chrome";v="133", "Chromium";v="133"'
CHROME_132 = '"Chromium";v="132", "Not A(Brand";v="24", "Google Chrome";v="132"'
EDGE_140 = '"Microsoft Edge";v="140", "Not-A.Brand";v="24", "Chromium";v="140"'
HTML = b"<!doctype html><html><head><title>t</title></head><body></body></html>"
PAGE = [("content-type", "text/html"), ("content-length", str(len(HTML)))]


@pytest.mark.parametrize(
    ("value", "major"),
    [
        (CHROME_133, 133),
        (CHROME_132, 132),
        (EDGE_140, 140),
        ('"Chromium";v="156"', 156),
        ('"Chromium" ; v = "156" ', 156),
        ('"Chromium";v="156";x=1', 156),  # (a parameter after v is allowed)
        ('"HeadlessChrome";v="156"', None),
        ('"Brave";v="1"', None),  # no Chromium brand
        ("", None),
        (None, None),
        ('"Chromium";v="abc"', None),
        ('"Chromium";v="133", "Chromium";v="200"', None),  # twice: not a browser's
        ('"Chromium";v="133", garbage', None),  # one bad member spoils the list
        ('"Chromium";v="133"' + ", " * 300, None),  # too long to be a browser's
        ('"Chromium";v="1234567"', None),
        ('"Chro\\"mium";v="140"', None),
    ],
)
def test_chromium_major(value: str | None, major: int | None) -> None:
    assert chromium_major(value) == major


@pytest.mark.parametrize(
    ("value", "merges"), [(CHROME_133, True), (EDGE_140, True), (CHROME_132, False), (None, False)]
)
def test_import_maps_merge_from_chromium_133(value: str | None, merges: bool) -> None:
    assert merges_import_maps(value) is merges


def test_the_import_map_moves_the_root_under_the_prefix_and_keeps_the_prefix() -> None:
    """Two entries: the site root to the prefix, the prefix to itself (longest key wins);
    the hash is of the script's exact text."""
    script, source = import_map_script(P)
    head, text = b'<script type="importmap">', script.removesuffix(b"</script>")
    assert script.startswith(head) and script.endswith(b"</script>")
    text = text.removeprefix(head).decode()
    assert json.loads(text) == {"imports": {"/": P + "/", P + "/": P + "/"}}
    assert source == script_hash_source(text)


def test_the_import_map_cannot_close_its_element() -> None:
    """A prefix holding < > & is escaped in the JSON: the same value, no markup."""
    script, _ = import_map_script("/a</script><b>&c")
    text = script.removeprefix(b'<script type="importmap">').removesuffix(b"</script>")
    assert b"<" not in text and b">" not in text and b"&" not in text
    assert json.loads(text)["imports"]["/"] == "/a</script><b>&c/"


def plan_page(sec_ch_ua: str | None, csp: str | None = None) -> tuple[bytes, list[tuple[str, str]]]:
    headers = [("host", "kg.example"), ("sec-fetch-dest", "document")]
    if sec_ch_ua is not None:
        headers.append(("sec-ch-ua", sec_ch_ua))
    request = Request("GET", "/", "/", "", headers, None, ("127.0.0.1", 1), True)  # type: ignore[arg-type]
    response = PAGE + ([("content-security-policy", csp)] if csp else [])
    planned = ResponseRewriter(RewriteSettings(shim_js="window.s=1;")).plan(
        request,
        200,
        response,
        policy=DEFAULT_POLICY,
        prefix=P,
        backend_host="10.0.0.5:8080",
        backend_scheme="http",
        declared_length=len(HTML),
    )
    assert planned is not None and planned.transformer is not None
    return planned.transformer.whole(HTML), planned.headers


def test_a_merging_browser_gets_the_import_map_before_the_shim() -> None:
    body, headers = plan_page(CHROME_133)
    script, _ = import_map_script(P)
    assert body.startswith(b"<!doctype html><html><head>" + script + b"<script data-kubegate")
    assert ("vary", "Sec-Fetch-Dest, Sec-CH-UA") in headers


@pytest.mark.parametrize("value", [CHROME_132, None, '"Not A Brand";v="8"'])
def test_other_browsers_get_the_shim_alone(value: str | None) -> None:
    """Where a page's own import map would be ignored after ours, none is put in."""
    body, headers = plan_page(value)
    assert b'type="importmap"' not in body and b"<script data-kubegate" in body
    assert ("vary", "Sec-Fetch-Dest, Sec-CH-UA") in headers  # a cache keeps them apart


def test_the_page_csp_allows_the_import_map_and_the_shim_and_nothing_else() -> None:
    _, headers = plan_page(CHROME_133, csp="default-src 'self'; script-src 'self'")
    [policy] = [v for n, v in headers if n == "content-security-policy"]
    _, map_source = import_map_script(P)
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert script_src.split()[:2] == ["script-src", "'self'"]
    assert map_source in script_src.split()
    assert len([t for t in script_src.split() if t.startswith("'sha256-")]) == 2
    assert "default-src 'self'" in policy


@pytest.mark.parametrize(
    ("policy", "restricts"),
    [
        ("script-src 'self'", True),
        ("default-src 'self'", True),
        ("script-src 'self' 'nonce-abc'", True),
        ("script-src 'self' 'unsafe-inline'", False),
        ("script-src 'unsafe-inline' 'sha256-abc='", True),  # a hash switches it off
        ("img-src 'self'", False),  # nothing governs scripts
        ("sandbox allow-scripts", False),
        ("img-src *, script-src 'self'", True),  # any of several policies
    ],
)
def test_restricts_inline_scripts(policy: str, restricts: bool) -> None:
    assert restricts_inline_scripts(policy) is restricts


@pytest.mark.parametrize(
    ("csp", "said"),
    [
        (None, None),
        ("script-src 'self'", b"inline"),
        ("script-src 'unsafe-inline'", b""),
        ("img-src 'self'", b""),
    ],
)
def test_the_shim_is_told_what_the_page_policy_is(csp: str | None, said: bytes | None) -> None:
    """data-kubegate-csp: "inline" has the shim leave the page's own import map's text
    alone unless it must change it (a hash of that text may be what allows it); any policy
    at all keeps it from starting blob: workers through the core."""
    body, _ = plan_page(CHROME_132, csp=csp)
    found = re.search(rb' data-kubegate-csp="([^"]*)"', body)
    assert (found.group(1) if found else None) == said
