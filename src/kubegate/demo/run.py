"""``--demo``: start the demo backends and register them as kube-system cluster services.

The objects are written by the server itself, straight to the store: they point at
loopback addresses, which user-created Endpoints/EndpointSlices may not (kube's rule).
"""

from __future__ import annotations

import contextlib
import ssl
import tempfile
from pathlib import Path

from kubegate.api import strategy
from kubegate.api.resources import by_kind
from kubegate.auth.pki import issue_serving_cert
from kubegate.demo.backends import DemoBackends, start_demo_backends
from kubegate.demo.seed import demo_objects
from kubegate.store.base import KeyExists, KeyNotFound, Store, object_key


def _backend_tls(ca_cert: Path, ca_key: Path) -> ssl.SSLContext:
    cert_pem, key_pem = issue_serving_cert(
        ca_cert.read_bytes(),
        ca_key.read_bytes(),
        hosts=["127.0.0.1", "localhost", "secure-echo.kube-system.svc"],
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


async def start_demo(store: Store, datadir, allocators) -> DemoBackends:  # type: ignore[no-untyped-def]
    backends = await start_demo_backends(_backend_tls(datadir.ca_cert, datadir.ca_key))
    for obj in demo_objects(backends.services):
        group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
        rt = by_kind(group, obj["kind"])
        assert rt is not None
        meta = obj["metadata"]
        key = object_key(rt.plural, meta.get("namespace", ""), meta["name"])
        with contextlib.suppress(KeyNotFound):
            old = await store.delete(key)  # ports change each start: replace last run's objects
            if rt.kind == "Service":
                await allocators.release_for_service(old)
        strategy.prepare_create(rt.kind, obj, namespace=meta.get("namespace", ""))
        if rt.kind == "Service":
            await allocators.allocate_for_service(obj, key)
        with contextlib.suppress(KeyExists):
            await store.create(key, obj)
    return backends
