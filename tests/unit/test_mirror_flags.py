"""The mirror-mode flags of `kubegate serve` become MirrorSettings (or an error line)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from kubegate.cli.mirror_flags import add_mirror_flags, in_cluster, mirror_settings
from kubegate.server.mirror_settings import DIRECT, VIA_APISERVER, MirrorSettings


def parse(
    *argv: str, env: dict[str, str] | None = None, cwd: Path = Path("/")
) -> MirrorSettings | None:
    parser = argparse.ArgumentParser()
    add_mirror_flags(parser)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--apps-domain", default="")
    return mirror_settings(parser.parse_args(argv), env or {}, cwd)


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "prod", "cluster": {"server": "https://prod.example:6443"}},
            {"name": "dev", "cluster": {"server": "https://dev.example:6443"}},
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": "prod", "context": {"cluster": "prod", "user": "u"}},
            {"name": "dev", "context": {"cluster": "dev", "user": "u"}},
        ],
        "current-context": "prod",
    }
    path = tmp_path / "upstream.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_no_upstream_is_not_mirror_mode():
    """Without --upstream-kubeconfig there are no mirror settings."""
    assert parse() is None


@pytest.mark.parametrize(
    "flags", [("--mirror-rbac",), ("--upstream-context", "x"), ("--mirror-proxy", "direct")]
)
def test_mirror_flags_without_an_upstream_are_an_error(flags):
    """Asking for mirror behaviour without an upstream is refused, not ignored."""
    with pytest.raises(ValueError, match="need --upstream-kubeconfig"):
        parse(*flags)


def test_the_upstream_context_picks_the_cluster(kubeconfig):
    """--upstream-context chooses among the kubeconfig's contexts."""
    assert parse("--upstream-kubeconfig", str(kubeconfig)).upstream.server == (
        "https://prod.example:6443"
    )
    chosen = parse("--upstream-kubeconfig", str(kubeconfig), "--upstream-context", "dev")
    assert chosen.upstream.server == "https://dev.example:6443"


def test_a_missing_kubeconfig_is_an_error_naming_the_flag(tmp_path):
    """The kubeconfig error comes with the flag it is about."""
    with pytest.raises(ValueError, match=r"^--upstream-kubeconfig: stat"):
        parse("--upstream-kubeconfig", str(tmp_path / "nope"))


def test_auto_proxy_mode_is_via_apiserver_outside_a_cluster(kubeconfig):
    """Outside a pod, endpoint IPs are usually unreachable: auto means via-apiserver."""
    assert parse("--upstream-kubeconfig", str(kubeconfig)).proxy_mode == VIA_APISERVER


def test_an_explicit_proxy_mode_wins(kubeconfig):
    """--mirror-proxy direct is taken as given."""
    settings = parse("--upstream-kubeconfig", str(kubeconfig), "--mirror-proxy", "direct")
    assert settings.proxy_mode == DIRECT


def test_in_cluster_needs_the_service_host_and_a_token(tmp_path):
    """client-go's in-cluster test: the env variable and the mounted token, both."""
    (tmp_path / "token").write_text("t")
    assert in_cluster({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, tmp_path)
    assert not in_cluster({}, tmp_path)
    assert not in_cluster({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, tmp_path / "missing")


def test_in_cluster_upstream_outside_a_pod_is_an_error():
    """--upstream-kubeconfig in-cluster refuses to guess outside a pod."""
    with pytest.raises(ValueError, match="not running in a pod"):
        parse("--upstream-kubeconfig", "in-cluster")


def test_demo_and_mirror_mode_do_not_combine(kubeconfig):
    """--demo seeds local objects a mirror would fight with: refused."""
    with pytest.raises(ValueError, match="--demo"):
        parse("--upstream-kubeconfig", str(kubeconfig), "--demo")


def test_negative_resync_is_an_error(kubeconfig):
    """A negative resync period is refused."""
    with pytest.raises(ValueError, match="resync"):
        parse("--upstream-kubeconfig", str(kubeconfig), "--mirror-resync-period", "-1")


@pytest.mark.parametrize("store", ["etcd://127.0.0.1:2379", "etcds://e:2379"])
def test_mirror_mode_on_a_shared_etcd_is_refused(kubeconfig, store):
    """Replicas on one etcd would all write the same mirrored objects: refused."""
    parser = argparse.ArgumentParser()
    add_mirror_flags(parser)
    parser.add_argument("--store", default="")
    args = parser.parse_args(["--upstream-kubeconfig", str(kubeconfig), "--store", store])
    with pytest.raises(ValueError, match="etcd"):
        mirror_settings(args, {}, Path("/"))


def test_the_watch_idle_timeout_defaults_to_two_bookmark_minutes_and_slack(kubeconfig):
    """Unset, a silent watch is given up after 135 s (kube sends a bookmark every minute)."""
    settings = parse("--upstream-kubeconfig", str(kubeconfig))
    assert settings is not None and settings.watch_idle_timeout == 135.0


@pytest.mark.parametrize(("value", "expected"), [("3", 3.0), ("0", None), ("-1", None)])
def test_the_watch_idle_timeout_flag_must_be_positive(kubeconfig, value, expected):
    """--mirror-watch-idle-timeout sets the limit; zero or less is refused."""
    argv = ("--upstream-kubeconfig", str(kubeconfig), "--mirror-watch-idle-timeout", value)
    if expected is None:
        with pytest.raises(ValueError, match="--mirror-watch-idle-timeout"):
            parse(*argv)
    else:
        settings = parse(*argv)
        assert settings is not None and settings.watch_idle_timeout == expected
