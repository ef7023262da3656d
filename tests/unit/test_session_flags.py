"""The browser sign-in flags of `kubegate serve`: session limits and the OIDC code flow."""

from __future__ import annotations

import argparse

import pytest

from kubegate.cli.authn_flags import add_authn_flags, authn_settings
from kubegate.server.settings import AuthnSettings

ISSUER = ("--oidc-issuer-url=https://issuer.example", "--oidc-client-id=kubegate")


def parse(*argv: str) -> AuthnSettings:
    parser = argparse.ArgumentParser()
    add_authn_flags(parser.add_argument_group("authentication"))
    return authn_settings(parser.parse_args(argv))


def test_session_limits_default_to_an_hour_idle_and_twelve_hours() -> None:
    """Without flags a session ends after 1 h idle or 12 h after sign-in."""
    settings = parse()
    assert (settings.session_idle_timeout, settings.session_max_age) == (3600, 43200)


def test_session_limits_take_durations() -> None:
    """--session-idle-timeout and --session-max-age take Go durations."""
    settings = parse("--session-idle-timeout=15m", "--session-max-age=8h")
    assert (settings.session_idle_timeout, settings.session_max_age) == (900, 28800)


def test_zero_session_limit_is_refused() -> None:
    """A session limit of zero is a flag error."""
    with pytest.raises(ValueError, match="session"):
        parse("--session-idle-timeout=0s")


def test_oidc_code_flow_flags() -> None:
    """Scopes, redirect URL and client secret file reach the OIDC settings."""
    settings = parse(
        *ISSUER,
        "--oidc-scopes=openid, groups",
        "--oidc-redirect-url=https://kube.example/oauth2/callback",
        "--oidc-client-secret-file=/run/secret",
    )
    assert settings.oidc is not None
    assert settings.oidc.scopes == ("openid", "groups")
    assert settings.oidc.redirect_url == "https://kube.example/oauth2/callback"
    assert str(settings.oidc.client_secret_file) == "/run/secret"


@pytest.mark.parametrize(
    "flags",
    [
        (*ISSUER, "--oidc-scopes=profile,email"),
        (*ISSUER, "--oidc-redirect-url=http://kube.example/oauth2/callback"),
        ("--oidc-redirect-url=https://kube.example/oauth2/callback",),
        ("--oidc-client-secret-file=/run/secret",),
    ],
)
def test_inconsistent_oidc_flags_are_refused(flags: tuple[str, ...]) -> None:
    """Scopes without openid, a plain-http redirect, or code-flow flags without an issuer."""
    with pytest.raises(ValueError):
        parse(*flags)
