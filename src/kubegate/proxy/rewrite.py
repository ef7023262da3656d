"""Response rewriting for proxied web apps: which responses, which headers, the body stream.

The pure rules live in core (``rewrite_url``, ``rewrite_html``, ``rewrite_css``,
``rewrite_cookies``, ``rewrite_csp``); this module applies them to one proxied response:

* **headers, every response** (:meth:`ResponseRewriter.headers`): ``Set-Cookie`` scoped to
  the prefix, and with the ``kubegate.io/sandbox`` annotation a ``Content-Security-Policy:
  sandbox …`` added after the backend's headers (it cannot be relaxed by them);
* **bodies** (:meth:`ResponseRewriter.plan`): ``text/html``, ``application/xhtml+xml`` and
  ``text/css`` with a body (not 1xx, 204, 206, 304), in identity, ``gzip``,
  ``deflate`` or ``br`` coding, an ASCII-compatible charset, without ``Cache-Control:
  no-transform`` — decoded, rewritten and re-encoded as they stream. ``Content-Length`` is
  recomputed (small bodies) or the body goes chunked; ``ETag`` becomes weak; digests and
  ``Accept-Ranges`` go. A body rewritten before with the same inputs, byte for byte, is
  answered from a memo (``proxy/rewrite_memo.py``). A 304 gets the weak ``ETag`` its 200
  would have had (same rules; without a ``Content-Type`` on the 304, when the client's
  ``If-None-Match`` holds the weak form). A HEAD gets the fields the GET would get (RFC
  9110 §9.3.2): weak ``ETag``, ``X-Kubegate-Rewrite``, the CSP with the shim's hash — and
  no ``Content-Length``, which a HEAD may only send if it equals the GET's (§8.6), unknown
  until the body is rewritten; its framing says chunked, as a streamed GET's does. The
  client-side shim is inlined into HTML documents a browser navigates to (``Sec-Fetch-Dest``
  document/iframe/frame, or none), its hash added to the page's CSP; for a browser that
  merges import maps (``Sec-CH-UA``: Chromium 133+) an import map for module imports goes
  in before it (``Vary: Sec-Fetch-Dest, Sec-CH-UA``). Everything else costs one look at
  ``Content-Type``.
* **worker scripts**: a JavaScript response (any JavaScript MIME type) fetched as the script
  a dedicated, shared or service worker starts with (``Sec-Fetch-Dest`` worker,
  sharedworker, serviceworker; not a module worker's imports, fetched in ``cors`` mode)
  gets the shim's core (``shim_core.js``: the URL rule and the requests a script builds)
  put in at its top (after a hashbang line and the directive prologue, so ``"use strict"``
  keeps working: core/rewrite_js.py), with the prefix before it (proxy/shim_text.py). Same
  conditions and header handling as the bodies above — the shim opt-out, codings,
  ``no-transform``, weak ``ETag``, HEAD, 304 — and no cap (only the head of the body is
  touched); JavaScript fetched otherwise costs one more header look.

``X-Kubegate-Rewrite`` says what happened to a body that could be rewritten: ``html``,
``css``, ``worker-shim``, ``truncated-at-cap`` (the declared length is past ``max_bytes``:
only the first ``max_bytes`` are rewritten), ``skipped-encoding``, ``skipped-charset``,
``skipped-no-transform``. A body without a declared length that turns out longer than the cap
is rewritten up to it too; by then the header has gone, so that is only logged.

Annotations on the Service (read from the watch-fed cache): ``kubegate.io/rewrite:
"false"`` turns off body rewriting, the shim and cookie scoping; ``kubegate.io/shim:
"false"`` only the shim; ``kubegate.io/sandbox: "<tokens>"`` adds the sandbox policy.

The request header ``X-Kubegate-Rewrite: off`` (:data:`AT_ROOT_VALUE`; sent by ``kubegate
proxy --service``, which presents the backend at the root of its own port) turns off body
rewriting, the shim and ``X-Forwarded-Prefix`` for that request (:meth:`RewritePolicy.at_root`).
It is a client's claim, so it weakens nothing that protects kubegate's shared origin: cookies
are still scoped and stripped of ``Domain`` (the client maps their ``Path`` back itself, as it
does ``Location``), kubegate's own cookies still dropped, the sandbox policy still added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Set
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Final, TypeVar

from kubegate.core.client_hints import merges_import_maps
from kubegate.core.rewrite_cookies import scope_set_cookie
from kubegate.core.rewrite_csp import allow_inline_script, restricts_inline_scripts
from kubegate.core.rewrite_etag import holds_weak_form, weak_etag
from kubegate.core.rewrite_url import UrlRule
from kubegate.http.types import Request, ResponseWriter
from kubegate.proxy.body_codec import CODINGS
from kubegate.proxy.rewrite_memo import DEFAULT_CAPACITY as DEFAULT_MEMO_BYTES
from kubegate.proxy.rewrite_memo import RewriteMemo
from kubegate.proxy.rewrite_policy import RewritePolicy
from kubegate.proxy.rewrite_stream import BodyTransformer
from kubegate.proxy.shim_text import import_map_script, shim_script, worker_shim_prelude

_first = itemgetter(0)  # a header's name
K = TypeVar("K")
V = TypeVar("V")
_INJECTIONS_MAX: Final = 1024  # shim scripts and worker preludes kept, by prefix

log = logging.getLogger("kubegate.proxy.rewrite")

__all__ = [
    "AT_ROOT_VALUE",
    "REWRITE_HEADER",
    "WORKER_SHIM",
    "BodyPlan",
    "ResponseRewriter",
    "RewriteSettings",
    "relay_head_without_length",
]

REWRITE_HEADER: Final = "x-kubegate-rewrite"  # on a response: what happened to the body
AT_ROOT_VALUE: Final = "off"  # on a request: the client presents the backend at its root
DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024

# The JavaScript MIME type essences (WHATWG MIME Sniffing §4.6); a worker's script must
# have one of them, or the browser refuses it.
_JS_TYPES: Final = (
    "application/ecmascript",
    "application/javascript",
    "application/x-ecmascript",
    "application/x-javascript",
    "text/ecmascript",
    "text/javascript",
    "text/javascript1.0",
    "text/javascript1.1",
    "text/javascript1.2",
    "text/javascript1.3",
    "text/javascript1.4",
    "text/javascript1.5",
    "text/jscript",
    "text/livescript",
    "text/x-ecmascript",
    "text/x-javascript",
)
_KINDS: Final = {
    "text/html": "html",
    "application/xhtml+xml": "xhtml",
    "text/css": "css",
    **dict.fromkeys(_JS_TYPES, "js"),
}
WORKER_SHIM: Final = "worker-shim"  # X-Kubegate-Rewrite of a worker script given the shim
_NOT_ASCII_COMPATIBLE: Final = (
    "utf-16",
    "utf-32",
    "utf-7",
    "iso-2022-",
    "hz-gb-2312",
    "ucs-2",
    "ucs-4",
)
_SHIM_DESTINATIONS: Final = frozenset({"document", "iframe", "frame"})
_WORKER_DESTINATIONS: Final = frozenset({"worker", "sharedworker", "serviceworker"})
_BODY_DEPENDENT: Final = frozenset(
    {"content-length", "content-md5", "digest", "content-digest", "repr-digest", "accept-ranges"}
)


@dataclass(frozen=True, slots=True)
class RewriteSettings:
    max_bytes: int = DEFAULT_MAX_BYTES  # of each body rewritten; the rest passes unchanged
    shim_js: str | None = None  # the client-side shim's text (None: nothing injected)
    worker_shim_js: str | None = None  # its core, for worker scripts (None: nothing prepended)
    memo_bytes: int = DEFAULT_MEMO_BYTES  # rewritten bodies kept (proxy/rewrite_memo.py); 0 off


@dataclass(frozen=True, slots=True)
class BodyPlan:
    """How to relay one response: its new headers and, if the body changes, how."""

    headers: list[tuple[str, str]]
    transformer: BodyTransformer | None  # None: the body is relayed unchanged
    head_only: bool = False  # a HEAD of a body a GET would rewrite: send no length


class ResponseRewriter:
    """The rewriting a ProxyHandler applies; one per handler, shared by its requests."""

    def __init__(self, settings: RewriteSettings, kubegate_cookies: Set[str] = frozenset()) -> None:
        if settings.shim_js is not None:
            try:
                shim_script(settings.shim_js, "/check", xhtml=True)
            except ValueError as exc:
                log.error("not injecting the client-side shim: %s", exc)
                settings = replace(settings, shim_js=None)
        self.settings = settings
        self.kubegate_cookies = kubegate_cookies
        # Shared by every request of the process (one ResponseRewriter per handler).
        self.memo = RewriteMemo(settings.memo_bytes) if settings.memo_bytes > 0 else None
        self._scripts: dict[tuple[str, bool, bool, str | None], tuple[bytes, str]] = {}
        self._preludes: dict[str, bytes] = {}

    def headers(
        self, headers: list[tuple[str, str]], *, policy: RewritePolicy, prefix: str
    ) -> list[tuple[str, str]]:
        """Cookie scoping and the sandbox policy; the list itself when nothing applies."""
        scope = policy.cookies and prefix
        # ("in map(...)" scans the names in C: this runs for every proxied response)
        if not (policy.sandbox or (scope and "set-cookie" in map(_first, headers))):
            return headers
        out = []
        for name, value in headers:
            if name == "set-cookie" and scope:
                scoped = scope_set_cookie(
                    value, prefix=prefix, kubegate_cookies=self.kubegate_cookies
                )
                if scoped is None:
                    continue
                value = scoped
            out.append((name, value))
        if policy.sandbox:
            out.append(("content-security-policy", policy.sandbox))
        return out

    def plan(
        self,
        request: Request,
        status: int,
        headers: list[tuple[str, str]],
        *,
        policy: RewritePolicy,
        prefix: str,
        backend_host: str,
        backend_scheme: str,
        declared_length: int | None,
    ) -> BodyPlan | None:
        """How to rewrite this response's body; None to relay it untouched (fast when the
        content type is not one that is rewritten)."""
        workers = self.settings.worker_shim_js is not None
        if status == 304:
            return _not_modified(request, headers, policy=policy, prefix=prefix, workers=workers)
        content_type = next((value for name, value in headers if name == "content-type"), None)
        if content_type is None:
            return None
        mime, _, params = content_type.partition(";")
        kind = _KINDS.get(mime.strip().lower())
        if kind is None or not policy.body or not prefix:
            return None
        if status < 200 or status in (204, 206):
            return None
        if kind == "js" and not _worker_script(request, policy, workers):
            # Untouched, but a worker fetching this URL would get it shimmed: caches must
            # keep the two apart (see _VARY_PAGE).
            return BodyPlan(_varying(headers, _VARY_JS), None) if workers and policy.shim else None
        coding, skipped = _coding_and_skip(headers, params)
        if skipped is not None:
            return BodyPlan([*headers, (REWRITE_HEADER, skipped)], None)
        try:
            rule = UrlRule.build(
                prefix,
                backend_host=backend_host,
                backend_scheme=backend_scheme,
                public_host=request.header("host"),
                public_scheme="https" if request.tls else "http",
            )
        except ValueError:
            return None
        inject, hash_source = b"", None
        destination = request.header("sec-fetch-dest")
        if kind == "js":
            inject = self._worker_prelude(prefix)
        elif (
            kind != "css"
            and policy.shim
            and self.settings.shim_js
            and (destination is None or destination in _SHIM_DESTINATIONS)
        ):
            inject, hash_source = self._script(
                prefix,
                xhtml=kind == "xhtml",
                import_map=merges_import_maps(request.header("sec-ch-ua")),
                csp=_csp_for_shim(headers),
            )
        max_bytes = self.settings.max_bytes
        if kind == "js":
            marker = WORKER_SHIM  # (only its head is touched: the cap does not apply)
        elif coding == "" and declared_length is not None and declared_length > max_bytes:
            marker = "truncated-at-cap"
        else:
            marker = "css" if kind == "css" else "html"
        out = []
        for name, value in headers:
            if name in _BODY_DEPENDENT:
                continue
            if name == "etag":
                value = weak_etag(value)
            elif hash_source is not None and name in (
                "content-security-policy",
                "content-security-policy-report-only",
            ):
                value = allow_inline_script(value, hash_source)
            out.append((name, value))
        out.append((REWRITE_HEADER, marker))
        if kind == "js":
            out = _varying(out, _VARY_JS)
        elif kind != "css" and policy.shim and self.settings.shim_js:
            # the shim went in, or not, by Sec-Fetch-Dest; the import map by Sec-CH-UA
            out = _varying(out, _VARY_PAGE)
        if request.method == "HEAD":
            return BodyPlan(out, None, head_only=True)
        transformer = BodyTransformer(
            kind=kind if kind in ("css", "js") else "html",
            rule=rule,
            coding=coding,
            inject=inject,
            max_bytes=max_bytes,
        )
        return BodyPlan(out, transformer)

    def _worker_prelude(self, prefix: str) -> bytes:
        js = self.settings.worker_shim_js
        assert js is not None
        return _remembered(self._preludes, prefix, lambda: worker_shim_prelude(js, prefix))

    def _script(
        self, prefix: str, *, xhtml: bool, import_map: bool, csp: str | None
    ) -> tuple[bytes, str]:
        """What goes into a page: the shim, after the import map for module imports when
        the browser merges it with the page's own (shim_text.import_map_script)."""
        js = self.settings.shim_js
        assert js is not None
        return _remembered(
            self._scripts,
            (prefix, xhtml, import_map, csp),
            lambda: _page_injection(js, prefix, xhtml=xhtml, import_map=import_map, csp=csp),
        )


