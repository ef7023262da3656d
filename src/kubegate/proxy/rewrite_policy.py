"""What a Service's annotations allow the proxy to do to its responses (docs/proxy.md,
"Rewriting"): rewrite bodies (``kubegate.io/rewrite``), inject the shim
(``kubegate.io/shim``), add a sandbox policy (``kubegate.io/sandbox``); and the same policy
for a client that presents the backend at its own root (``X-Kubegate-Rewrite: off``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Final

from kubegate.core.rewrite_csp import sandbox_policy

__all__ = [
    "DEFAULT_POLICY",
    "REWRITE_ANNOTATION",
    "SANDBOX_ANNOTATION",
    "SHIM_ANNOTATION",
    "RewritePolicy",
]

REWRITE_ANNOTATION: Final = "kubegate.io/rewrite"
SHIM_ANNOTATION: Final = "kubegate.io/shim"
SANDBOX_ANNOTATION: Final = "kubegate.io/sandbox"


@dataclass(frozen=True, slots=True)
class RewritePolicy:
    """What a Service's annotations allow; pods and nodes get the defaults."""

    body: bool = True
    shim: bool = True
    sandbox: str | None = None  # the sandbox policy to add, e.g. "sandbox allow-scripts"
    cookies: bool = True  # Set-Cookie scoped to the prefix
    prefixed: bool = True  # the client shows the backend under the prefix: X-Forwarded-Prefix

    def at_root(self) -> RewritePolicy:
        """This policy for a request whose client presents the backend at its own root
        (``X-Kubegate-Rewrite: off``): no body rewriting, no shim, no ``X-Forwarded-Prefix``;
        cookie scoping and the sandbox stay as they were."""
        return _at_root(self)

    @classmethod
    def for_service(cls, service: Mapping[str, Any] | None) -> RewritePolicy:
        """The policy of a Service object from the cache (the defaults if it is gone)."""
        if not service:
            return DEFAULT_POLICY
        return cls.from_annotations((service.get("metadata") or {}).get("annotations") or {})

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, str]) -> RewritePolicy:
        if not annotations:
            return DEFAULT_POLICY
        body = annotations.get(REWRITE_ANNOTATION, "").strip().lower() != "false"
        shim = body and annotations.get(SHIM_ANNOTATION, "").strip().lower() != "false"
        tokens = annotations.get(SANDBOX_ANNOTATION)
        return cls(body, shim, sandbox_policy(tokens) if tokens is not None else None, body)


@lru_cache(maxsize=256)  # (policies are few and shared by the resolver's memo)
def _at_root(policy: RewritePolicy) -> RewritePolicy:
    return replace(policy, body=False, shim=False, prefixed=False)


DEFAULT_POLICY: Final = RewritePolicy()
