"""The client-side shim as kubegate loads it (proxy/shim_text.py: load_shim, load_worker_shim):
minified once with rjsmin, the readable sources (shim_core.js and shim.js) left in the
package, the readable text when rjsmin is missing. (What the minified shim does in a
browser: tests/browser/test_shim*.py and test_worker_scope.py, which load it.)"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

import pytest

from kubegate.proxy import shim_text
from kubegate.proxy.shim_text import load_shim, load_worker_shim, minify_js, shim_script


def _source(name: str) -> str:
    return resources.files("kubegate.proxy").joinpath(name).read_text(encoding="utf-8")


def _sources() -> str:
    return _source("shim_core.js") + "\n" + _source("shim.js")


def test_loaded_shim_is_the_source_minified() -> None:
    """load_shim() drops the source's comments and most of its bytes, keeping its code."""
    source, loaded = _sources(), load_shim()
    assert loaded is not None and "/*" in source and "// " in source
    assert len(loaded) < 0.75 * len(source)
    assert "/* kubegate" not in loaded and "\n  " not in loaded
    assert "__kubegateShim" in loaded and "data-kubegate-prefix" in loaded


def test_injected_script_hash_is_of_the_minified_text() -> None:
    """The CSP hash shim_script gives is the sha256 of the minified text it injects."""
    loaded = load_shim()
    assert loaded is not None
    tag, hash_source = shim_script(loaded, "/api/v1/namespaces/ns/services/web/proxy")
    found = re.fullmatch(rb'<script data-kubegate-prefix="[^"]*">(.*)</script>', tag, re.DOTALL)
    assert found is not None and loaded.encode() in found.group(1)
    digest = base64.b64encode(hashlib.sha256(found.group(1)).digest()).decode()
    assert hash_source == f"'sha256-{digest}'"


def test_without_rjsmin_the_readable_text_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """With rjsmin not importable, minify_js and load_shim return the text unchanged."""
    monkeypatch.setattr(shim_text, "_jsmin", None)
    assert minify_js("var a = 1;  // one\n") == "var a = 1;  // one\n"
    assert load_shim() == _sources()
    assert load_worker_shim() == _source("shim_core.js")


def test_worker_shim_is_the_core_on_one_line() -> None:
    """load_worker_shim() is the minified core without line breaks (a worker script's lines
    keep their numbers), and has no page part."""
    loaded = load_worker_shim()
    assert loaded is not None and "\n" not in loaded
    assert loaded == minify_js(_source("shim_core.js")).replace("\n", "")
    assert "__kubegateShim" in loaded and "importScripts" in loaded
    assert "pushState" not in loaded and "setAttribute" not in loaded
