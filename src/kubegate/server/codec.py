"""Request body decoding and response media negotiation.

Accepted bodies: JSON, YAML (kubectl sends YAML only for apply-patch), and the Kubernetes
protobuf envelope (kubectl's typed-client commands send nothing else). Duplicate JSON keys
are reported so ``fieldValidation=Strict`` can refuse them, as kube does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubegate.errors import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from kubegate.http.types import BodyTooLarge, Request

MAX_REQUEST_BODY = 3 * 1024 * 1024  # kube-apiserver's default --max-resource-write-bytes

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


@dataclass(slots=True)
class Decoded:
    obj: Any
    duplicate_fields: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)  # found by the protobuf decoder


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int = MAX_REQUEST_BODY) -> bytes:
    try:
        return await request.body.read(limit)
    except BodyTooLarge as exc:
        raise RequestEntityTooLarge("the request is too large: limit is 3MB") from exc


def _pairs_hook(duplicates: list[str]):  # type: ignore[no-untyped-def]
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    return hook


def decode_json(raw: bytes) -> Decoded:
    duplicates: list[str] = []
    try:
        obj = json.loads(raw, object_pairs_hook=_pairs_hook(duplicates))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body of the request was in an unknown format: {exc}") from exc
    return Decoded(obj, duplicates)


def decode_yaml(raw: bytes) -> Decoded:
    try:
        obj = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise BadRequest(f"error converting YAML to JSON: {exc}") from exc
    return Decoded(obj)


def decode_protobuf(raw: bytes) -> Decoded:
    from kubegate.api.protobuf_schema import decode_kubernetes_protobuf

    try:
        obj, unknown = decode_kubernetes_protobuf(raw)
    except ValueError as exc:
        raise BadRequest(f"the body of the request was in an unknown format: {exc}") from exc
    return Decoded(obj, unknown_fields=list(unknown))


def decode_object(raw: bytes, content_type: str | None) -> Decoded:
    """Decode a create/update body into a JSON dict."""
    mt = media_type(content_type)
    if mt in ("", "application/json", "*/*"):
        decoded = decode_json(raw)
    elif mt in ("application/yaml", "application/x-yaml", "text/yaml"):
        decoded = decode_yaml(raw)
    elif mt == "application/vnd.kubernetes.protobuf":
        decoded = decode_protobuf(raw)
    else:
        raise UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
        )
    if not isinstance(decoded.obj, dict):
        raise BadRequest("the body of the request was in an unknown format: expected a JSON object")
    return decoded


def wants_table(accept: str | None) -> bool:
    """True when the client asked for meta.k8s.io Table output (kubectl get)."""
    if not accept:
        return False
    for part in accept.split(","):
        params = {
            p.split("=", 1)[0].strip(): p.split("=", 1)[-1].strip() for p in part.split(";")[1:]
        }
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
        if media_type(part) in ("application/json", "*/*", "application/*"):
            return False
    return False
