"""Worker scripts through a real ``kubegate serve``: the shim's core prepended to JavaScript
fetched as a worker's script, with the length, coding and validators right; other JavaScript
relayed byte for byte (proxy/rewrite.py; docs/proxy.md, "Rewriting")."""

from __future__ import annotations

import gzip

from integration.proxy.test_rewrite import fetch, serving
from kubegate.proxy.shim_text import load_worker_shim, worker_shim_prelude

SCRIPT = b"'use strict';\nimportScripts('/lib.js');\n"
JS = [("Content-Type", "text/javascript"), ("ETag", '"s1"')]
WORKER = [("Sec-Fetch-Dest", "worker")]


def expected(prefix: str, body: bytes = SCRIPT) -> bytes:
    core = load_worker_shim()
    assert core is not None
    head, rest = body.split(b"\n", 1)
    return head + worker_shim_prelude(core, prefix.rstrip("/")) + b"\n" + rest


async def test_worker_script_gets_the_core_with_its_length(cluster, backends):
    """A dedicated worker's script comes back with the core after its directive, a
    Content-Length that matches, a weak ETag and X-Kubegate-Rewrite: worker-shim."""
    response, prefix = await fetch(cluster, backends, serving(JS, SCRIPT), headers=WORKER)
    assert response.status == 200
    assert response.body == expected(prefix)
    assert int(response.header("content-length") or -1) == len(response.body)
    assert response.header("etag") == 'W/"s1"'
    assert response.header("x-kubegate-rewrite") == "worker-shim"


async def test_streamed_gzip_worker_script_is_reencoded(cluster, backends):
    """A chunked gzip shared worker's script is decoded, prepended and sent back gzip."""
    body = SCRIPT + b"postMessage(1);\n" * 20_000
    headers = [*JS, ("Content-Encoding", "gzip")]
    response, prefix = await fetch(
        cluster,
        backends,
        serving(headers, gzip.compress(body), chunked=True),
        headers=[("Sec-Fetch-Dest", "sharedworker")],
    )
    assert response.header("content-encoding") == "gzip"
    assert gzip.decompress(response.body) == expected(prefix, body)


async def test_module_worker_import_is_relayed_byte_for_byte(cluster, backends):
    """A module worker's static import (Sec-Fetch-Dest: worker, Sec-Fetch-Mode: cors) runs
    in the already-shimmed worker: it keeps its bytes."""
    response, _ = await fetch(
        cluster, backends, serving(JS, SCRIPT), headers=[*WORKER, ("Sec-Fetch-Mode", "cors")]
    )
    assert response.body == SCRIPT and response.header("x-kubegate-rewrite") is None


async def test_page_script_is_relayed_byte_for_byte(cluster, backends):
    """The same script loaded by a page (Sec-Fetch-Dest: script) keeps its bytes and ETag."""
    response, _ = await fetch(
        cluster, backends, serving(JS, SCRIPT), headers=[("Sec-Fetch-Dest", "script")]
    )
    assert response.body == SCRIPT
    assert response.header("etag") == '"s1"' and response.header("x-kubegate-rewrite") is None


async def test_opted_out_service_worker_script_is_untouched(cluster, backends):
    """kubegate.io/shim: "false" leaves a service worker's script as the backend sent it."""
    response, _ = await fetch(
        cluster,
        backends,
        serving(JS, SCRIPT),
        annotations={"kubegate.io/shim": "false"},
        headers=[("Sec-Fetch-Dest", "serviceworker")],
    )
    assert response.body == SCRIPT


async def test_at_root_worker_script_is_untouched(cluster, backends):
    """X-Kubegate-Rewrite: off (kubegate proxy --service) gets the worker script unchanged."""
    response, _ = await fetch(
        cluster,
        backends,
        serving(JS, SCRIPT),
        headers=[*WORKER, ("X-Kubegate-Rewrite", "off")],
    )
    assert response.body == SCRIPT


async def test_head_of_worker_script_has_no_length(cluster, backends):
    """A HEAD for a worker's script gets the GET's fields and no Content-Length."""
    response, _ = await fetch(cluster, backends, serving(JS, b""), method="HEAD", headers=WORKER)
    assert response.header("x-kubegate-rewrite") == "worker-shim"
    assert response.header("etag") == 'W/"s1"' and response.header("content-length") is None
