"""The client-side shim as kubegate loads it (proxy/rewrite.load_shim): minified once with
rjsmin, the readable source left in the package, the readable text when rjsmin is missing.
(What the minified shim does in a browser: tests/browser/test_shim*.py, which load it.)"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

import pytest

from kubegate.proxy import rewrite
from kubegate.proxy.rewrite import load_shim, minify_js, shim_script


def _source() -> str:
    return resources.files("kubegate.proxy").joinpath("shim.js").read_text(encoding="utf-8")


def test_loaded_shim_is_the_source_minified() -> None:
    """load_shim() drops the source's comments and most of its bytes, keeping its code."""
    source, loaded = _source(), load_shim()
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
    monkeypatch.setattr(rewrite, "_jsmin", None)
    assert minify_js("var a = 1;  // one\n") == "var a = 1;  // one\n"
    assert load_shim() == _source()
