"""The ``rewrite-cpu`` suite: CPU time of HTML rewriting on one page, in this process.

    python -m bench rewrite-cpu [--quick] [--results-dir DIR]

Steadier than the ``rewrite`` suite's wall-clock ratios on a shared machine: each number is
the best of several runs of ``time.process_time`` (the CPU this process used), on the same
200 KiB page (bench/rewrite_page.py) fed in 64 KiB pieces, as the proxy would:

rewriter    core.rewrite_html alone: the fast lane, and the exact path alone
            (``fast=False``, the reference the fast lane is tested against; the rewriter
            before the fast lane ran that path)
body        proxy.rewrite_stream's BodyTransformer on the identity and the gzip page
            (decode, rewrite with the shim injected, re-encode)
memo        a rewrite memo hit for the identity page (proxy/rewrite_memo.py: hash and
            compare the body, no rewriting), and a miss (rewrite, hash, keep) against the
            same whole-body rewrite without a memo
codings     gzip decode, and encode at the level used (body_codec) and at the others
            considered; brotli likewise

The exit code is 0 whenever the harness ran (1 if it broke).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import brotli

from bench.machine import plan_pinning
from bench.report import Row, row
from bench.rewrite_page import page
from bench.suite import add_common_arguments, harness_exit, save_report, suite_document

PAGE_BYTES = 200 * 1024
PIECE = 64 * 1024
PREFIX = "/api/v1/namespaces/default/services/web:http/proxy"


def best_ms(work: Callable[[], object], runs: int) -> float:
    """The least CPU time of ``runs`` runs of ``work``, in milliseconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best * 1e3


