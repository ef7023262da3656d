"""The audit log file: append-only, one ``write()`` per record, rotated by size.

Durability, and why the write is synchronous:

* ``write()`` hands the whole line to the kernel with ``os.write`` on the caller's thread
  (the event loop), before the response's last bytes are sent (see
  ``server/audit_log.py``). A record is therefore in the page cache before its client can
  see the answer, and survives a crash of the process (``kill -9``, OOM): every
  acknowledged request is in the file. A page-cache write costs a few microseconds, less
  than handing the line to another thread; a thread hop would also leave a window in which
  an acknowledged request's record exists only in memory.
* ``fsync`` never runs on the caller's thread: a background thread syncs at most every
  ``sync_interval`` (100 ms) when something was written, and once more on ``close()``. A
  machine crash or power loss can lose the records of the last ``sync_interval``; fsync per
  record (about 1.4 ms here) would put the disk on every request's path.
* Nothing is queued, so nothing is dropped for being slow: a disk that cannot keep up slows
  the server down (kube's ``blocking`` audit mode), it does not lose records.
* A write that fails (``ENOSPC``, ``EIO``) is undone (the file is truncated back to its last
  whole line), counted in ``failures``, logged once per run of failures, and reported to the
  caller (``write`` returns False; ``failing`` stays True until a write succeeds again). What
  the server does about it is its audit mode's business (``server/audit_log.py``): refuse
  requests (``blocking-strict``), or keep serving and lose the records (``blocking``).

Rotation (as kube's lumberjack logger): before a line would take the file past
``max_bytes`` it is renamed to ``<stem>-<UTC timestamp><ext>`` and a new file is opened;
backups beyond ``max_backups`` (0 keeps all) or older than ``max_age_days`` (0 keeps all)
are removed by the background thread.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("kubegate.audit")

_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
_ROTATE_RETRY = 60.0  # seconds before retrying a rotation that failed
_TAIL_SCAN = 1024 * 1024  # how far back a torn last record is looked for (records are smaller)


class AuditFile:
    """Where audit lines go: a file path, or ``None`` for standard output."""

    def __init__(
        self,
        path: Path | None,
        *,
        max_bytes: int = 100 * 1024 * 1024,
        max_backups: int = 10,
        max_age_days: float = 0,
        sync_interval: float = 0.1,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes if path is not None else 0
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self.sync_interval = sync_interval
        self.failures = 0  # records that could not be written
        self.written = 0  # records written
        self._fd = -1
        self._size = 0
        self._dirty = False
        self._failing = False
        self._closed = False
        self._rotate_after = 0.0
        self._lock = threading.Lock()  # guards _fd and _retired against the sync thread
        self._retired: list[int] = []  # rotated-out descriptors the sync thread closes
        self._prune = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Open (or create) the file; an error here stops the server from starting."""
        if self.path is None:
            self._fd = os.dup(1)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, _OPEN_FLAGS, 0o600)
            self._size = self._without_torn_tail(os.fstat(self._fd).st_size)
            self._thread = threading.Thread(
                target=self._sync_loop, name="audit-log-sync", daemon=True
            )
            self._thread.start()

    def _without_torn_tail(self, size: int) -> int:
        """The file's size once a partial last record is gone. A process killed inside a
        record's ``write()`` (SIGKILL stops a write between pages) leaves the start of a
        line without its newline — never an acknowledged request's record, which is whole
        before the response ends — and the next record would be glued to it."""
        if not size:
            return 0
        assert self.path is not None
        with open(self.path, "rb") as file:
            tail_start = max(0, size - _TAIL_SCAN)
            file.seek(tail_start)
            tail = file.read(size - tail_start)
        if tail.endswith(b"\n"):
            return size
        cut = tail.rfind(b"\n")
        keep = tail_start + cut + 1 if cut >= 0 else (0 if tail_start == 0 else size)
        if keep == size:  # no newline within the last _TAIL_SCAN bytes: not ours to cut
            return size
        self._truncate(keep)
        log.warning(
            "audit log: removed a partial record (%d bytes) left by a process that died"
            " while writing it",
            size - keep,
        )
        return keep

    def close(self) -> None:
        """Stop the sync thread, sync what was written, close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sync_once(force=True)
        with self._lock:
            fds, self._retired = [self._fd, *self._retired], []
            self._fd = -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)

    # ------------------------------------------------------------------ writing
    @property
    def failing(self) -> bool:
        """Whether the last write failed (and none has succeeded since)."""
        return self._failing

    def write(self, line: bytes) -> bool:
        """Append one whole line; whether it was written. Never raises: failures are counted
        and logged."""
        if self._closed or self._fd < 0:
            self._failed(OSError("the audit log is closed"))
            return False
        if self.max_bytes and self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        start = self._size
        try:
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            if self.path is not None and view.nbytes != len(line):
                self._truncate(start)
            self._failed(exc)
            return False
        self._size = start + len(line)
        self._dirty = True
        self.written += 1
        if self._failing:
            self._failing = False
            log.warning("audit log writable again (%d records lost so far)", self.failures)
        return True

    def _truncate(self, size: int) -> None:
        try:
            os.ftruncate(self._fd, size)  # no half line for the next record to land after
        except OSError as exc:
            log.error("audit log: cannot remove a partly written record: %s", exc)

    def _failed(self, exc: OSError) -> None:
        self.failures += 1
        if not self._failing:
            self._failing = True
            log.error("audit log write failed: %s", exc)

    # ------------------------------------------------------------------ rotation
    def _rotate(self) -> None:
        assert self.path is not None
        now = time.time()
        if now < self._rotate_after:
            return
        backup = self._backup_path(now)
        try:
            os.rename(self.path, backup)
            fd = os.open(self.path, _OPEN_FLAGS, 0o600)
        except OSError as exc:
            # Keep writing to the descriptor we have (it may now name the backup) rather
            # than lose records; try again later.
            self._rotate_after = now + _ROTATE_RETRY
            log.error("audit log rotation failed, retrying in %.0fs: %s", _ROTATE_RETRY, exc)
            return
        with self._lock:
            self._retired.append(self._fd)
            self._fd = fd
            self._size = 0
            self._prune = True
        self._dirty = True

    def _backup_path(self, now: float) -> Path:
        assert self.path is not None
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H-%M-%S.%f")
        candidate = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        n = 0
        while candidate.exists():
            n += 1
            candidate = self.path.with_name(f"{self.path.stem}-{stamp}-{n}{self.path.suffix}")
        return candidate

    def backups(self) -> list[Path]:
        """Rotated files of this log, oldest first."""
        if self.path is None:
            return []
        pattern = re.compile(
            re.escape(self.path.stem)
            + r"-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{6}(-\d+)?"
            + re.escape(self.path.suffix)
            + "$"
        )
        found = []
        for entry in os.scandir(self.path.parent):
            if pattern.match(entry.name):
                try:
                    found.append((entry.stat().st_mtime_ns, entry.name))
                except OSError:
                    continue
        return [self.path.parent / name for _, name in sorted(found)]

    def _prune_backups(self) -> None:
        backups = self.backups()
        doomed = set()
        if self.max_backups > 0:
            doomed.update(backups[: max(0, len(backups) - self.max_backups)])
        if self.max_age_days > 0:
            cutoff = time.time() - self.max_age_days * 86400
            for path in backups:
                try:
                    if path.stat().st_mtime < cutoff:
                        doomed.add(path)
                except OSError:
                    continue
        for path in doomed:
            try:
                path.unlink()
            except OSError as exc:
                log.error("audit log: cannot remove old backup %s: %s", path.name, exc)

    # ------------------------------------------------------------------ syncing
    def _sync_loop(self) -> None:
        while not self._stop.wait(self.sync_interval):
            self._sync_once()

    def _sync_once(self, *, force: bool = False) -> None:
        if self.path is None:
            return
        with self._lock:
            retired, self._retired = self._retired, []
            prune, self._prune = self._prune, False
            fd = os.dup(self._fd) if (self._dirty or force) and self._fd >= 0 else -1
            self._dirty = False
        for old in retired:
            self._fsync(old)
            os.close(old)
        if fd >= 0:
            self._fsync(fd)
            os.close(fd)
        if retired:
            self._fsync_directory()
        if prune:
            self._prune_backups()

    def _fsync(self, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            log.error("audit log fsync failed: %s", exc)

    def _fsync_directory(self) -> None:
        assert self.path is not None
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)  # makes the rotation's rename durable
        except OSError:
            pass
        finally:
            os.close(fd)
