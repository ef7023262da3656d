"""``kubegate proxy`` flag handling: kubectl's names and defaults, usage errors (exit 2)."""

from __future__ import annotations

import pytest

from kubegate.cli.main import build_parser, main
from kubegate.cli.proxy_cmd import parse_go_duration


def test_defaults_are_kubectls() -> None:
    """Every kubectl proxy flag exists with kubectl's default."""
    args = build_parser().parse_args(["proxy"])
    assert (args.port, args.address, args.unix_socket) == (8001, "127.0.0.1", "")
    assert args.accept_hosts == r"^localhost$,^127\.0\.0\.1$,^\[::1\]$"
    assert args.accept_paths == "^.*"
    assert args.reject_paths == "^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach"
    assert args.reject_methods == "^$"
    assert (args.api_prefix, args.www, args.www_prefix) == ("/", "", "/static/")
    assert (args.disable_filter, args.keepalive, args.append_server_path) == (False, "0", False)
    assert (args.token_file, args.generate_token, args.service) == (None, False, None)


def test_short_flags_and_local_port_alias() -> None:
    """-p, -u, -w, -P as kubectl; --local-port sets the same port as --port."""
    args = build_parser().parse_args(["proxy", "-p", "0", "-w", "d", "-P", "/s/", "-u", "x"])
    assert (args.port, args.www, args.www_prefix, args.unix_socket) == (0, "d", "/s/", "x")
    assert build_parser().parse_args(["proxy", "--local-port", "9"]).port == 9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--unix-socket", "/tmp/s", "--port", "9000"],
            "cannot set --unix-socket and --port at the same time",
        ),
        (["--reject-paths", "("], "--reject-paths"),
        (["--accept-hosts", "a,[z-a]"], "--accept-hosts"),
        (["--service", "nonamespace"], "--service"),
        (["--keepalive", "5 parsecs"], "invalid duration"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad flag values are reported on stderr with exit code 2, before anything starts."""
    assert main(["proxy", *argv]) == 2
    assert message in capsys.readouterr().err


def test_missing_kubeconfig_is_exit_1(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """An unreadable kubeconfig is a clear error (exit 1), not a traceback."""
    assert main(["proxy", "--kubeconfig", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "nope" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), ("1.5s", 1.5)],
)
def test_parse_go_duration(text: str, seconds: float) -> None:
    """--keepalive takes Go durations."""
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "s", "1x", "1s2", " 1s"])
def test_parse_go_duration_refuses(text: str) -> None:
    """Anything Go's time.ParseDuration refuses is refused."""
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)
