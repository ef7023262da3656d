"""open_store: store URLs to backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubegate.store.factory import open_store
from kubegate.store.memory import MemoryStore
from kubegate.store.sqlite import SqliteStore


def test_memory_url_opens_a_memory_store() -> None:
    """'memory:' names the in-memory backend."""
    assert isinstance(open_store("memory:"), MemoryStore)


@pytest.mark.parametrize("path", ["/var/lib/kubegate/state.db", "state.db", "data/state.db"])
def test_sqlite_url_opens_a_sqlite_store_on_the_path(path: str) -> None:
    """'sqlite:PATH' opens that file, absolute or relative."""
    store = open_store(f"sqlite:{path}")
    assert isinstance(store, SqliteStore) and store.path == path


async def test_relative_sqlite_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path lands in the current directory once the store starts."""
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:state.db")
    await store.start()
    await store.close()
    assert (tmp_path / "state.db").is_file()


@pytest.mark.parametrize(
    ("url", "endpoints", "tls"),
    [
        ("etcd://127.0.0.1:2379", ("127.0.0.1:2379",), False),
        ("etcd://a:1,b:2/kubegate", ("a:1", "b:2"), False),
        ("etcds://etcd.example:2379?cacert=/ca.pem", ("etcd.example:2379",), True),
    ],
)
def test_etcd_urls_open_an_etcd_store(url: str, endpoints: tuple[str, ...], tls: bool) -> None:
    """'etcd://' and 'etcds://' name the etcd backend (built, not connected yet)."""
    from kubegate.store.etcd import EtcdStore

    store = open_store(url)
    assert isinstance(store, EtcdStore)
    assert store.config.endpoints == endpoints and (store.config.tls is not None) == tls


@pytest.mark.parametrize(
    "url",
    [
        "",
        "memory",
        "memory:extra",
        "sqlite:",
        "sqlite:///abs.db",
        "mysql://x",
        "C:\\x",
        "etcd://",
        "etcd://host:99999",
        "etcd://host:2379?cacert=/ca.pem",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    """Anything but the documented forms is a ValueError."""
    with pytest.raises(ValueError):
        open_store(url)


def test_unknown_scheme_error_lists_the_supported_ones() -> None:
    """The error tells the user what would have worked."""
    with pytest.raises(ValueError, match="memory:, sqlite:PATH, etcd://HOST:PORT"):
        open_store("redis://localhost")
