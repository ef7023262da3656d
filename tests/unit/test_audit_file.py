"""The audit log file: whole lines, rotation by size, backup retention, failures that never
raise and never leave half a record."""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubegate.auth import audit_file
from kubegate.auth.audit_file import AuditFile

LINE = b'{"kind":"Event","n":"0123456789012345678"}\n'  # 44 bytes


@pytest.fixture
def opened() -> Iterator[list[AuditFile]]:
    files: list[AuditFile] = []
    yield files
    for f in files:
        f.close()


def make(path: Path | None, opened: list[AuditFile], **options: object) -> AuditFile:
    f = AuditFile(path, sync_interval=3600, **options)  # type: ignore[arg-type]
    f.open()
    opened.append(f)
    return f


def test_lines_are_appended_whole(tmp_path: Path, opened: list[AuditFile]):
    """Each write appends exactly the line given, after what the file already held."""
    path = tmp_path / "audit.log"
    path.write_bytes(LINE)
    f = make(path, opened)
    f.write(LINE.replace(b"0", b"1"))
    assert path.read_bytes() == LINE + LINE.replace(b"0", b"1")


def test_new_file_is_private_and_its_directory_is_created(tmp_path: Path, opened: list[AuditFile]):
    """The log is created with mode 0600, parent directories included."""
    path = tmp_path / "logs" / "audit.log"
    make(path, opened)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotation_happens_before_the_size_limit_is_passed(tmp_path: Path, opened: list[AuditFile]):
    """A line that would take the file past max_bytes goes to a fresh file; the old one is a
    backup named <stem>-<timestamp><ext>."""
    path = tmp_path / "audit.log"
    f = make(path, opened, max_bytes=100)
    for _ in range(3):
        f.write(LINE)
    assert path.read_bytes() == LINE
    (backup,) = f.backups()
    assert backup.read_bytes() == LINE * 2
    assert backup.name.startswith("audit-") and backup.suffix == ".log"


def test_rotation_keeps_only_max_backups_newest(tmp_path: Path, opened: list[AuditFile]):
    """Backups beyond max_backups are removed, oldest first."""
    path = tmp_path / "audit.log"
    f = make(path, opened, max_bytes=50, max_backups=2)
    for i in range(5):
        f.write(LINE.replace(b"0", str(i).encode()))
    f.close()
    backups = f.backups()
    assert [b.read_bytes() for b in backups] == [
        LINE.replace(b"0", b"2"),
        LINE.replace(b"0", b"3"),
    ]
    assert path.read_bytes() == LINE.replace(b"0", b"4")


def test_zero_max_backups_keeps_them_all(tmp_path: Path, opened: list[AuditFile]):
    """max_backups=0 never removes a backup (lumberjack's meaning)."""
    f = make(tmp_path / "audit.log", opened, max_bytes=50, max_backups=0)
    for _ in range(5):
        f.write(LINE)
    f.close()
    assert len(f.backups()) == 4


def test_backups_older_than_max_age_are_removed(tmp_path: Path, opened: list[AuditFile]):
    """With max_age_days, a rotation removes backups whose age exceeds it."""
    path = tmp_path / "audit.log"
    old = tmp_path / "audit-2020-01-01T00-00-00.000000.log"
    old.write_bytes(LINE)
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    f = make(path, opened, max_bytes=50, max_backups=0, max_age_days=1)
    f.write(LINE)
    f.write(LINE)
    f.close()
    assert not old.exists()
    assert len(f.backups()) == 1


def test_pruning_leaves_other_files_alone(tmp_path: Path, opened: list[AuditFile]):
    """Only files named like this log's backups are ever removed."""
    bystander = tmp_path / "audit-policy.log"
    bystander.write_text("keep me")
    f = make(tmp_path / "audit.log", opened, max_bytes=50, max_backups=1)
    for _ in range(4):
        f.write(LINE)
    f.close()
    assert bystander.read_text() == "keep me"