def measure(runs: int) -> dict[str, float]:
    from kubegate.core.rewrite_html import HtmlRewriter
    from kubegate.core.rewrite_url import UrlRule
    from kubegate.proxy.body_codec import BROTLI_QUALITY, GZIP_LEVEL
    from kubegate.proxy.rewrite_memo import RewriteMemo
    from kubegate.proxy.rewrite_stream import BodyTransformer
    from kubegate.proxy.shim_text import shim_script

    data = page(PAGE_BYTES)
    pieces = [data[i : i + PIECE] for i in range(0, len(data), PIECE)]
    compressed = gzip.compress(data, 6)
    gz_pieces = [compressed[i : i + PIECE] for i in range(0, len(compressed), PIECE)]
    rule = UrlRule.build(PREFIX, backend_host="127.0.0.1:8080", backend_scheme="http")
    shim, _ = shim_script("/* shim */", PREFIX)

    def rewriter(fast: bool) -> Callable[[], object]:
        def work() -> object:
            html = HtmlRewriter(rule, fast=fast)
            return [html.feed(piece) for piece in pieces] + [html.finish()]

        return work

    def transformer(coding: str, body: list[bytes]) -> Callable[[], object]:
        def work() -> object:
            t = BodyTransformer(
                kind="html", rule=rule, coding=coding, inject=shim, max_bytes=10 << 20
            )
            return [t.feed(piece) for piece in body] + [t.finish()]

        return work

    def gzip_encode(level: int) -> Callable[[], object]:
        def work() -> object:
            encoder = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            out = [encoder.compress(p) + encoder.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
            return [*out, encoder.flush()]

        return work

    def brotli_encode(quality: int) -> Callable[[], object]:
        def work() -> object:
            encoder = brotli.Compressor(quality=quality)
            return [encoder.process(p) + encoder.flush() for p in pieces] + [encoder.finish()]

        return work

    # The identity page's transformer inputs, as the proxy builds them for every request.
    params: dict[str, Any] = {
        "kind": "html",
        "rule": rule,
        "coding": "",
        "inject": shim,
        "max_bytes": 10 << 20,
    }

    def memo_hit() -> Callable[[], object]:
        """A hit for the identity page: a new transformer (as every request builds one),
        the body's hash and its comparison with the kept original."""
        memo = RewriteMemo()
        memo.whole(BodyTransformer(**params), data)
        # Fresh copies: a bytes object keeps its hash, and every request's body is new.
        copies = iter([bytes(bytearray(data)) for _ in range(runs)])
        return lambda: memo.whole(BodyTransformer(**params), next(copies))

    def whole(memo: RewriteMemo | None) -> Callable[[], object]:
        """The identity page rewritten whole, a different page each time (a marker comment),
        through a memo (a miss: rewrite, hash, keep) or not."""
        anchor = b'<main id="content">'
        marked = (data.replace(anchor, anchor + b"<!--%d-->" % i) for i in range(10**6))
        if memo is None:
            return lambda: BodyTransformer(**params).whole(next(marked))
        # Steady state, as in a server that has run for a while: the memo full, every new
        # entry evicting an old one (whose memory the next one reuses).
        while memo.stats().bytes < memo.capacity * 0.9 or memo.stats().entries < 2:
            memo.whole(BodyTransformer(**params), next(marked))
        memo.whole(BodyTransformer(**params), next(marked))
        return lambda: memo.whole(BodyTransformer(**params), next(marked))

    results = {
        "memo_hit_ms": best_ms(memo_hit(), runs),
        "whole_ms": best_ms(whole(None), runs),
        "memo_miss_ms": best_ms(whole(RewriteMemo(8 * 1024 * 1024)), runs),
        "rewriter_fast_ms": best_ms(rewriter(True), runs),
        "rewriter_exact_ms": best_ms(rewriter(False), max(3, runs // 3)),
        "body_identity_ms": best_ms(transformer("", pieces), runs),
        "body_gzip_ms": best_ms(transformer("gzip", gz_pieces), runs),
        "gzip_decode_ms": best_ms(lambda: zlib.decompressobj(31).decompress(compressed), runs),
        "gzip_level": GZIP_LEVEL,
        "brotli_quality": BROTLI_QUALITY,
    }
    for level in (1, 4, 6):
        results[f"gzip_encode_l{level}_ms"] = best_ms(gzip_encode(level), runs)
        results[f"gzip_encode_l{level}_ratio"] = len(b"".join(gzip_encode(level)())) / len(data)  # type: ignore[arg-type]
    for quality in (2, 4):
        results[f"br_encode_q{quality}_ms"] = best_ms(brotli_encode(quality), runs)
    results["page_bytes"] = len(data)
    return results


def build_rows(r: dict[str, Any]) -> list[Row]:
    mib = r["page_bytes"] / 2**20
    fast, exact = r["rewriter_fast_ms"], r["rewriter_exact_ms"]
    rows = [
        row(
            "rewriter",
            "fast lane, ms per 200 KiB page",
            f"{fast:.2f} ms ({mib / fast * 1e3:.0f} MiB/s)",
        ),
        row(
            "rewriter",
            "exact path alone (the reference)",
            f"{exact:.2f} ms ({exact / fast:.1f}x the fast lane)",
        ),
        row("body", "identity page, shim injected", f"{r['body_identity_ms']:.2f} ms"),
        row(
            "body",
            f"gzip page: decode, rewrite, encode (level {r['gzip_level']})",
            f"{r['body_gzip_ms']:.2f} ms",
        ),
        row("codings", "gzip decode", f"{r['gzip_decode_ms']:.2f} ms"),
    ]
    for level in (1, 4, 6):
        rows.append(
            row(
                "codings",
                f"gzip encode level {level} (size)",
                f"{r[f'gzip_encode_l{level}_ms']:.2f} ms ({r[f'gzip_encode_l{level}_ratio']:.1%})",
            )
        )
    for quality in (2, 4):
        rows.append(
            row(
                "codings",
                f"brotli encode quality {quality}",
                f"{r[f'br_encode_q{quality}_ms']:.2f} ms",
            )
        )
    rows.append(row("memo", "rewrite memo hit, identity page", f"{r['memo_hit_ms']:.3f} ms"))
    rows.append(
        row(
            "memo",
            "a new identity page whole: memo miss (without a memo)",
            f"{r['memo_miss_ms']:.2f} ms ({r['whole_ms']:.2f} ms)",
        )
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench rewrite-cpu",
        description="CPU time of HTML rewriting on one page, in this process.",
    )
    add_common_arguments(parser, quick="fewer runs per number", pin=False)
    args = parser.parse_args(argv)
    runs = 5 if args.quick else 15
    document = suite_document("rewrite-cpu", plan_pinning(enabled=False), {"runs": runs})
    try:
        document["results"] = measure(runs)
    except Exception as exc:
        return harness_exit(exc)
    save_report(args.results_dir, document, build_rows(document["results"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
