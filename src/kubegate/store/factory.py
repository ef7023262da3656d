"""Choosing a backend from a store URL (``--store``), through one explicit name -> factory map.

    memory:          MemoryStore, nothing persisted (tests, demos)
    sqlite:PATH      SqliteStore on PATH, absolute or relative to the working directory
    etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?timeout=SECONDS]
                     EtcdStore on an etcd v3 cluster (grammar in store/etcd_config.py)
    etcds://...[?cacert=PATH&cert=PATH&key=PATH]
                     the same over TLS

``open_store`` only builds the store; the caller awaits ``start()`` and later ``close()``.
"""

from __future__ import annotations

from collections.abc import Callable

from kubegate.store.base import Store
from kubegate.store.etcd_config import EtcdConfig
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


def _etcd_store(url: str) -> Store:
    config = EtcdConfig.from_url(url)
    # Imported here: gRPC and the etcd stubs cost ~170 ms of startup, paid only when used.
    from kubegate.store.etcd import EtcdStore

    return EtcdStore(config)


def _etcd(rest: str) -> Store:
    return _etcd_store(f"etcd:{rest}")


def _etcds(rest: str) -> Store:
    return _etcd_store(f"etcds:{rest}")


BACKENDS: dict[str, Callable[[str], Store]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "etcd": _etcd,
    "etcds": _etcds,
}
SUPPORTED = "memory:, sqlite:PATH, etcd://HOST:PORT[,HOST:PORT][/PREFIX], etcds://..."


def open_store(url: str) -> Store:
    """The (not yet started) store a URL names; ValueError for anything unsupported."""
    scheme, colon, rest = url.partition(":")
    factory = BACKENDS.get(scheme) if colon else None
    if factory is None:
        raise ValueError(f"unsupported store URL {url!r}; supported: {SUPPORTED}")
    return factory(rest)
