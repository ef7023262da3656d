"""Files that are never seen half-written: atomic replacement, private directories, a lock.

``atomic_write`` replaces a file so that a crash leaves either the old file or the new one,
never half of one (temporary file, fsync, rename, fsync of the directory); the temporary
file has its final mode before the first byte, so a private key is never readable by others.
``exclusive_lock`` serialises processes working on one directory (``flock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_write", "exclusive_lock", "make_private_dir", "write_if_changed"]


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def make_private_dir(root: Path) -> None:
    try:
        root.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if not root.is_dir():
            raise
        return  # an existing directory keeps the mode its owner gave it
    # mkdir's mode is filtered through the umask; state the intent explicitly.
    root.chmod(0o700)


def write_if_changed(path: Path, data: bytes, *, mode: int) -> bool:
    """Atomically write `data` unless `path` already holds exactly it; returns whether it wrote."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    atomic_write(path, data, mode=mode)
    return True


def atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never a mix.

    The temporary file gets its final mode before any byte is written, so a key is never
    readable by others even for an instant.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            os.fchmod(tmp.fileno(), mode)
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Persist the rename itself (POSIX: the directory entry lives in the directory's data).
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