def test_disk_full_is_counted_logged_once_and_never_raises(
    opened: list[AuditFile], caplog: pytest.LogCaptureFixture
):
    """ENOSPC loses the record, counts it and logs one error for the whole run of failures."""
    f = make(Path("/dev/full"), opened, max_bytes=0)
    with caplog.at_level(logging.ERROR, logger="kubegate.audit"):
        f.write(LINE)
        f.write(LINE)
    assert f.failures == 2
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


def test_partly_written_record_is_removed(
    tmp_path: Path, opened: list[AuditFile], monkeypatch: pytest.MonkeyPatch
):
    """A write cut short by a full disk is truncated away, so the next record starts a line."""
    path = tmp_path / "audit.log"
    f = make(path, opened)
    f.write(LINE)
    real_write = os.write
    calls = 0

    def short_then_full(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audit_file.os, "write", short_then_full)
    f.write(LINE)
    monkeypatch.setattr(audit_file.os, "write", real_write)
    f.write(LINE)
    assert path.read_bytes() == LINE * 2
    assert f.failures == 1


def test_failed_rotation_keeps_the_records(
    tmp_path: Path, opened: list[AuditFile], monkeypatch: pytest.MonkeyPatch
):
    """If the rename fails, records keep going to the current file rather than being lost."""
    path = tmp_path / "audit.log"
    f = make(path, opened, max_bytes=50)

    def refuse(*_: object) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(audit_file.os, "rename", refuse)
    f.write(LINE)
    f.write(LINE)
    assert path.read_bytes() == LINE * 2
    assert f.failures == 0


def test_close_syncs_to_disk(
    tmp_path: Path, opened: list[AuditFile], monkeypatch: pytest.MonkeyPatch
):
    """close() fsyncs what was written (the periodic sync may not have run yet)."""
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(audit_file.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    f = make(tmp_path / "audit.log", opened)
    f.write(LINE)
    f.close()
    assert synced


def test_background_sync_runs_after_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The sync thread fsyncs within its interval once something was written."""
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(audit_file.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    f = AuditFile(tmp_path / "audit.log", sync_interval=0.01)
    f.open()
    try:
        f.write(LINE)
        deadline = time.monotonic() + 5
        while not synced and time.monotonic() < deadline:
            time.sleep(0.01)
        assert synced
    finally:
        f.close()


def test_write_after_close_is_counted_not_raised(tmp_path: Path, opened: list[AuditFile]):
    """A record arriving after close() is lost and counted; it does not raise."""
    f = make(tmp_path / "audit.log", opened)
    f.close()
    f.write(LINE)
    assert f.failures == 1


def test_dash_writes_to_standard_output(opened: list[AuditFile], capfd: pytest.CaptureFixture[str]):
    """Path None (``--audit-log-path -``) writes lines to file descriptor 1."""
    f = make(None, opened)
    f.write(LINE)
    f.close()
    assert capfd.readouterr().out == LINE.decode()


def test_torn_last_record_of_a_killed_process_is_removed_at_open(
    tmp_path: Path, opened: list[AuditFile], caplog: pytest.LogCaptureFixture
):
    """A record cut short by a process killed mid-write is removed when the file is opened
    again, so the next record starts on a line of its own; whole lines stay."""
    path = tmp_path / "audit.log"
    path.write_bytes(LINE + LINE + LINE[:20])
    with caplog.at_level(logging.WARNING, logger="kubegate.audit"):
        f = make(path, opened)
    f.write(LINE)
    assert path.read_bytes() == LINE + LINE + LINE
    assert "partial record (20 bytes)" in caplog.text


def test_a_file_of_one_torn_record_is_emptied(tmp_path: Path, opened: list[AuditFile]):
    """A file holding only the start of a record is emptied at open."""
    path = tmp_path / "audit.log"
    path.write_bytes(LINE[:30])
    make(path, opened).write(LINE)
    assert path.read_bytes() == LINE


def test_a_file_ending_in_a_newline_is_left_alone(tmp_path: Path, opened: list[AuditFile]):
    """Whole lines are never cut at open."""
    path = tmp_path / "audit.log"
    path.write_bytes(LINE * 3)
    make(path, opened)
    assert path.read_bytes() == LINE * 3
