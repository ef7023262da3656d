"""Choosing a backend from a store URL (``--store``), through one explicit name -> factory map.

    memory:          MemoryStore, nothing persisted (tests, demos)
    sqlite:PATH      SqliteStore on PATH, absolute or relative to the working directory
    etcd://HOST:PORT reserved for the etcd backend (not available yet)

``open_store`` only builds the store; the caller awaits ``start()`` and later ``close()``.
"""

from __future__ import annotations

from collections.abc import Callable

from kubegate.store.base import Store
from kubegate.store.memory import MemoryStore
from kubegate.store.sqlite import SqliteStore


def _memory(rest: str) -> Store:
    if rest:
        raise ValueError(f"memory store takes no argument, got {rest!r}; use 'memory:'")
    return MemoryStore()


def _sqlite(rest: str) -> Store:
    if not rest:
        raise ValueError("sqlite store needs a file path: 'sqlite:PATH'")
    if rest.startswith("//"):
        # Not SQLAlchemy's sqlite:///path: one grammar, no guessing how many slashes count.
        raise ValueError(f"write 'sqlite:PATH' (e.g. sqlite:/var/lib/kubegate.db), not {rest!r}")
    return SqliteStore(rest)


def _etcd(rest: str) -> Store:
    raise ValueError("etcd store not available yet")


BACKENDS: dict[str, Callable[[str], Store]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "etcd": _etcd,
}
SUPPORTED = "memory:, sqlite:PATH, etcd://HOST:PORT"


def open_store(url: str) -> Store:
    """The (not yet started) store a URL names; ValueError for anything unsupported."""
    scheme, colon, rest = url.partition(":")
    factory = BACKENDS.get(scheme) if colon else None
    if factory is None:
        raise ValueError(f"unsupported store URL {url!r}; supported: {SUPPORTED}")
    return factory(rest)
