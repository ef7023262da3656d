"""Which certificates an https backend must present.

kube never verifies service and pod backends; kubegate keeps that as the default (logged
once per target) and offers verification against ``--proxy-ca-file`` for every backend, or
against the CA a Service names in its ``kubegate.io/proxy-ca`` annotation
(``configmap/NAME`` or ``secret/NAME`` in its namespace, key ``ca.crt``). Contexts are
built once per CA object version."""

from __future__ import annotations

import base64
import ssl

from kubegate.errors import ServiceUnavailable
from kubegate.http.client import tls_client_context
from kubegate.store.base import KeyNotFound, Store, object_key

CA_KEY = "ca.crt"


class BackendTrust:
    def __init__(self, store: Store | None, default: ssl.SSLContext | None) -> None:
        self.store = store
        self.default = default
        self._contexts: dict[tuple[str, str], tuple[str, ssl.SSLContext]] = {}

    async def context_for(self, namespace: str, ca_ref: str | None) -> ssl.SSLContext | None:
        """The verifying context for a backend, or None to connect without verification."""
        if not ca_ref or self.store is None:
            return self.default
        kind, _, name = ca_ref.partition("/")
        resource = {"configmap": "configmaps", "secret": "secrets"}.get(kind.lower())
        if resource is None or not name:
            raise ServiceUnavailable(
                f'invalid kubegate.io/proxy-ca "{ca_ref}": want configmap/NAME or secret/NAME'
            )
        try:
            obj = await self.store.get(object_key(resource, namespace, name))
        except KeyNotFound as exc:
            raise ServiceUnavailable(
                f'{resource} "{name}" named by kubegate.io/proxy-ca not found'
            ) from exc
        version = obj["metadata"].get("resourceVersion", "")
        cached = self._contexts.get((namespace, ca_ref))
        if cached is not None and cached[0] == version:
            return cached[1]
        if resource == "configmaps":
            pem = (obj.get("data") or {}).get(CA_KEY, "")
        else:
            pem = base64.b64decode((obj.get("data") or {}).get(CA_KEY, "") or b"").decode(
                errors="replace"
            )
        if not pem.strip():
            raise ServiceUnavailable(f'{resource} "{name}" has no {CA_KEY}')
        try:
            context = tls_client_context(pem)
        except (ssl.SSLError, ValueError) as exc:
            raise ServiceUnavailable(f'the CA in {resource} "{name}" is not valid: {exc}') from exc
        self._contexts[(namespace, ca_ref)] = (version, context)
        return context
