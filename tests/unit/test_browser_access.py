"""core/browser_access.py: where ambient browser credentials may go, and which ``then``
targets the sign-in may redirect to (security.md §2.7, §2.10)."""

from __future__ import annotations

import pytest

from kubegate.core.browser_access import (
    ambient_may_reach,
    browser_navigation,
    local_redirect_target,
    login_location,
)
from kubegate.core.requestinfo import parse_request_info


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("/", True),
        ("/api/v1/namespaces/a/services/web:http/proxy/", True),
        ("/api/v1/namespaces/a/services/web/proxy/x?y=1&z=%2F", True),
        ("/-/static/app.css", True),
        ("/a//b", True),
        ("/caf%C3%A9", True),
        # Off-origin or ambiguous (security.md §2.7; oauth2-proxy CVE-2020-11053).
        ("//evil.example", False),
        ("//evil.example/path", False),
        ("/\\evil.example", False),
        ("/%5Cevil.example", False),
        ("/%5cevil.example", False),
        ("/\t/evil.example", False),
        ("/%09/evil.example", False),
        ("/%0a/x", False),
        ("/%0b/x", False),
        ("/%0d/x", False),
        ("/%2F%2Fevil.example", False),
        ("/%2f/evil.example", False),
        ("/x\r\nSet-Cookie: a=b", False),
        ("/x y", False),
        ("/x%20y", False),
        ("/x\x00", False),
        ("/x\x7f", False),
        ("https://evil.example/", False),
        ("https:evil.example", False),
        ("javascript:alert(1)", False),
        ("evil.example", False),
        ("relative/path", False),
        ("", False),
        (None, False),
        ("/#frag", False),
        ("/" + "a" * 5000, False),
    ],
)
def test_local_redirect_target(value: str | None, allowed: bool) -> None:
    """Only a plain local path (with query) on this origin is a redirect target."""
    assert local_redirect_target(value) == (value if allowed else None)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/v1/namespaces/a/services/web:http/proxy/", True),
        ("POST", "/api/v1/namespaces/a/services/web/proxy/form", True),
        ("GET", "/api/v1/namespaces/a/services/web/proxy", True),
        ("GET", "/api/v1/namespaces/a/pods/p:8080/proxy/metrics", True),
        ("GET", "/api/v1/nodes/n1/proxy/stats", True),
        ("GET", "/", True),
        ("GET", "/login", True),
        ("POST", "/logout", True),
        ("GET", "/oauth2/callback", True),
        ("GET", "/-/static/x.css", True),
        ("GET", "/-/apps-auth", True),
        # The rest of the API.
        ("GET", "/api/v1/secrets", False),
        ("GET", "/api/v1/namespaces/a/secrets/s", False),
        ("GET", "/api/v1/namespaces/a/services/web", False),
        ("POST", "/api/v1/namespaces/a/pods", False),
        ("POST", "/api/v1/namespaces/a/pods/p/exec", False),
        ("GET", "/api/v1/namespaces/a/pods/p/log", False),
        ("POST", "/api/v1/namespaces/a/serviceaccounts/default/token", False),
        ("GET", "/api/v1/namespaces/a/configmaps/proxy", False),
        ("GET", "/api/v1/proxy/namespaces/a/services/web/", False),
        ("GET", "/apis/apps/v1/deployments", False),
        ("GET", "/api", False),
        ("GET", "/version", False),
        ("GET", "/metrics", False),
        ("GET", "/openapi/v2", False),
        ("GET", "/loginx", False),
        ("GET", "/-", False),
    ],
)
def test_ambient_may_reach(method: str, path: str, allowed: bool) -> None:
    """Ambient credentials reach proxy subresources and kubegate's pages only."""
    assert ambient_may_reach(parse_request_info(method, path, "")) is allowed


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("/", "", "/login?then=%2F"),
        (
            "/api/v1/namespaces/a/services/web:http/proxy/x",
            "q=1&r=2",
            "/login?then=%2Fapi%2Fv1%2Fnamespaces%2Fa%2Fservices%2Fweb%3Ahttp%2Fproxy%2Fx%3Fq%3D1%26r%3D2",
        ),
        ("/login", "then=/x", "/login"),
        ("//evil.example", "", "/login"),
    ],
)
def test_login_location(path: str, query: str, location: str) -> None:
    """The redirect to the sign-in page carries the original request, when it is safe."""
    assert login_location(path, query) == location


@pytest.mark.parametrize(
    ("method", "accept", "authorization", "upgrade", "expected"),
    [
        ("GET", "text/html,application/xhtml+xml,*/*;q=0.8", None, False, True),
        ("GET", "TEXT/HTML", None, False, True),
        ("GET", "application/json", None, False, False),
        ("GET", "*/*", None, False, False),
        ("GET", None, None, False, False),
        ("GET", "text/html", "Basic eDp5", False, False),
        ("GET", "text/html", None, True, False),
        ("POST", "text/html", None, False, False),
        ("HEAD", "text/html", None, False, False),
    ],
)
def test_browser_navigation(
    method: str, accept: str | None, authorization: str | None, upgrade: bool, expected: bool
) -> None:
    """Only a plain GET for HTML without credentials of its own is a page load to redirect."""
    assert browser_navigation(method, accept, authorization, upgrade) is expected
