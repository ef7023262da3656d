"""The wire form of watch events: one JSON WatchEvent per line, written to a streamed response.

Events whose stored bytes the store hands over are framed around those bytes (no decode or
encode per watcher); Table watches (kubectl ``get -w``) render each object as a one-row Table,
with the column definitions only in the first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubegate.api.resources import ResourceType
from kubegate.api.tables import table_for
from kubegate.errors import APIError
from kubegate.http.types import ResponseWriter
from kubegate.server.respond import encode_json

# The bytes before the object of each event type, built once instead of per event.
_RAW_HEADS = {
    kind: b'{"type":"' + kind.encode() + b'","object":'
    for kind in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")
}


class EventWriter:
    __slots__ = ("as_table", "first", "response", "rt")

    def __init__(self, response: ResponseWriter, rt: ResourceType, as_table: bool) -> None:
        self.response = response
        self.rt = rt
        self.as_table = as_table
        self.first = True

    async def _write(self, event: dict[str, Any]) -> None:
        await self.response.write(encode_json(event) + b"\n")

    async def send(self, event_type: str, obj: dict[str, Any]) -> None:
        if self.as_table:
            rv = obj.get("metadata", {}).get("resourceVersion", "")
            table = table_for(self.rt.kind, [obj], now=datetime.now(UTC), resource_version=rv)
            if not self.first:
                table["columnDefinitions"] = []
            obj = table
        self.first = False
        await self._write({"type": event_type, "object": obj})

    async def send_raw(self, event_type: str, raw: bytes) -> None:
        """An event around the stored bytes: no re-encoding per watcher."""
        self.first = False
        await self.response.write(_RAW_HEADS[event_type] + raw + b"}\n")

    async def bookmark(self, revision: int, *, initial_events_end: bool = False) -> None:
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_events_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj: dict[str, Any] = {
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version,
            "metadata": metadata,
        }
        if self.as_table:
            obj = {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "columnDefinitions": [],
                "rows": [],
            }
        await self._write({"type": "BOOKMARK", "object": obj})

    async def error(self, exc: APIError) -> None:
        await self._write({"type": "ERROR", "object": exc.to_status()})
