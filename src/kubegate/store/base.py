"""The Store contract: a versioned key/value store of JSON objects with watch.

Keys are laid out like kube-apiserver's etcd keys: ``/registry/{resource}/{namespace}/{name}``
for namespaced objects and ``/registry/{resource}/{name}`` for cluster-scoped ones. Values
are Kubernetes objects as plain JSON dicts.

resourceVersion is one store-wide, strictly increasing integer (etcd's mod revision on the
etcd backend). Every successful write bumps it and the store writes it into the stored
object's ``metadata.resourceVersion`` before persisting, so what ``get`` returns is exactly
what was acknowledged.

Errors raised (translated to API errors with resource names by the API layer):

    StoreError
      KeyNotFound      the key does not exist
      KeyExists        create on an existing key
      VersionConflict  update/delete with a stale expected resourceVersion
      Expired          watch/list continuation from a resourceVersion no longer available
      StoreUnavailable the backend cannot be reached (etcd down, disk failure)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

JSON = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]


class StoreError(Exception):
    """Base of all store failures."""


class KeyNotFound(StoreError):
    pass


class KeyExists(StoreError):
    pass


class VersionConflict(StoreError):
    pass


class Expired(StoreError):
    """The requested resourceVersion is older than the store still remembers."""


class StoreUnavailable(StoreError):
    pass


class ObjectTooLarge(StoreError):
    """The object is larger than the store accepts (etcd's --max-request-bytes); the API
    answers 413, as kube-apiserver does, since retrying the same write cannot succeed."""


class WatchTooSlow(StoreError):
    """The watcher did not keep up; its bounded buffer overflowed and the watch ended."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change. ``object`` is the object after the change (for DELETED: its last state,
    with ``metadata.resourceVersion`` set to the deletion's revision). ``revision`` is that
    resourceVersion as an int. For BOOKMARK, ``object`` is None and ``revision`` is the
    store revision the watcher has caught up to."""

    type: EventType
    key: str
    object: JSON | None
    revision: int
    # The stored JSON encoding (UTF-8) of ``object`` when the backend has it, so a watch can be
    # written to the wire without re-encoding; None for BOOKMARK and ERROR.
    raw: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[JSON]
    revision: int  # the store revision the list is consistent with
    continue_key: str | None  # last key returned when the page was cut short by ``limit``


@dataclass(frozen=True, slots=True)
class RawListResult:
    """Like ListResult, but each item is the object's stored JSON encoding (UTF-8), so a list
    can be served by joining bytes instead of decoding and re-encoding every object."""

    items: list[bytes]
    revision: int
    continue_key: str | None


class WatchStream(Protocol):
    """What ``Store.watch`` returns: an async iterator of events that knows how far it got."""

    def __aiter__(self) -> AsyncIterator[WatchEvent]: ...

    async def __anext__(self) -> WatchEvent: ...

    @property
    def revision(self) -> int:
        """The store revision this stream is caught up to: every event under its prefix up to
        this revision has been handed to the consumer (what a BOOKMARK may report)."""

    async def aclose(self) -> None:
        """Stop watching and release the stream's buffer; further iteration ends."""


class Store(Protocol):
    """What every backend (memory, sqlite, etcd) provides. All methods are coroutine-safe."""

    async def start(self) -> None:
        """Open files/connections. Called once before use."""

    async def close(self) -> None:
        """Flush and release everything; end all watches cleanly."""

    @property
    def revision(self) -> int:
        """The current (latest committed) store revision."""

    async def get(self, key: str) -> JSON:
        """Return the stored object; raise KeyNotFound."""

    async def create(self, key: str, obj: JSON) -> JSON:
        """Store a new object; raise KeyExists. Returns the stored object (rv set)."""

    async def update(self, key: str, obj: JSON, expected_revision: int | None = None) -> JSON:
        """Replace an object. With ``expected_revision``, fail with VersionConflict unless the
        stored object's resourceVersion equals it. Raise KeyNotFound if absent."""

    async def guaranteed_update(
        self, key: str, mutate: Callable[[JSON], JSON], *, retries: int = 5
    ) -> JSON:
        """Read-modify-write with optimistic retries: ``mutate`` gets a deep copy of the
        current object and returns the new one. Raise KeyNotFound if absent."""

    async def delete(self, key: str, expected_revision: int | None = None) -> JSON:
        """Delete and return the last state (rv = deletion revision)."""

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "") -> ListResult:
        """Objects whose key starts with ``prefix``, in key order, after key ``start_after``;
        at most ``limit`` (0 = all). Returned objects are the caller's to mutate."""

    async def list_raw(
        self, prefix: str, *, limit: int = 0, start_after: str = ""
    ) -> RawListResult:
        """``list``, but items are the stored JSON encodings, for serving without decoding."""

    def watch(self, prefix: str, from_revision: int) -> WatchStream:
        """Events for keys under ``prefix`` with revision > ``from_revision`` (0 = from now).
        Raise Expired (on first iteration) if that history is gone. The iterator ends with
        WatchTooSlow if the consumer falls behind its bounded buffer, and ends cleanly when
        the store closes. The stream is registered when ``watch`` returns, so nothing written
        after the call is missed. Event objects are shared by all watchers: read-only."""


def object_key(resource: str, namespace: str, name: str) -> str:
    """The registry key for one object."""
    if namespace:
        return f"/registry/{resource}/{namespace}/{name}"
    return f"/registry/{resource}/{name}"


def collection_prefix(resource: str, namespace: str = "") -> str:
    """The key prefix of a resource collection, optionally within one namespace."""
    if namespace:
        return f"/registry/{resource}/{namespace}/"
    return f"/registry/{resource}/"
