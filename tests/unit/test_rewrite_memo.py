"""The rewrite memo (proxy/rewrite_memo.py): exact hits, a miss for any change in the body or
the transform's inputs, collisions that never return another body's output, and bounds."""

from __future__ import annotations

import dataclasses
import gzip
import inspect

import pytest

from kubegate.core.rewrite_url import UrlRule
from kubegate.proxy import rewrite_memo
from kubegate.proxy.rewrite_memo import ENTRY_MAX, RewriteMemo
from kubegate.proxy.rewrite_stream import BodyTransformer, TransformParams

P = "/api/v1/namespaces/ns/services/web/proxy"
RULE = UrlRule.build(P, backend_host="10.0.0.5:8080", backend_scheme="http")
PAGE = b'<html><head></head><body><a href="/x">x</a><link href="/s.css"></body></html>'
BASE = {"kind": "html", "rule": RULE, "coding": "", "inject": b"<script>s</script>"}


def transformer(**changes: object) -> BodyTransformer:
    arguments = {**BASE, "max_bytes": 10 << 20, **changes}
    return BodyTransformer(**arguments)  # type: ignore[arg-type]


def fresh(body: bytes, **changes: object) -> bytes:
    return transformer(**changes).whole(body)


def test_params_are_every_input_of_the_transformer() -> None:
    """TransformParams has exactly the fields BodyTransformer is built from, so a new input
    of the rewrite is part of the memo's key."""
    inputs = set(inspect.signature(BodyTransformer).parameters)
    assert inputs == {field.name for field in dataclasses.fields(TransformParams)}


def test_hit_returns_what_a_fresh_rewrite_returns() -> None:
    """The second lookup of a body is a hit with the very output a new rewrite gives."""
    memo = RewriteMemo()
    first = memo.whole(transformer(), PAGE)
    second = memo.whole(transformer(), bytes(bytearray(PAGE)))  # equal bytes, other object
    assert (second, memo.hits, memo.misses) == (fresh(PAGE), 1, 1)
    assert first == second


def test_gzip_hit_returns_the_encoded_bytes_sent() -> None:
    """A compressed body's hit is the re-encoded output the first rewrite sent."""
    memo = RewriteMemo()
    encoded = gzip.compress(PAGE)
    first = memo.whole(transformer(coding="gzip"), encoded)
    assert memo.whole(transformer(coding="gzip"), encoded) is first
    assert gzip.decompress(first) == fresh(PAGE)


def test_unchanged_gzip_body_hit_is_the_backends_bytes() -> None:
    """A compressed body the rewrite leaves alone comes back as the backend's bytes on a hit."""
    memo = RewriteMemo()
    encoded = gzip.compress(b"<p>nothing to rewrite</p>")
    memo.whole(transformer(coding="gzip", inject=b""), encoded)
    assert memo.whole(transformer(coding="gzip", inject=b""), encoded) == encoded
    assert memo.stats().bytes == len(encoded)  # kept once: the output is the original


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "css"},
        {
            "rule": UrlRule.build(
                "/other/proxy", backend_host="10.0.0.5:8080", backend_scheme="http"
            )
        },
        {"rule": UrlRule.build(P, backend_host="10.0.0.6:8080", backend_scheme="http")},
        {"rule": UrlRule.build(P, backend_host="10.0.0.5:8080", backend_scheme="https")},
        {
            "rule": UrlRule.build(
                P, backend_host="10.0.0.5:8080", backend_scheme="http", public_host="kg.example"
            )
        },
        {"coding": "gzip"},
        {"inject": b""},
        {"inject": b"<script>t</script>"},
        {"max_bytes": 20},
    ],
    ids=[
        "kind",
        "prefix",
        "backend-host",
        "backend-scheme",
        "public-host",
        "coding",
        "no-shim",
        "other-shim",
        "cap",
    ],
)
def test_any_other_input_is_a_miss(changes: dict[str, object]) -> None:
    """A body memoised with one set of inputs is a miss when any one of them differs."""
    memo = RewriteMemo()
    memo.whole(transformer(), PAGE)
    body = gzip.compress(PAGE) if changes.get("coding") else PAGE
    out = memo.whole(transformer(**changes), body)
    assert (memo.hits, memo.misses) == (0, 2)
    assert out == fresh(body, **changes)


def test_one_changed_byte_is_a_miss() -> None:
    """A body of the same length differing in one byte is rewritten anew."""
    memo = RewriteMemo()
    memo.whole(transformer(), PAGE)
    other = PAGE.replace(b'"/x"', b'"/y"')
    assert memo.whole(transformer(), other) == fresh(other)
    assert memo.hits == 0


def test_hash_collision_is_a_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two different bodies of one length and one hash never get each other's output."""
    monkeypatch.setattr(rewrite_memo, "body_digest", lambda body: 42)
    memo = RewriteMemo()
    other = PAGE.replace(b'"/x"', b'"/y"')
    memo.whole(transformer(), PAGE)
    assert memo.whole(transformer(), other) == fresh(other)
    assert memo.whole(transformer(), PAGE) == fresh(PAGE)
    assert (memo.hits, memo.misses) == (0, 3)


def test_truncation_is_reported_on_a_hit() -> None:
    """A hit for a body the rewrite cut at the cap marks the transformer truncated too."""
    memo = RewriteMemo()
    memo.whole(transformer(max_bytes=20), PAGE)
    again = transformer(max_bytes=20)
    assert memo.whole(again, PAGE) == fresh(PAGE, max_bytes=20)
    assert again.truncated and memo.hits == 1


def test_least_recently_used_goes_first() -> None:
    """Past the capacity the least recently used entry is dropped, a recently hit one kept."""
    bodies = [PAGE + b"<!--%d-->" % i for i in range(3)]
    entry = len(bodies[0]) + len(fresh(bodies[0]))
    memo = RewriteMemo(capacity=2 * entry + entry // 2)
    memo.whole(transformer(), bodies[0])
    memo.whole(transformer(), bodies[1])
    memo.whole(transformer(), bodies[0])  # hit: now the most recently used
    memo.whole(transformer(), bodies[2])  # evicts bodies[1]
    memo.whole(transformer(), bodies[0])
    memo.whole(transformer(), bodies[1])
    assert (memo.hits, memo.misses) == (2, 4)
    assert memo.stats().bytes <= memo.capacity


def test_body_over_the_entry_limit_is_not_kept() -> None:
    """A body longer than ENTRY_MAX is rewritten every time and holds no memory."""
    memo = RewriteMemo()
    big = PAGE * (ENTRY_MAX // len(PAGE) + 1)
    memo.whole(transformer(), big)
    assert memo.whole(transformer(), big) == fresh(big)
    assert memo.stats().entries == 0 and memo.hits == 0


def test_entry_bigger_than_the_capacity_is_not_kept() -> None:
    """An entry that alone would exceed the capacity is not stored (nothing is evicted for it)."""
    memo = RewriteMemo(capacity=len(PAGE) + 10)
    memo.whole(transformer(), PAGE)
    assert memo.stats().entries == 0 and memo.stats().bytes == 0
