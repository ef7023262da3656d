"""A small FastAPI app whose interactive docs are FastAPI's own Swagger UI and ReDoc, served
offline by the ``fastapi-offline`` package (the same pages FastAPI serves from a CDN).

It is run without ``root_path``: it believes it lives at the site root, so its docs page
loads ``/static-offline-docs/...`` and its JavaScript fetches the root-relative
``/openapi.json`` and calls root-relative API paths from "Try it out"."""

from __future__ import annotations

from typing import Any

from fastapi_offline import FastAPIOffline
from pydantic import BaseModel


class Pet(BaseModel):
    id: int
    name: str
    kind: str = "cat"


PETS = {1: Pet(id=1, name="Tom"), 2: Pet(id=2, name="Rex", kind="dog")}


def create_app() -> FastAPIOffline:
    app = FastAPIOffline(title="Pet store", version="1.0")

    @app.get("/pets", response_model=list[Pet])
    async def list_pets() -> list[Pet]:
        return list(PETS.values())

    @app.get("/pets/{pet_id}", response_model=Pet)
    async def get_pet(pet_id: int) -> Pet:
        return PETS[pet_id]

    @app.get("/__ready", include_in_schema=False)
    async def ready() -> dict[str, str]:
        return {}

    return app


class ForwardedPrefix:
    """ASGI middleware: take ``root_path`` from kubegate's ``X-Forwarded-Prefix``, the way a
    prefix-aware deployment does (only behind a proxy that sets the header itself)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            prefix = dict(scope["headers"]).get(b"x-forwarded-prefix", b"").rstrip(b"/")
            if prefix:
                # As uvicorn --root-path does: ASGI paths include the root path.
                root = prefix.decode("latin-1")
                scope = dict(
                    scope,
                    root_path=root,
                    path=root + scope["path"],
                    raw_path=prefix + (scope.get("raw_path") or scope["path"].encode()),
                )
        await self.app(scope, receive, send)
