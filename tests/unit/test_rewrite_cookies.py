"""Set-Cookie scoping (core.rewrite_cookies) and CSP edits (core.rewrite_csp)."""

from __future__ import annotations

import pytest

from kubegate.core.rewrite_cookies import scope_set_cookie
from kubegate.core.rewrite_csp import allow_inline_script, sandbox_policy, script_hash_source

P = "/api/v1/namespaces/ns/services/web/proxy"
H = "'sha256-abc='"
OURS = frozenset({"__Host-kubegate_session", "__Host-kubegate_oidc"})


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("a=1; Path=/", f"a=1; Path={P}/"),
        ("a=1; path=/app", f"a=1; Path={P}/app"),
        ("a=1", f"a=1; Path={P}/"),
        ("a=1; Path=relative", f"a=1; Path={P}/"),
        ("a=1; Path", f"a=1; Path={P}/"),
        (f"a=1; Path={P}/x", f"a=1; Path={P}/x"),
        ("a=1; Domain=example.com; Path=/", f"a=1; Path={P}/"),
        ("a=1; domain=.example.com", f"a=1; Path={P}/"),
        (
            "s=v; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure; HttpOnly; SameSite=Lax",
            f"s=v; Path={P}/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure; HttpOnly; SameSite=Lax",
        ),
        ("a=1; Path=/x; Path=/y", f"a=1; Path={P}/x; Path={P}/y"),
        ("__Host-a=1; Path=/; Secure", f"__Host-a=1; Path={P}/; Secure"),
    ],
)
def test_scoped(cookie: str, expected: str) -> None:
    """Path goes under the prefix, Domain goes, the rest is relayed as it was."""
    assert scope_set_cookie(cookie, prefix=P, kubegate_cookies=OURS) == expected


@pytest.mark.parametrize(
    "cookie",
    [
        "__Host-kubegate_session=x; Path=/",
        " __Host-kubegate_session =x",
        "__Host-kubegate_session",
        "__Host-kubegate_oidc=x; Path=/; Secure",
    ],
)
def test_kubegate_cookies_dropped(cookie: str) -> None:
    """A backend cannot set (or toss) one of kubegate's own cookies."""
    assert scope_set_cookie(cookie, prefix=P, kubegate_cookies=OURS) is None


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("script-src 'self'", f"script-src 'self' {H}"),
        ("default-src 'self'; img-src *", f"default-src 'self' {H}; img-src *"),
        (
            "default-src 'self'; script-src 'nonce-x'",
            f"default-src 'self'; script-src 'nonce-x' {H}",
        ),
        (
            "script-src 'self'; script-src-elem 'self'",
            f"script-src 'self'; script-src-elem 'self' {H}",
        ),
        ("script-src 'none'", f"script-src {H}"),
        ("script-src 'unsafe-inline'", "script-src 'unsafe-inline'"),
        ("script-src 'unsafe-inline' 'nonce-a'", f"script-src 'unsafe-inline' 'nonce-a' {H}"),
        ("img-src *; frame-ancestors 'none'", "img-src *; frame-ancestors 'none'"),
        ("script-src 'self', default-src 'none'", f"script-src 'self' {H}, default-src {H}"),
        ("script-src a; script-src b", f"script-src a {H}; script-src b"),
        ("Script-Src 'self'", f"Script-Src 'self' {H}"),
    ],
)
def test_inline_script_allowed(policy: str, expected: str) -> None:
    """The injected script's hash goes into the directive governing scripts, nothing else changes."""
    assert allow_inline_script(policy, H) == expected


def test_hash_source() -> None:
    """The hash source is the base64 SHA-256 of the script text, quoted."""
    assert script_hash_source("alert(1)") == "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ("", "sandbox"),
        ("allow-scripts allow-forms", "sandbox allow-scripts allow-forms"),
        ("allow-scripts; script-src *", "sandbox"),
        ("allow-same-origin\r\nX: y", "sandbox allow-same-origin"),
    ],
)
def test_sandbox_policy(tokens: str, expected: str) -> None:
    """Only allow-* tokens make it into the sandbox policy; anything else fails closed."""
    assert sandbox_policy(tokens) == expected
