"""The soak test's load generator, run as a separate process (``python tests/soak/load.py
CONFIG_JSON``): ``concurrency`` workers send a weighted mix of API CRUD, lists, watches,
plain and streamed proxy requests, proxied WebSocket sessions and requests to a service with
no endpoints (the provoked 503s) for ``seconds``, then print one JSON summary line: every
exchange's kind, status and Audit-Id, and every client-side error."""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from websockets.asyncio.client import connect as ws_connect

REQUEST_TIMEOUT = 30.0


@dataclass
class Summary:
    exchanges: list[tuple[str, int, str]] = field(default_factory=list)  # kind, status, id
    errors: list[tuple[str, str]] = field(default_factory=list)  # kind, error

    def note(self, kind: str, status: int, headers: Any) -> None:
        self.exchanges.append((kind, status, headers.get("Audit-Id", "")))


class Load:
    def __init__(self, config: dict[str, Any], session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        self.base = config["url"]
        self.ns = config["namespace"]
        self.headers = {"Authorization": f"Bearer {config['token']}"}
        self.summary = Summary()
        self.ssl = ssl.create_default_context(cafile=config["ca"])

    def proxy(self, service: str, subpath: str) -> str:
        return f"{self.base}/api/v1/namespaces/{self.ns}/services/{service}/proxy{subpath}"

    async def get(self, kind: str, url: str) -> bytes:
        async with self.session.get(url, headers=self.headers) as response:
            body = await response.read()
            self.summary.note(kind, response.status, response.headers)
            return body

    async def crud(self, worker: int, n: int) -> None:
        path = f"{self.base}/api/v1/namespaces/{self.ns}/configmaps"
        name = f"soak-{worker}-{n}"
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"n": str(n)},
        }
        async with self.session.post(path, json=obj, headers=self.headers) as r:
            await r.read()
            self.summary.note("create", r.status, r.headers)
        await self.get("get", f"{path}/{name}")
        patch_headers = {**self.headers, "Content-Type": "application/merge-patch+json"}
        async with self.session.patch(
            f"{path}/{name}", data=json.dumps({"data": {"patched": "yes"}}), headers=patch_headers
        ) as r:
            await r.read()
            self.summary.note("patch", r.status, r.headers)
        async with self.session.delete(f"{path}/{name}", headers=self.headers) as r:
            await r.read()
            self.summary.note("delete", r.status, r.headers)

    async def list(self, worker: int, n: int) -> None:
        await self.get("list", f"{self.base}/api/v1/namespaces/{self.ns}/configmaps?limit=50")

    async def watch(self, worker: int, n: int) -> None:
        url = f"{self.base}/api/v1/namespaces/{self.ns}/configmaps?watch=1&timeoutSeconds=1"
        async with self.session.get(url, headers=self.headers) as response:
            async for _ in response.content.iter_any():
                pass
            self.summary.note("watch", response.status, response.headers)

    async def plain(self, worker: int, n: int) -> None:
        await self.get("proxy", self.proxy("web:http", f"/plain/{n}?w={worker}"))

    async def stream(self, worker: int, n: int) -> None:
        async with self.session.get(self.proxy("web:http", "/stream"), headers=self.headers) as r:
            async for _ in r.content.iter_any():
                pass
            self.summary.note("stream", r.status, r.headers)

    async def websocket(self, worker: int, n: int) -> None:
        url = self.proxy("ws:http", "/echo").replace("https://", "wss://", 1)
        async with ws_connect(
            url, ssl=self.ssl, additional_headers=self.headers, open_timeout=REQUEST_TIMEOUT
        ) as ws:
            assert ws.response is not None
            for i in range(3):
                await ws.send(f"m{worker}-{n}-{i}")
                if await ws.recv() != f"m{worker}-{n}-{i}":
                    raise AssertionError("WebSocket echo mismatch")
            self.summary.note("websocket", ws.response.status_code, ws.response.headers)

    async def provoked(self, worker: int, n: int) -> None:
        await self.get("provoked", self.proxy("nowhere", "/"))

    async def worker(self, worker: int, deadline: float) -> None:
        actions = [
            (self.crud, 20),
            (self.list, 10),
            (self.watch, 5),
            (self.plain, 30),
            (self.stream, 15),
            (self.websocket, 15),
            (self.provoked, 5),
        ]
        choose = random.Random(worker)
        funcs = [a for a, _ in actions]
        weights = [w for _, w in actions]
        n = 0
        while time.monotonic() < deadline:
            action = choose.choices(funcs, weights)[0]
            n += 1
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    await action(worker, n)
            except Exception as exc:  # every failure is reported, none hidden
                self.summary.errors.append((action.__name__, f"{type(exc).__name__}: {exc}"))


async def main(config: dict[str, Any]) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=config["ca"])
    connector = aiohttp.TCPConnector(limit=config["concurrency"], ssl=context)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        load = Load(config, session)
        deadline = time.monotonic() + config["seconds"]
        await asyncio.gather(*(load.worker(i, deadline) for i in range(config["concurrency"])))
    return {"exchanges": load.summary.exchanges, "errors": load.summary.errors}


if __name__ == "__main__":
    result = asyncio.run(main(json.loads(sys.argv[1])))
    print(json.dumps(result))
