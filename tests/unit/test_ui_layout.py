"""The shared page shell (server/ui/layout.py): escaping, the nonce, the security headers."""

from __future__ import annotations

import re

import pytest

from kubegate.server.ui.index_html import shell_quote
from kubegate.server.ui.layout import (
    content_security_policy,
    escape,
    new_nonce,
    page_headers,
    render_page,
)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<script>", "&lt;script&gt;"),
        ('"><img src=x>', "&quot;&gt;&lt;img src=x&gt;"),
        ("it's", "it&#x27;s"),
        ("a&b", "a&amp;b"),
        (42, "42"),
    ],
)
def test_escape_is_safe_in_text_and_quoted_attributes(raw, escaped):
    """Every character that can end an element or an attribute value is escaped."""
    assert escape(raw) == escaped


def test_title_and_user_are_escaped_by_the_shell():
    """Callers pass raw title and user; the shell escapes them."""
    page = render_page("<t>", "<p>body</p>", user="<u>", nonce="n1").decode()
    assert "<title>&lt;t&gt; · kubegate</title>" in page
    assert '<span class="user" title="signed in as">&lt;u&gt;</span>' in page
    assert "<p>body</p>" in page  # the body is trusted HTML, already escaped by its builder


def test_style_and_script_carry_the_nonce():
    """The inline style and script are tagged with the response's nonce and nothing else is inline."""
    nonce = new_nonce()
    page = render_page("T", "", nonce=nonce, script="1;").decode()
    assert re.findall(r"<(style|script)( nonce=\"[^\"]*\")?>", page) == [
        ("style", f' nonce="{nonce}"'),
        ("script", f' nonce="{nonce}"'),
    ]


def test_logout_is_a_post_form_only_when_signed_in():
    """Signed in: a POST form to /logout; signed out: no account area at all."""
    assert '<form method="post" action="/logout"' in render_page("T", "", user="a").decode()
    assert "/logout" not in render_page("T", "").decode()


def test_page_headers_lock_the_page_down():
    """no-store, nosniff, same-origin referrers, no framing, and the strict policy."""
    headers = dict(page_headers("abc"))
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == (
        "default-src 'none'; style-src 'nonce-abc'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def test_scripts_are_allowed_only_by_nonce_when_asked_for():
    """A page with a script allows exactly its nonce; one without allows none."""
    assert "script-src 'nonce-abc'" in content_security_policy("abc", scripts=True)
    assert "script-src" not in content_security_policy("abc")


def test_nonces_differ_per_response():
    """Each response gets a fresh, unguessable nonce."""
    assert len({new_nonce() for _ in range(100)}) == 100


@pytest.mark.parametrize(
    ("text", "quoted"),
    [("/api/v1/x/proxy/", "'/api/v1/x/proxy/'"), ("a'b", "'a'\\''b'"), ("$(id)", "'$(id)'")],
)
def test_shell_quote_makes_one_inert_word(text, quoted):
    """Commands on the index are single-quoted: no expansion, a quote survives."""
    assert shell_quote(text) == quoted