def _page_injection(
    js: str, prefix: str, *, xhtml: bool, import_map: bool, csp: str | None
) -> tuple[bytes, str]:
    """The bytes put into a page and the CSP hash sources of its scripts (space-separated)."""
    script, source = shim_script(js, prefix, xhtml=xhtml, csp=csp)
    if not import_map:
        return script, source
    mapping, map_source = import_map_script(prefix)
    return mapping + script, f"{map_source} {source}"


def _csp_for_shim(headers: list[tuple[str, str]]) -> str | None:
    """What the shim is told of the page's enforced policy (shim_text.shim_script's csp)."""
    policies = [value for name, value in headers if name == "content-security-policy"]
    if not policies:
        return None
    return "inline" if any(restricts_inline_scripts(value) for value in policies) else ""


def _remembered(cache: dict[K, V], key: K, make: Callable[[], V]) -> V:
    """``cache[key]``, made by ``make()`` the first time; the whole cache is dropped when
    it holds _INJECTIONS_MAX entries (prefixes come from request paths: bounded memory)."""
    value = cache.get(key)
    if value is None:
        value = make()
        if len(cache) >= _INJECTIONS_MAX:
            cache.clear()
        cache[key] = value
    return value


async def relay_head_without_length(
    response: ResponseWriter, upstream: object, status: int, headers: list[tuple[str, str]]
) -> None:
    """Send the head of a HEAD answer whose GET body would be rewritten: no Content-Length
    (see the module docstring). (``upstream`` has no body; the relay closes it.)"""
    await response.start(status, headers)
    await response.end()


