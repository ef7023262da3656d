"""Helpers for the store tests: sample objects and reading a watch with a deadline."""

from __future__ import annotations

import asyncio
from typing import Any

from kubegate.store.base import WatchEvent, WatchStream


def service(name: str, namespace: str = "default", **extra: Any) -> dict[str, Any]:
    """A small Service-shaped object."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"port": 80}], **extra},
    }


async def take(stream: WatchStream, count: int, within: float = 5.0) -> list[WatchEvent]:
    """The next ``count`` events of a watch, failing unless they arrive ``within`` seconds."""
    events = []
    async with asyncio.timeout(within):
        for _ in range(count):
            events.append(await anext(stream))
    return events
