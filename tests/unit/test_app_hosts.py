"""App host names of --apps-domain (core/app_hosts.py): building, reading, refusing."""

from __future__ import annotations

import pytest

from kubegate.core.app_hosts import AppTarget, app_host, is_valid_apps_domain, parse_app_host

D = "apps.localhost"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("http--web--default.apps.localhost", AppTarget("default", "web", "http")),
        ("http--web--default.apps.localhost:8443", AppTarget("default", "web", "http")),
        ("HTTP--Web--Default.Apps.Localhost", AppTarget("default", "web", "http")),
        ("http--web--default.apps.localhost.", AppTarget("default", "web", "http")),
        ("8080--web--default.apps.localhost", AppTarget("default", "web", "8080")),
        ("http--my--web--default.apps.localhost", AppTarget("default", "my--web", "http")),
    ],
)
def test_app_hosts_name_their_target(host, expected):
    """A well-formed app host reads as port, service (may hold ``--``) and namespace."""
    assert parse_app_host(host, D) == expected


@pytest.mark.parametrize(
    "host",
    [
        "apps.localhost",  # the domain itself
        "web--default.apps.localhost",  # no port part
        "http--web--default.apps.localhost.evil.example",  # suffix elsewhere
        "x.http--web--default.apps.localhost",  # two labels
        "http--web--default.notapps.localhost",
        "0--web--default.apps.localhost",  # port 0
        "65536--web--default.apps.localhost",
        "08080--web--default.apps.localhost",  # another spelling of a number
        "http--web_x--default.apps.localhost",  # not a DNS label
        "http----default.apps.localhost",  # empty service
        "-http--web--default.apps.localhost",
        "a" * 40 + "--web--" + "b" * 20 + ".apps.localhost",  # over 63 characters
        "[::1]:443",
        "",
    ],
)
def test_malformed_app_hosts_are_refused(host):
    """Anything else names no app."""
    assert parse_app_host(host, D) is None


@pytest.mark.parametrize(
    "target",
    [AppTarget("default", "web", "http"), AppTarget("team-a", "my--svc", "8080")],
)
def test_app_host_round_trips(target):
    """What app_host builds, parse_app_host reads back."""
    host = app_host(target, D)
    assert host is not None
    assert parse_app_host(host, D) == target


@pytest.mark.parametrize(
    "target",
    [
        AppTarget("team--a", "web", "http"),  # the namespace split would be ambiguous
        AppTarget("default", "w" * 60, "http"),  # too long for one DNS label
        AppTarget("default", "web", "bad--port"),
    ],
)
def test_unrepresentable_targets_have_no_app_host(target):
    """Targets whose label would be ambiguous or too long get no app origin."""
    assert app_host(target, D) is None


@pytest.mark.parametrize(
    ("domain", "valid"),
    [
        ("apps.localhost", True),
        ("apps.example.com", True),
        ("localhost", False),
        ("a..b", False),
        ("Apps.Example", False),
        ("*.apps.localhost", False),
        ("apps.localhost/", False),
    ],
)
def test_apps_domain_must_be_a_dns_name_of_two_labels(domain, valid):
    """--apps-domain takes a lower-case DNS name with at least two labels."""
    assert is_valid_apps_domain(domain) is valid
