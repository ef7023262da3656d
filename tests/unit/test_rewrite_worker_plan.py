"""Worker scripts in ResponseRewriter.plan (proxy/rewrite.py): a JavaScript response fetched
as a dedicated, shared or service worker's script gets the shim's core prepended; any other
JavaScript, an opted-out Service and an at-root request get nothing."""

from __future__ import annotations

import gzip
import json

import brotli
import pytest

from kubegate.http.types import Request
from kubegate.proxy.rewrite import BodyPlan, ResponseRewriter, RewriteSettings
from kubegate.proxy.rewrite_memo import RewriteMemo
from kubegate.proxy.rewrite_policy import DEFAULT_POLICY, RewritePolicy
from kubegate.proxy.shim_text import worker_shim_prelude

P = "/api/v1/namespaces/ns/services/web/proxy"
CORE = "(function(){self.core=1;})();"
BODY = b"'use strict';\nfetch('/api/x');\n"
JS = [("content-type", "text/javascript"), ("etag", '"v1"'), ("content-length", str(len(BODY)))]


def rewriter(worker_shim_js: str | None = CORE) -> ResponseRewriter:
    return ResponseRewriter(RewriteSettings(shim_js="/*page*/", worker_shim_js=worker_shim_js))


def request(destination: str | None, method: str = "GET", **extra: str) -> Request:
    headers = [("host", "kg.example")]
    if destination is not None:
        headers.append(("sec-fetch-dest", destination))
    headers += [(name.replace("_", "-"), value) for name, value in extra.items()]
    return Request(method, "/x.js", "/x.js", "", headers, None, ("127.0.0.1", 1), True)  # type: ignore[arg-type]


def plan(
    destination: str | None,
    headers: list[tuple[str, str]] = JS,
    *,
    status: int = 200,
    policy: RewritePolicy = DEFAULT_POLICY,
    method: str = "GET",
    worker_shim_js: str | None = CORE,
    **extra: str,
) -> BodyPlan | None:
    return rewriter(worker_shim_js).plan(
        request(destination, method, **extra),
        status,
        headers,
        policy=policy,
        prefix=P,
        backend_host="10.0.0.5:8080",
        backend_scheme="http",
        declared_length=len(BODY),
    )


def prelude() -> bytes:
    return worker_shim_prelude(CORE, P)


@pytest.mark.parametrize("destination", ["worker", "sharedworker", "serviceworker"])
def test_worker_destinations_get_the_core_prepended(destination: str) -> None:
    """A worker's script (each kind of worker) gets the prefix and the core after its
    directive prologue."""
    planned = plan(destination)
    assert planned is not None and planned.transformer is not None
    out = planned.transformer.whole(BODY)
    assert out == b"'use strict';" + prelude() + b"\nfetch('/api/x');\n"
    assert ("x-kubegate-rewrite", "worker-shim") in planned.headers


@pytest.mark.parametrize("destination", ["script", "empty", "document", "audioworklet", None])
def test_other_javascript_is_relayed_untouched(destination: str | None) -> None:
    """JavaScript fetched as anything but a worker's script (or with no Sec-Fetch-Dest) keeps
    its body, and only gains the Vary that keeps it apart from a worker's copy in caches."""
    assert_untouched_but_varying(plan(destination))


def assert_untouched_but_varying(planned: BodyPlan | None) -> None:
    assert planned is not None and planned.transformer is None and not planned.head_only
    assert planned.headers == [*JS, ("vary", "Sec-Fetch-Dest, Sec-Fetch-Mode")]


def test_worker_script_varies_on_destination_and_mode() -> None:
    """A shimmed worker script says it varies by Sec-Fetch-Dest and Sec-Fetch-Mode."""
    planned = plan("worker")
    assert planned is not None
    assert ("vary", "Sec-Fetch-Dest, Sec-Fetch-Mode") in planned.headers


def test_vary_star_is_left_alone() -> None:
    """A response that already varies on everything gets no narrower Vary added."""
    planned = plan("script", [*JS, ("vary", "*")])
    assert planned is not None and [v for n, v in planned.headers if n == "vary"] == ["*"]


def test_no_vary_without_the_worker_shim() -> None:
    """With the worker shim off (not loaded, or opted out) JavaScript is not planned at all."""
    assert plan("script", worker_shim_js=None) is None
    assert plan("worker", policy=RewritePolicy(shim=False)) is None


@pytest.mark.parametrize(
    "mime",
    ["application/javascript", "application/x-javascript", "text/ecmascript", "TEXT/JavaScript"],
)
def test_every_javascript_type_counts(mime: str) -> None:
    """Each JavaScript MIME type, in any case and with parameters, is a worker script."""
    planned = plan("worker", [("content-type", f"{mime}; charset=utf-8")])
    assert planned is not None and planned.transformer is not None


def test_module_worker_imports_are_untouched() -> None:
    """A module worker's import (its destination, but Sec-Fetch-Mode: cors) is not planned;
    the worker's own script (same-origin mode) is."""
    assert_untouched_but_varying(plan("worker", sec_fetch_mode="cors"))
    assert plan("sharedworker", sec_fetch_mode="same-origin") is not None


