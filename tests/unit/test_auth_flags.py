"""The authentication flags of `kubegate serve` become AuthnSettings."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubegate.cli.authn_flags import add_authn_flags, authn_settings, parse_bool, parse_duration
from kubegate.server.settings import AuthnSettings


def parse(*argv: str) -> AuthnSettings:
    parser = argparse.ArgumentParser()
    add_authn_flags(parser.add_argument_group("authentication"))
    return authn_settings(parser.parse_args(argv))


@pytest.mark.parametrize(
    ("text", "seconds"), [("48h", 172800), ("90m", 5400), ("3600s", 3600), ("1h30m", 5400)]
)
def test_durations_parse_like_go(text: str, seconds: int) -> None:
    """Go-style durations become seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "48", "1d", "h", "-1h"])
def test_bad_durations_are_refused(text: str) -> None:
    """Anything else is an argument error."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("FALSE", False), ("1", True), ("f", False)]
)
def test_booleans_parse_like_go(text: str, value: bool) -> None:
    """--anonymous-auth=false works as with kube-apiserver."""
    assert parse_bool(text) is value


def test_defaults() -> None:
    """Without flags: no files, no anonymous, kube's issuer, 48h maximum, no OIDC."""
    settings = parse()
    assert settings == AuthnSettings()
    assert settings.effective_api_audiences == ("https://kubernetes.default.svc",)


@pytest.mark.parametrize(
    ("argv", "value"), [(["--anonymous-auth"], True), (["--anonymous-auth=false"], False)]
)
def test_anonymous_flag(argv: list[str], value: bool) -> None:
    """--anonymous-auth alone turns it on; =false turns it off."""
    assert parse(*argv).anonymous_auth is value


def test_api_audiences_are_a_comma_list() -> None:
    """--api-audiences splits on commas and replaces the issuer default."""
    settings = parse("--api-audiences", "a, b,,c")
    assert settings.effective_api_audiences == ("a", "b", "c")


def test_oidc_flags_build_the_config(tmp_path: Path) -> None:
    """The --oidc-* flags fill OIDCConfig."""
    settings = parse(
        "--oidc-issuer-url=https://issuer.example",
        "--oidc-client-id=kg",
        "--oidc-username-claim=email",
        "--oidc-groups-claim=groups",
        "--oidc-groups-prefix=oidc:",
        f"--oidc-jwks-file={tmp_path / 'k.json'}",
    )
    assert settings.oidc is not None
    assert (settings.oidc.client_id, settings.oidc.username_claim) == ("kg", "email")
    assert settings.oidc.jwks_file == tmp_path / "k.json"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--oidc-issuer-url=http://issuer.example", "--oidc-client-id=kg"], "https"),
        (["--oidc-issuer-url=https://issuer.example"], "client-id"),
        (["--oidc-client-id=kg"], "need --oidc-issuer-url"),
        (["--service-account-max-token-expiration=5m"], "at least 10m"),
    ],
)
def test_inconsistent_flags_are_refused(argv: list[str], message: str) -> None:
    """Flag combinations kube would refuse are a ValueError (the CLI exits 2)."""
    with pytest.raises(ValueError, match=message):
        parse(*argv)
