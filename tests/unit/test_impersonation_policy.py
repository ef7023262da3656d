"""The via-apiserver deny list: which identities are never impersonated upstream (a table),
how its entries are parsed, and the ``--mirror-impersonation-deny-*`` flags."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from kubegate.cli.mirror_flags import add_mirror_flags, mirror_settings
from kubegate.core.impersonation_policy import (
    ImpersonationDenyList,
    ImpersonationRefusal,
    parse_deny_entries,
)
from kubegate.server.mirror_settings import MirrorSettings

DEFAULT = ImpersonationDenyList()
CUSTOM = ImpersonationDenyList(users=("root", "system:node:*"), groups=("ops", "system:*"))


@pytest.mark.parametrize(
    ("deny", "user", "groups", "expected"),
    [
        (DEFAULT, "kubegate-admin", ["system:masters"], ("groups", "system:masters")),
        (DEFAULT, "alice", ["team-a", "system:masters"], ("groups", "system:masters")),
        (DEFAULT, "alice", ["team-a", "system:authenticated"], None),
        (DEFAULT, "system:masters", [], None),  # a user name is not a group
        (DEFAULT, "alice", ["system:masters-like"], None),  # exact names only
        (CUSTOM, "root", [], ("users", "root")),
        (CUSTOM, "system:node:n1", ["team-a"], ("users", "system:node:n1")),
        (CUSTOM, "system:nodes", [], None),
        (CUSTOM, "bob", ["dev", "ops"], ("groups", "ops")),
        (CUSTOM, "bob", ["system:serviceaccounts"], ("groups", "system:serviceaccounts")),
        # Derived groups are never sent upstream, so a prefix that covers them refuses nobody.
        (CUSTOM, "bob", ["system:authenticated"], None),
        (ImpersonationDenyList(groups=()), "kubegate-admin", ["system:masters"], None),
    ],
)
def test_refusal(deny, user, groups, expected):
    """Users and impersonated groups are matched by exact name or by a ``*`` prefix."""
    refusal = deny.refusal(user, groups)
    found = None if refusal is None else (refusal.kind, refusal.name)
    assert found == expected


def test_a_refusal_names_the_entry_that_matched():
    """The refusal says which deny-list entry matched (for the 403 and the log line)."""
    assert CUSTOM.refusal("system:node:n1", []) == ImpersonationRefusal(
        "users", "system:node:n1", "system:node:*"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("system:masters", ("system:masters",)),
        (" a , b,,a ", ("a", "b")),
        ("system:node:*", ("system:node:*",)),
    ],
)
def test_parse_deny_entries(text, expected):
    """Comma-separated, blanks and duplicates dropped, order kept."""
    assert parse_deny_entries(text) == expected


@pytest.mark.parametrize("text", ["*", "sys*tem", "a,*b"])
def test_a_star_anywhere_but_the_end_is_refused(text):
    """``*`` only ends a prefix; a lone ``*`` is refused too (RBAC refuses everyone better)."""
    with pytest.raises(ValueError, match=r"'\*' may only end a prefix"):
        parse_deny_entries(text)


# -- flags -------------------------------------------------------------------------------


def parse(*argv: str) -> MirrorSettings | None:
    parser = argparse.ArgumentParser()
    add_mirror_flags(parser)
    return mirror_settings(parser.parse_args(argv), {}, Path("/"))


@pytest.fixture
def upstream(tmp_path: Path) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://prod.example:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path = tmp_path / "upstream.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_system_masters_is_denied_by_default(upstream):
    """Without the flags, members of system:masters are refused and no user is."""
    settings = parse("--upstream-kubeconfig", upstream, "--mirror-proxy", "via-apiserver")
    assert settings is not None
    assert settings.impersonation_deny == ImpersonationDenyList(
        users=(), groups=("system:masters",)
    )


def test_the_flags_replace_the_lists(upstream):
    """The groups flag replaces the default (empty: no group is refused); users are added."""
    settings = parse(
        "--upstream-kubeconfig",
        upstream,
        "--mirror-proxy",
        "via-apiserver",
        "--mirror-impersonation-deny-groups=",
        "--mirror-impersonation-deny-users=root,system:serviceaccount:*",
    )
    assert settings is not None
    assert settings.impersonation_deny == ImpersonationDenyList(
        users=("root", "system:serviceaccount:*"), groups=()
    )


def test_a_bad_entry_is_an_error_naming_its_flag(upstream):
    """A misplaced ``*`` is refused with the flag's name."""
    with pytest.raises(ValueError, match=r"^--mirror-impersonation-deny-users: "):
        parse(
            "--upstream-kubeconfig",
            upstream,
            "--mirror-proxy",
            "via-apiserver",
            "--mirror-impersonation-deny-users=a*b",
        )


@pytest.mark.parametrize(
    "flag", ["--mirror-impersonation-deny-users=root", "--mirror-impersonation-deny-groups=ops"]
)
def test_deny_flags_in_direct_mode_are_an_error(upstream, flag):
    """direct mode impersonates nobody: a deny list there is refused, not ignored."""
    with pytest.raises(ValueError, match="via-apiserver only"):
        parse("--upstream-kubeconfig", upstream, "--mirror-proxy", "direct", flag)


def test_deny_flags_without_an_upstream_are_an_error():
    """Outside mirror mode the flags mean nothing: refused."""
    with pytest.raises(ValueError, match="need --upstream-kubeconfig"):
        parse("--mirror-impersonation-deny-groups=ops")