def test_other_type_for_a_worker_is_untouched() -> None:
    """A worker destination with a non-JavaScript type (which the browser refuses) is left."""
    assert plan("worker", [("content-type", "application/json")]) is None


def test_shim_opt_out_turns_it_off() -> None:
    """kubegate.io/shim: "false" (and rewrite: "false") leave worker scripts untouched."""
    for annotation in ("kubegate.io/shim", "kubegate.io/rewrite"):
        policy = RewritePolicy.from_annotations({annotation: "false"})
        assert plan("worker", policy=policy) is None


def test_at_root_request_gets_nothing() -> None:
    """A request presenting the backend at its root (X-Kubegate-Rewrite: off) gets no shim."""
    assert plan("worker", policy=DEFAULT_POLICY.at_root()) is None


def test_no_worker_shim_loaded_means_untouched() -> None:
    """Without the core loaded (worker_shim_js None), worker scripts pass untouched."""
    assert plan("worker", worker_shim_js=None) is None


def test_headers_lose_length_and_get_a_weak_etag() -> None:
    """The body's Content-Length goes (it is recomputed) and the ETag becomes weak."""
    planned = plan("worker")
    assert planned is not None
    names = dict(planned.headers)
    assert "content-length" not in names and names["etag"] == 'W/"v1"'


@pytest.mark.parametrize(
    ("coding", "encode", "decode"),
    [("gzip", gzip.compress, gzip.decompress), ("br", brotli.compress, brotli.decompress)],
)
def test_compressed_script_is_decoded_prepended_and_reencoded(
    coding: str, encode: object, decode: object
) -> None:
    """A gzip or br worker script comes out in the same coding, with the core in it."""
    headers = [("content-type", "text/javascript"), ("content-encoding", coding)]
    planned = plan("worker", headers)
    assert planned is not None and planned.transformer is not None
    out = planned.transformer.whole(encode(BODY))  # type: ignore[operator]
    assert decode(out) == b"'use strict';" + prelude() + b"\nfetch('/api/x');\n"  # type: ignore[operator]
    assert ("content-encoding", coding) in planned.headers


def test_no_transform_and_unknown_coding_are_skipped() -> None:
    """Cache-Control: no-transform and an unknown coding relay the script, saying why."""
    planned = plan("worker", [*JS, ("cache-control", "no-transform")])
    assert planned is not None and planned.transformer is None
    assert ("x-kubegate-rewrite", "skipped-no-transform") in planned.headers
    planned = plan("worker", [*JS, ("content-encoding", "zstd")])
    assert planned is not None and ("x-kubegate-rewrite", "skipped-encoding") in planned.headers


def test_head_gets_the_get_headers_and_no_body_plan() -> None:
    """A HEAD of a worker script gets the GET's fields and is marked head-only."""
    planned = plan("worker", method="HEAD")
    assert planned is not None and planned.head_only and planned.transformer is None
    assert ("x-kubegate-rewrite", "worker-shim") in planned.headers


def test_not_modified_etag_is_weak_only_for_a_worker() -> None:
    """A 304 for a worker script gets the weak ETag its 200 had; for a page's script, not."""
    headers = [("content-type", "text/javascript"), ("etag", '"v1"')]
    planned = plan("worker", headers, status=304)
    assert planned is not None and ("etag", 'W/"v1"') in planned.headers
    assert plan("script", headers, status=304) is None


def test_memo_keeps_worker_scripts_apart() -> None:
    """The same bytes as a worker script under two prefixes, and as a stylesheet, are three
    memo entries with their own outputs."""
    memo = RewriteMemo()
    planned = plan("worker")
    assert planned is not None and planned.transformer is not None
    first = memo.whole(planned.transformer, BODY)
    other = rewriter().plan(
        request("worker"),
        200,
        JS,
        policy=DEFAULT_POLICY,
        prefix="/api/v1/namespaces/ns/services/other/proxy",
        backend_host="10.0.0.5:8080",
        backend_scheme="http",
        declared_length=None,
    )
    assert other is not None and other.transformer is not None
    second = memo.whole(other.transformer, BODY)
    css = plan("style", [("content-type", "text/css")])
    assert css is not None and css.transformer is not None
    third = memo.whole(css.transformer, BODY)
    assert (memo.hits, memo.misses) == (0, 3)
    assert len({first, second, third}) == 3


def test_prelude_sets_the_prefix_as_a_javascript_string() -> None:
    """The prelude assigns the prefix as an ASCII JSON string (< > & escaped) before the
    core, on one line, ending in a semicolon."""
    odd = P + '/"</script>&\u2028'
    out = worker_shim_prelude(CORE, odd).decode("ascii")
    assert out.startswith("self.__kubegatePrefix=") and out.endswith(CORE)
    literal = out[len("self.__kubegatePrefix=") : -len(CORE) - 1]
    assert json.loads(literal) == odd and "<" not in literal and "\n" not in out