def _worker_script(request: Request, policy: RewritePolicy, workers: bool) -> bool:
    """Whether a JavaScript response to ``request`` gets the worker shim: the script a
    worker starts with, the shim allowed and loaded (``workers``). A module worker's
    imports come with its destination too, but in ``cors`` mode (the worker's own script is
    fetched ``same-origin``): they run in the worker's scope, shimmed already."""
    return (
        workers
        and policy.shim
        and request.header("sec-fetch-dest") in _WORKER_DESTINATIONS
        and request.header("sec-fetch-mode") != "cors"
    )


# Whether the shim goes in depends on Sec-Fetch-Dest (a page navigated to or fetched by a
# script) and, for JavaScript, Sec-Fetch-Mode too (a worker's own script, or a module
# worker's import), so a response that could get it says so: a browser cache must not
# answer a navigation with the copy a fetch() got (no shim: the page's scripts would escape
# the prefix), nor a worker with a <script>'s copy.
_VARY_PAGE: Final = "Sec-Fetch-Dest, Sec-CH-UA"  # the import map goes in by Sec-CH-UA
_VARY_JS: Final = "Sec-Fetch-Dest, Sec-Fetch-Mode"


def _varying(headers: list[tuple[str, str]], fields: str) -> list[tuple[str, str]]:
    """``headers`` and ``Vary: fields`` (nothing added to ``Vary: *``)."""
    for name, value in headers:
        if name == "vary" and value.strip() == "*":
            return headers
    return [*headers, ("vary", fields)]


