"""The client-side shim's text (docs/browser.md, "The shim"): the packaged sources loaded
and minified once, the inline ``<script>`` a page gets and the prelude a worker's script gets.

Two sources: ``shim_core.js`` (the URL rule and the requests a script builds; it runs in
any global scope) and ``shim.js`` (what only a page has: the address bar, elements, HTML
strings, forms, ``document.cookie``). A page gets both in one inline script
(:func:`load_shim`, :func:`shim_script`); a worker's script gets the core alone, with the
prefix before it (:func:`load_worker_shim`, :func:`worker_shim_prelude`). proxy/rewrite.py
decides who gets which.
"""

from __future__ import annotations

import json
from importlib import resources

from kubegate.core.html_values import encode_attribute
from kubegate.core.rewrite_csp import script_hash_source

try:
    from rjsmin import jsmin as _jsmin  # C-accelerated
except ImportError:  # the readable shim works the same, only with more bytes per page
    _jsmin = None

__all__ = [
    "import_map_script",
    "load_shim",
    "load_worker_shim",
    "minify_js",
    "shim_script",
    "worker_shim_prelude",
]


def load_shim() -> str | None:
    """The packaged client-side shim for pages: its core (``kubegate/proxy/shim_core.js``)
    and its page part (``shim.js``), minified once here (it is inlined into every rewritten
    page; its CSP hash is taken from the injected text), None if either is absent."""
    core, page = _shim_source("shim_core.js"), _shim_source("shim.js")
    if core is None or page is None:
        return None
    return minify_js(core + "\n" + page)


def load_worker_shim() -> str | None:
    """The shim's core alone (``kubegate/proxy/shim_core.js``), minified once here: what
    worker scripts get (:func:`worker_shim_prelude`); None if absent."""
    core = _shim_source("shim_core.js")
    if core is None:
        return None
    if _jsmin is None:
        return core
    # On one line, so the worker script's own lines keep their numbers: the core never
    # leaves a statement to automatic semicolon insertion, so rjsmin's line breaks (kept
    # after a "}" in case it ended an expression) can go.
    return str(_jsmin(core)).replace("\n", "")


def _shim_source(name: str) -> str | None:
    try:
        return resources.files("kubegate.proxy").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None


def minify_js(text: str) -> str:
    """``text`` without comments and needless whitespace (rjsmin); as it is without rjsmin."""
    return text if _jsmin is None else str(_jsmin(text))


def shim_script(
    js: str, prefix: str, *, xhtml: bool = False, csp: str | None = None
) -> tuple[bytes, str]:
    """The inline ``<script>`` carrying ``js`` for a page under ``prefix``, and the CSP
    hash source of its text. The prefix travels in ``data-kubegate-prefix`` (escaped as an
    attribute; the shim reads it from ``document.currentScript``); ``window.__kubegatePrefix``
    is set too, JSON-encoded with ``<``, ``>`` and ``&`` escaped, so it can close nothing.
    ``csp`` says what the page's Content-Security-Policy is to the shim, in
    ``data-kubegate-csp``: ``"inline"`` when it restricts inline scripts (the shim then
    changes the text of the page's own import map only where it must), ``""`` for another
    policy, None (no attribute) for none (only then are blob: workers started through the
    core)."""
    lowered = js.lower()
    # </script would end the element; <!-- would let a later <script> hide its end tag.
    if "</script" in lowered or "<!--" in lowered or (xhtml and "]]>" in js):
        raise ValueError("the shim may not contain </script or <!-- (nor ]]> for XHTML)")
    text = f"window.__kubegatePrefix={_prefix_literal(prefix)};\n{js}"
    if xhtml:  # XML: the script's text must be well-formed, so it goes in a CDATA section
        text = f"//<![CDATA[\n{text}\n//]]>"
        content = "//" + text[len("//<![CDATA[") : -len("]]>")]  # the text an XML parser sees
    else:
        content = text
    said = b"" if csp is None else b' data-kubegate-csp="' + encode_attribute(csp, '"') + b'"'
    head = b'<script data-kubegate-prefix="' + encode_attribute(prefix, '"') + b'"' + said + b">"
    return head + text.encode("utf-8") + b"</script>", script_hash_source(content)


def import_map_script(prefix: str) -> tuple[bytes, str]:
    """The inline import map that keeps a page's module imports under ``prefix``, and the
    CSP hash source of its text.

    Module specifiers (``import '/x.js'``, ``import('/x.js')``) are resolved by the browser,
    where no script can intercept them; an import map is applied to every one of them,
    URL-like ones included, after resolution against the page. Its two entries map the
    site's root to the prefix and the prefix to itself (the longest matching key wins, so a
    URL already under the prefix stays as it is). A page's own import map is merged into it
    only by browsers that merge import maps (core/client_hints.py decides)."""
    root = prefix.rstrip("/") + "/"
    text = _inert(json.dumps({"imports": {"/": root, root: root}}, separators=(",", ":")))
    return b'<script type="importmap">' + text.encode("ascii") + b"</script>", (
        script_hash_source(text)
    )


def worker_shim_prelude(js: str, prefix: str) -> bytes:
    """What a worker script under ``prefix`` gets at its top: ``self.__kubegatePrefix``
    set, then ``js`` (the shim's core), on one line and ending in ``;`` (so the script's own
    first statement and line numbers are unaffected; core/rewrite_js.py puts it in)."""
    js = js.strip()
    end = "" if js.endswith(";") else ";"
    return f"self.__kubegatePrefix={_prefix_literal(prefix)};{js}{end}".encode()


def _prefix_literal(prefix: str) -> str:
    """``prefix`` as a JavaScript string literal: JSON (ASCII only), with ``<``, ``>`` and
    ``&`` escaped as well, so that inline in HTML it can close nothing."""
    return _inert(json.dumps(prefix))


def _inert(json_text: str) -> str:
    """JSON text with ``<``, ``>`` and ``&`` as escapes (the same value to a JSON or
    JavaScript parser): inline in an HTML ``<script>`` it can close or open nothing."""
    return json_text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
