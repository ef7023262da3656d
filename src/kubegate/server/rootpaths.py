"""The document kube-apiserver answers ``GET /`` with: ``{"paths": [...]}``.

kube lists every path its non-resource and API handlers registered (sorted); kubectl and
curl users see it when they ask for ``/`` without preferring HTML. kubegate lists the paths
it serves, in the same shape, so API clients keep kube's answer while browsers get the
service index (server/ui/index.py).
"""

from __future__ import annotations

from typing import Any

from kubegate.api.resources import group_versions

_FIXED = (
    "/api",
    "/apis",
    "/apis/",
    "/healthz",
    "/livez",
    "/openapi/v2",
    "/openapi/v3",
    "/openapi/v3/",
    "/readyz",
    "/version",
)


def root_paths(*, metrics: bool) -> dict[str, Any]:
    """The ``GET /`` document for this server (``/metrics`` only when it is served)."""
    paths = set(_FIXED)
    if metrics:
        paths.add("/metrics")
    for group, version in group_versions():
        if group:
            paths.add(f"/apis/{group}")
            paths.add(f"/apis/{group}/{version}")
        else:
            paths.add(f"/api/{version}")
    return {"paths": sorted(paths)}