def _coding_and_skip(headers: list[tuple[str, str]], params: str) -> tuple[str, str | None]:
    """The body's content coding ("" for identity) and why a body of a rewritable type is
    nevertheless relayed unchanged (None: it is rewritten)."""
    coding = ""
    cache_control = ""
    for name, value in headers:
        if name == "content-encoding":
            coding = f"{coding},{value}" if coding else value
        elif name == "cache-control":
            cache_control += value.lower()
    coding = coding.strip().lower()
    if coding == "identity":
        coding = ""
    if "no-transform" in cache_control:
        return coding, "skipped-no-transform"
    if coding and coding not in CODINGS:
        return coding, "skipped-encoding"
    if any(token in params.lower() for token in _NOT_ASCII_COMPATIBLE):
        return coding, "skipped-charset"
    return coding, None


def _not_modified(
    request: Request,
    headers: list[tuple[str, str]],
    *,
    policy: RewritePolicy,
    prefix: str,
    workers: bool,
) -> BodyPlan | None:
    """A 304's headers: its strong ETag weakened when the 200 it stands for was rewritten,
    so the client's cached copy keeps the weak validator that matches its bytes."""
    etag = next((value for name, value in headers if name == "etag"), None)
    if etag is None or etag.startswith("W/") or not policy.body or not prefix:
        return None
    content_type = next((value for name, value in headers if name == "content-type"), None)
    if content_type is None:
        # Many backends (Go's ServeContent, for one) send no Content-Type on a 304: then the
        # client's If-None-Match says which form of the tag its cached copy carries.
        rewritten = holds_weak_form(request.header("if-none-match"), etag)
    else:
        mime, _, params = content_type.partition(";")
        kind = _KINDS.get(mime.strip().lower())
        rewritten = (
            kind is not None
            and (kind != "js" or _worker_script(request, policy, workers))
            and _coding_and_skip(headers, params)[1] is None
        )
    if not rewritten:
        return None
    return BodyPlan([(n, weak_etag(v) if n == "etag" else v) for n, v in headers], None)
