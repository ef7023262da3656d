"""``--token-auth-file``: static bearer tokens in kube's CSV format, reloaded on change.

Each record is ``token,user,uid[,"group1,group2"]`` (k8s.io/apiserver
``authenticator/token/tokenfile``): a CSV reader, empty lines skipped, at least three
columns, more allowed. As in kube, an empty token is skipped with a warning, a duplicate
token replaces the earlier record, and there is no comment syntax. A malformed file is a
clear error at startup; when the file changes later, the server re-reads it (checking its
mtime at most once per second) and keeps the previous table if the new one is malformed.
Messages name the file and line, never a token.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from kubegate.auth.tokens import StaticTokens, token_digest
from kubegate.auth.types import UserInfo

log = logging.getLogger(__name__)

T = TypeVar("T")


class AuthFileError(ValueError):
    """An authentication file that cannot be used (the CLI prints it and exits 2)."""


def csv_records(path: Path, what: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-empty record of ``path``, each with at least
    three fields; raises AuthFileError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthFileError(f"{what} '{path}': {_reason(exc)}") from None
    reader = csv.reader(text.splitlines(), strict=True)
    try:
        for record in reader:
            if not record:
                continue
            if len(record) < 3:
                raise AuthFileError(
                    f"{what} '{path}' line {reader.line_num}: must have at least 3 columns "
                    f"({_COLUMNS[what]}), found {len(record)}"
                )
            yield reader.line_num, record
    except csv.Error as exc:
        raise AuthFileError(f"{what} '{path}' line {reader.line_num}: {exc}") from None


_COLUMNS = {
    "token file": "token, user name, user uid",
    "password file": "password, user name, user uid",
}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return "not valid UTF-8"


def groups_column(record: list[str]) -> tuple[str, ...]:
    """The optional fourth column, a comma-separated group list (empty entries dropped)."""
    if len(record) < 4:
        return ()
    return tuple(g for g in record[3].split(",") if g)


class TokenTable(StaticTokens):
    """The token file's table: sha256(token) -> user, one dict lookup per token whatever the
    file's size (see StaticTokens for why a digest lookup is timing-safe)."""


def parse_token_file(path: Path) -> TokenTable:
    tokens = TokenTable()
    seen: set[bytes] = set()
    for line, record in csv_records(path, "token file"):
        token, name, uid = record[0], record[1], record[2]
        if not token:
            log.warning("token file '%s' line %d: empty token, record skipped", path, line)
            continue
        digest = token_digest(token)
        if digest in seen:
            log.warning("token file '%s' line %d: duplicate token, this record wins", path, line)
        seen.add(digest)
        tokens.add(token, UserInfo(name, uid, groups_column(record)))
    return tokens


class ReloadingFile(Generic[T]):
    """The parsed contents of a file, re-parsed when its mtime, size or inode changes.

    The first parse happens in the constructor and its errors propagate (a startup error).
    Later, ``current()`` looks at the file at most once per ``interval`` seconds; a failed
    re-parse is logged and the previous contents stay in force."""

    def __init__(
        self,
        path: Path,
        parse: Callable[[Path], T],
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._parse = parse
        self._interval = interval
        self._clock = clock
        self._signature = self._stat()
        self._value = parse(path)
        self._checked = clock()

    def current(self) -> T:
        now = self._clock()
        if now - self._checked >= self._interval:
            self._checked = now
            self._reload_if_changed()
        return self._value

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _reload_if_changed(self) -> None:
        signature = self._stat()
        if signature == self._signature:
            return
        self._signature = signature
        if signature is None:
            log.warning("'%s' is gone; keeping its previous contents", self.path)
            return
        try:
            self._value = self._parse(self.path)
        except AuthFileError as exc:
            log.warning("%s; keeping the previous contents", exc)
            return
        log.info("reloaded '%s'", self.path)


class TokenFile:
    """Token lookups against a reloading ``--token-auth-file``."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._file = ReloadingFile(path, parse_token_file, clock=clock)

    def lookup(self, token: str) -> UserInfo | None:
        return self._file.current().authenticate(token)

    def table(self) -> TokenTable:
        """The token file as currently loaded (re-read when it changes)."""
        return self._file.current()
