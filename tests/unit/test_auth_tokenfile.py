"""--token-auth-file: kube's CSV format, clear errors, and reload on change."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from kubegate.auth.tokenfile import AuthFileError, TokenFile, parse_token_file
from kubegate.auth.types import UserInfo

SECRET = "s3cr3t-token-value"


def write(tmp_path: Path, text: str, name: str = "tokens.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tok,alice,u1", UserInfo("alice", "u1")),
        ('tok,alice,u1,"dev,ops"', UserInfo("alice", "u1", ("dev", "ops"))),
        ("tok,alice,u1,dev", UserInfo("alice", "u1", ("dev",))),
        ("tok,alice,u1,", UserInfo("alice", "u1")),
        ("tok,alice,u1,dev,extra-column", UserInfo("alice", "u1", ("dev",))),
        ("tok,alice,,", UserInfo("alice", "")),
    ],
)
def test_records_become_users(tmp_path: Path, line: str, expected: UserInfo) -> None:
    """Each record maps its token to user, uid and the comma-separated groups column."""
    tokens = parse_token_file(write(tmp_path, line + "\n"))
    assert tokens.authenticate("tok") == expected


def test_unknown_token_is_not_found(tmp_path: Path) -> None:
    """A token not in the file finds nobody."""
    tokens = parse_token_file(write(tmp_path, "tok,alice,u1\n"))
    assert tokens.authenticate("other") is None


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    """Empty lines between records are ignored, as Go's CSV reader does."""
    tokens = parse_token_file(write(tmp_path, "\na,alice,1\n\n\nb,bob,2\n"))
    assert tokens.authenticate("b") == UserInfo("bob", "2")


def test_empty_token_record_is_skipped(tmp_path: Path) -> None:
    """A record with an empty token never matches an empty token (kube warns and skips it)."""
    tokens = parse_token_file(write(tmp_path, ",ghost,1\na,alice,2\n"))
    assert tokens.authenticate("") is None
    assert tokens.authenticate("a") == UserInfo("alice", "2")


def test_duplicate_token_last_record_wins(tmp_path: Path) -> None:
    """A token listed twice belongs to its last record."""
    tokens = parse_token_file(write(tmp_path, "a,alice,1\na,bob,2\n"))
    assert tokens.authenticate("a") == UserInfo("bob", "2")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"{SECRET},alice\n", "line 1: must have at least 3 columns"),
        (f"a,alice,1\n{SECRET}\n", "line 2: must have at least 3 columns"),
        (f'a,alice,1\n"{SECRET},bob,2\n', "line 2: unexpected end of data"),
        (f'{SECRET},"bob"x,2\n', "line 1"),
        (f"# a comment about {SECRET}\n", "line 1: must have at least 3 columns"),
    ],
)
def test_malformed_file_is_a_clear_error_without_the_token(
    tmp_path: Path, text: str, fragment: str
) -> None:
    """Too few columns or broken quoting name the file and line, never the token."""
    path = write(tmp_path, text)
    with pytest.raises(AuthFileError) as info:
        parse_token_file(path)
    message = str(info.value)
    assert str(path) in message and fragment in message
    assert SECRET not in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A token file that does not exist is an AuthFileError naming it."""
    with pytest.raises(AuthFileError, match="No such file"):
        parse_token_file(tmp_path / "absent.csv")


def test_non_utf8_file_is_a_clear_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are refused with a message, not a traceback."""
    path = tmp_path / "tokens.csv"
    path.write_bytes(b"\xff\xfe,alice,1\n")
    with pytest.raises(AuthFileError, match="not valid UTF-8"):
        parse_token_file(path)


def _rewrite(path: Path, text: str) -> None:
    """Replace the file and move its mtime on (fast rewrites can share a timestamp)."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_changed_file_is_reloaded(tmp_path: Path) -> None:
    """After the file changes, the new tokens work and removed ones stop working."""
    clock = Clock()
    path = write(tmp_path, "old,alice,1\n")
    tokens = TokenFile(path, clock=clock)
    _rewrite(path, "new,bob,2\n")
    clock.now += 1.0
    assert tokens.lookup("new") == UserInfo("bob", "2")
    assert tokens.lookup("old") is None


def test_file_is_checked_at_most_once_per_second(tmp_path: Path) -> None:
    """Within a second of the last check the previous table answers."""
    clock = Clock()
    path = write(tmp_path, "old,alice,1\n")
    tokens = TokenFile(path, clock=clock)
    _rewrite(path, "new,bob,2\n")
    clock.now += 0.5
    assert tokens.lookup("old") == UserInfo("alice", "1")


def test_malformed_reload_keeps_previous_tokens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken rewrite is logged (without tokens) and the previous table stays in force."""
    clock = Clock()
    path = write(tmp_path, "old,alice,1\n")
    tokens = TokenFile(path, clock=clock)
    _rewrite(path, f"{SECRET},only-two\n")
    clock.now += 1.0
    with caplog.at_level(logging.WARNING):
        assert tokens.lookup("old") == UserInfo("alice", "1")
    assert "keeping the previous contents" in caplog.text
    assert SECRET not in caplog.text


def test_deleted_file_keeps_previous_tokens(tmp_path: Path) -> None:
    """If the file disappears, the tokens read last keep working."""
    clock = Clock()
    path = write(tmp_path, "old,alice,1\n")
    tokens = TokenFile(path, clock=clock)
    path.unlink()
    clock.now += 1.0
    assert tokens.lookup("old") == UserInfo("alice", "1")
