"""Presenting a backend at its own root: ``X-Kubegate-Rewrite: off`` on the kubegate side
(RewritePolicy.at_root, the header stripped before the backend) and service mode's mapping
of scoped cookies back to ``/`` (client/service_mode.py)."""

from __future__ import annotations

import pytest

from kubegate.client.service_mode import ServiceTarget, root_cookie, root_header
from kubegate.core.proxy_headers import upstream_request_headers
from kubegate.proxy.rewrite_policy import DEFAULT_POLICY, RewritePolicy

WEB = ServiceTarget("kube-system", "webapp")
PREFIX = "/api/v1/namespaces/kube-system/services/webapp/proxy"
API = frozenset({"127.0.0.1:6443"})


def test_at_root_turns_off_body_shim_and_forwarded_prefix() -> None:
    """at_root() switches off body rewriting, the shim and X-Forwarded-Prefix only."""
    policy = DEFAULT_POLICY.at_root()
    assert (policy.body, policy.shim, policy.prefixed) == (False, False, False)
    assert policy.cookies is True


def test_at_root_keeps_the_sandbox_and_cookie_choice() -> None:
    """The sandbox policy and the annotation's cookie choice survive at_root()."""
    sandboxed = RewritePolicy.from_annotations({"kubegate.io/sandbox": "allow-scripts"})
    assert sandboxed.at_root().sandbox == sandboxed.sandbox
    opted_out = RewritePolicy.from_annotations({"kubegate.io/rewrite": "false"})
    assert opted_out.at_root().cookies is False


def test_rewrite_annotation_false_still_turns_off_cookie_scoping() -> None:
    """kubegate.io/rewrite: "false" keeps meaning bodies and cookies as sent."""
    policy = RewritePolicy.from_annotations({"kubegate.io/rewrite": "false"})
    assert (policy.body, policy.shim, policy.cookies) == (False, False, False)
    assert policy.prefixed is True  # the app may still read X-Forwarded-Prefix


def test_rewrite_instruction_never_reaches_the_backend() -> None:
    """A client's X-Kubegate-Rewrite is stripped from the upstream request, any spelling."""
    out = upstream_request_headers(
        [("X-Kubegate-Rewrite", "off"), ("x-kubegate-rewrite", "html"), ("accept", "*/*")],
        host_header="b:80",
        forwarded_for="127.0.0.1",
        forwarded_host="",
        forwarded_proto="",
        forwarded_uri="",
        forwarded_prefix="",
        kubegate_cookies=frozenset(),
        is_upgrade=False,
    )
    assert out == [("host", "b:80"), ("accept", "*/*"), ("x-forwarded-for", "127.0.0.1")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"sid=1; Path={PREFIX}/; HttpOnly", "sid=1; Path=/; HttpOnly"),
        (f"sid=1; Path={PREFIX}", "sid=1; Path=/"),
        (f"sid=1; path={PREFIX}/app/x; Secure", "sid=1; Path=/app/x; Secure"),
        ("sid=1; Path=/", "sid=1; Path=/"),  # not scoped (kube, or rewrite opted out)
        (f"sid=1; Path={PREFIX}x/", f"sid=1; Path={PREFIX}x/"),  # not on a segment boundary
        (f"sid={PREFIX}/; Max-Age=5", f"sid={PREFIX}/; Max-Age=5"),  # the value is not a path
        (f"sid=1; Path=/other{PREFIX}/", f"sid=1; Path=/other{PREFIX}/"),
    ],
)
def test_root_cookie(value: str, expected: str) -> None:
    """A Set-Cookie Path under the proxy prefix comes back rooted at /; nothing else moves."""
    assert root_cookie(value, WEB) == expected


def test_root_header_maps_cookies_and_locations() -> None:
    """root_header sends Set-Cookie to root_cookie and Location to root_location."""
    assert root_header("set-cookie", f"a=b; Path={PREFIX}/", WEB, API) == "a=b; Path=/"
    assert root_header("location", f"{PREFIX}/next", WEB, API) == "/next"
    assert root_header("content-type", f"{PREFIX}/", WEB, API) == f"{PREFIX}/"
