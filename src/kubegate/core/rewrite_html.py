"""HTML rewriting: URLs in markup moved under the proxy prefix, streamed piece by piece.

What is rewritten (by core.rewrite_url's rule): the URL attributes ``href``, ``src``,
``action``, ``formaction``, ``poster``, ``cite``, ``background``, ``longdesc``,
``manifest``, ``icon``, ``xlink:href`` (any element) and ``data`` (``<object>``); each URL of
``srcset`` and ``imagesrcset``; the URL in ``<meta http-equiv=refresh content="N;url=…">``;
``url(…)`` in ``style`` attributes and ``url(…)``/``@import`` in ``<style>`` elements
(core.rewrite_css). ``<base href>`` is an ``href`` like any other. An ``<iframe srcdoc>`` is
a document of its own: rewritten by a nested rewriter (the injected script goes in when it
has scripts), four levels deep at most; both fast-lane tiers leave it to the exact path.

How: the document is never parsed into a tree. Two paths read it, and agree byte for byte
(property tests hold them to it). The *fast lane* (core.html_fast_lane over
core.html_fast's patterns, most of them run as a DFA by RE2: core.html_fast_dfa) takes, in
C, long stretches of ordinary markup whose only rewrites are plain root-relative paths in
double-quoted URL attributes, and puts the prefix in with one ``split``/``join``; Python
sees only rarer candidates (a srcset, a path in single quotes). Where it declines — anything unusual, unfinished or needing a closer
look — the *exact path* reads the next construct: core.html_tokens skips, in C, what cannot
need a change, and only start tags that may carry a URL and raw-text elements reach
Python. Bytes that are not rewritten are copied verbatim, so a document is never
re-serialised, wrapped or re-encoded (kube #9766); only a rewritten value is replaced, by
its characters re-escaped (core.html_values). ``<script>``, ``<textarea>``, ``<title>``
and the other raw-text elements are never read as markup, nor are comments and CDATA.

Streaming: :meth:`HtmlRewriter.feed` returns what can be emitted and holds back an
unfinished construct (a tag cut in two, a ``</script`` not yet complete) until the next
piece; memory is the largest single construct, not the document. Past ``max_bytes`` of
input the rest passes through unrewritten (:attr:`HtmlRewriter.truncated`).

Injection: with ``inject`` (a complete ``<script>…</script>``), it goes right after the
``<head>`` start tag, or — when the document has no ``<head>`` tag before other content —
in front of the first thing after the byte order mark, doctype, comments and ``<html>``
start tag (where the parser would open the head itself).
"""

from __future__ import annotations

import re
from typing import Final

from kubegate.core.html_fast_lane import FastLane
from kubegate.core.html_tokens import (
    BORING_RE,
    BORING_TOKEN_RE,
    PROLOGUE_RE,
    RAW_TEXT_NAMES,
    START_TAG_RE,
    START_TAG_WHOLE_RE,
    WATCHED_ATTR_RE,
    raw_text_end_re,
)
from kubegate.core.html_values import (
    decode_attribute,
    encode_attribute,
    rewrite_refresh_content,
    rewrite_srcset,
)
from kubegate.core.rewrite_css import CssStream, rewrite_css
from kubegate.core.rewrite_url import UrlRule

__all__ = ["URL_ATTRIBUTES", "HtmlRewriter"]

URL_ATTRIBUTES: Final = frozenset(
    {
        b"href",
        b"src",
        b"action",
        b"formaction",
        b"poster",
        b"cite",
        b"background",
        b"longdesc",
        b"manifest",
        b"icon",
        b"xlink:href",
    }
)
_SRCSET: Final = frozenset({b"srcset", b"imagesrcset"})
_SRCDOC_DEPTH: Final = 4  # srcdoc documents inside srcdoc documents: deeper ones are kept
_RAW_BYTE_RE: Final = re.compile("[\udc80-\udcff]")  # decode_attribute's undecoded bytes
_SCRIPT_TAG_RE: Final = re.compile(rb"<script[\t\n\f\r />]", re.IGNORECASE)
_COMMENT_END_RE: Final = re.compile(rb"--!?>")
_CDATA_END_RE: Final = re.compile(rb"\]\]>")
_GT: Final = 0x3E
_BOM: Final = b"\xef\xbb\xbf"
# A root-relative path with nothing a URL parser or an HTML tokenizer would read specially:
# no second slash or backslash up front, no references, spaces, controls, dot segments.
_PLAIN_PATH_RE: Final = re.compile(
    rb"/(?![/\\])(?:[^&\\\x00-\x20./%]++|%(?!2[eE])|\.(?!\.?(?:/|\Z))|/(?!\.\.?(?:/|\Z)))*+"
)


class HtmlRewriter:
    """One HTML document, rewritten as its bytes arrive."""

    def __init__(
        self,
        rule: UrlRule,
        *,
        inject: bytes = b"",
        max_bytes: int = 0,
        fast: bool = True,
        depth: int = 0,
    ) -> None:
        self.rule = rule
        self._shim = inject  # also what a srcdoc frame with scripts gets
        self._depth = depth  # how many srcdoc documents this one is inside
        self._prefix = rule.prefix.encode("ascii")
        # Off (the reference, for tests): every byte goes through the exact path.
        self._fast = FastLane(rule) if fast else None
        self._exact_until = 0  # in the current buffer, the exact path reads up to here
        self.max_bytes = max_bytes  # 0: no limit
        self.truncated = False  # the input went past max_bytes; the rest was not rewritten
        self._inject = inject
        self._held = b""
        self._seen = 0
        self._passing = False
        # Inside a raw-text element, comment or CDATA: what ends it, whether that end is
        # part of the skipped text, how many bytes of a partial end to hold back.
        self._raw_end: re.Pattern[bytes] | None = None
        self._raw_consumes_end = False
        self._raw_keep = 0
        self._css: CssStream | None = None
        # Per-call state: the buffer, the output so far, how much of the buffer it covers.
        self._current = b""
        self._out: list[bytes] = []
        self._copied = 0

    def feed(self, data: bytes) -> bytes:
        """Rewrite the next piece; returns the output that is ready (possibly empty)."""
        if self._passing:
            return data
        if self.max_bytes and self._seen + len(data) > self.max_bytes:
            # Rewrite up to the cap; from there on (a construct the cap cut included) the
            # input passes unchanged.
            room = max(0, self.max_bytes - self._seen)
            self._seen = self.max_bytes
            head = self._run(self._held + data[:room], final=False) if room else b""
            self.truncated = True
            return head + self._pass_through(data[room:])
        self._seen += len(data)
        buffer = self._held + data if self._held else data
        return self._run(buffer, final=False)

    def finish(self) -> bytes:
        """The end of the document: everything still held, rewritten where complete."""
        if self._passing:
            return b""
        buffer, self._held = self._held, b""
        out = self._run(buffer, final=True)
        if self._css is not None:
            out += self._css.finish()
            self._css = None
        if self._inject:  # an empty or prologue-only document
            out += self._inject
            self._inject = b""
        return out

    def _pass_through(self, data: bytes) -> bytes:
        self._passing = True
        held, self._held = self._held, b""
        if self._css is not None:
            held = self._css.finish() + held
            self._css = None
        return held + data

    # ----------------------------------------------------------------------- the scan
    def _run(self, buffer: bytes, *, final: bool) -> bytes:
        self._out = out = []
        self._current = buffer
        self._copied = 0
        self._exact_until = 0
        end = len(buffer)
        position = 0
        hold_from = end
        while position < end:
            if self._inject:
                stop = self._prologue(buffer, position, final)
                if stop is None:
                    hold_from = position
                    break
                position = stop
                continue
            if self._raw_end is not None:
                stop = self._raw(buffer, position, final)
                if stop is None:
                    hold_from = max(position, end - self._raw_keep)
                    self._emit_raw(buffer, position, hold_from)
                    break
                position = stop
                continue
            if self._fast is not None and position >= self._exact_until:
                out.append(buffer[self._copied : position])  # read by the exact path
                position, self._exact_until = self._fast.scan(buffer, position, out)
                self._copied = position
                if position >= end:
                    break
                found = BORING_TOKEN_RE.match(buffer, position)  # what stopped the fast lane
                if found is not None:
                    position = found.end()
                    continue
            else:
                found = BORING_RE.match(buffer, position)
                position = found.end() if found is not None else position
                if position >= end:
                    break
            tag = START_TAG_RE.match(buffer, position)
            if tag is not None:
                stop = self._start_tag(buffer, position, tag)
                if stop is None:
                    if final:
                        position = end  # a tag cut off by the end: the browser drops it
                        break
                    hold_from = position
                    break
                position = stop
                continue
            stop = self._unfinished(buffer, position, final)
            if stop is None:
                hold_from = position
                break
            position = stop
        if final:
            hold_from = end
        out.append(buffer[self._copied : hold_from])
        self._held = buffer[hold_from:]
        self._out = []
        self._current = b""
        return b"".join(out)

    def _unfinished(self, buffer: bytes, position: int, final: bool) -> int | None:
        """At a ``<`` the scan could not finish: a comment, CDATA section or other construct
        that has not ended yet. Long comments and CDATA are skipped as they stream."""
        end = len(buffer)
        if final:
            return end  # the rest is inside the unfinished construct: left as it is
        if buffer.startswith(b"<!--", position) and end - position >= 6:
            self._enter_raw(_COMMENT_END_RE, consumes_end=True, keep=3)
            return position + 4
        if buffer.startswith(b"<![CDATA[", position):
            self._enter_raw(_CDATA_END_RE, consumes_end=True, keep=2)
            return position + 9
        return None  # hold: a partial tag, end tag, bogus comment or lone '<'

    def _enter_raw(self, end: re.Pattern[bytes], *, consumes_end: bool, keep: int) -> None:
        self._raw_end = end
        self._raw_consumes_end = consumes_end
        self._raw_keep = keep

    def _raw(self, buffer: bytes, position: int, final: bool) -> int | None:
        """Skip raw text up to its end; None when the end is not in the buffer yet."""
        assert self._raw_end is not None
        found = self._raw_end.search(buffer, position)
        if found is None:
            if not final:
                return None
            stop = len(buffer)
        else:
            stop = found.start()
        self._emit_raw(buffer, position, stop)
        if self._css is not None:
            self._splice(stop, stop, self._css.finish())
            self._css = None
        consumed = found.end() if found is not None and self._raw_consumes_end else stop
        self._raw_end = None
        return consumed

    def _emit_raw(self, buffer: bytes, start: int, stop: int) -> None:
        """Raw text from ``start`` to ``stop`` is final: through the CSS rewriter inside
        ``<style>``, else copied as is."""
        if self._css is not None and stop > start:
            self._splice(start, stop, self._css.feed(buffer[start:stop]))

    def _splice(self, start: int, stop: int, new: bytes) -> None:
        """Output the input up to ``start``, then ``new`` in place of ``start:stop``."""
        self._out.append(self._current[self._copied : start])
        self._out.append(new)
        self._copied = stop

    # -------------------------------------------------------------------- start tags
    def _start_tag(self, buffer: bytes, position: int, tag: re.Match[bytes]) -> int | None:
        """Rewrite one start tag's URL attributes; its end, or None if it is unfinished."""
        whole = START_TAG_WHOLE_RE.match(buffer, position)
        if whole is None:
            return None  # no '>' yet: a start tag always ends at its first unquoted '>'
        name = tag.group(1).lower()
        changes: list[tuple[int, int, bytes]] = []
        meta_content: tuple[int, int, str] | None = None
        refresh = False
        index, end = whole.start(2), whole.end(2)
        while index < end:
            # Anchored, one after another (never a search: it could start inside a value).
            attr = WATCHED_ATTR_RE.match(buffer, index, end)
            if attr is None:
                break  # no watched attribute left in this tag
            index = attr.end()
            value = attr.group(2)
            if not value:
                continue
            attribute = attr.group(1).lower()
            start, stop = attr.span(2)
            quote = ""
            if value[:1] in (b'"', b"'"):
                start, stop, quote = start + 1, stop - 1, chr(value[0])
            if name == b"meta":
                if attribute == b"content":
                    meta_content = (start, stop, quote)
                elif attribute == b"http-equiv":
                    refresh = decode_attribute(buffer[start:stop]).strip().lower() == "refresh"
                continue
            new = self._attribute(name, attribute, buffer[start:stop], quote)
            if new is not None:
                changes.append((start, stop, new))
        if refresh and meta_content is not None:
            start, stop, quote = meta_content
            text = rewrite_refresh_content(decode_attribute(buffer[start:stop]), self.rule.rewrite)
            if text is not None:
                changes.append((start, stop, encode_attribute(text, quote)))
        for start, stop, new in changes:
            self._splice(start, stop, new)
        if name in RAW_TEXT_NAMES:
            if name == b"plaintext":
                self._passing = True  # everything after it is text: nothing left to rewrite
                return len(buffer)
            self._enter_raw(raw_text_end_re(name), consumes_end=False, keep=len(name) + 2)
            if name == b"style":
                self._css = CssStream(self.rule.rewrite)
        return whole.end()

    def _attribute(self, element: bytes, attribute: bytes, raw: bytes, quote: str) -> bytes | None:
        """The new raw value of one attribute, or None to keep it."""
        if attribute in URL_ATTRIBUTES or (attribute == b"data" and element == b"object"):
            if raw[:1] == b"/" and _PLAIN_PATH_RE.fullmatch(raw) is not None:
                # The common case, in bytes: a plain root-relative path needs only the
                # prefix in front, and its raw bytes are already valid where they stand.
                return (
                    None
                    if self.rule.is_prefixed(raw.decode("ascii", "surrogateescape"))
                    else self._prefix + raw
                )
            text = self.rule.rewrite(decode_attribute(raw))
        elif attribute in _SRCSET:
            text = rewrite_srcset(decode_attribute(raw), self.rule.rewrite)
        elif attribute == b"style":
            text = rewrite_css(decode_attribute(raw), self.rule.rewrite)
        elif attribute == b"srcdoc" and element == b"iframe":
            text = self._srcdoc(decode_attribute(raw))
        else:
            return None
        return None if text is None else encode_attribute(text, quote)

    def _srcdoc(self, document: str) -> str | None:
        """An iframe's ``srcdoc`` rewritten as the document it is, given the injected script
        when it has scripts of its own (the same text: a CSP allowing it by hash allows it
        there too); None to keep it. Raw non-ASCII bytes (the page's own charset, which a
        rewrite could not keep exactly) and srcdoc nested too deep are left alone."""
        if self._depth >= _SRCDOC_DEPTH or _RAW_BYTE_RE.search(document) is not None:
            return None
        data = document.encode("utf-8")
        inject = self._shim if _SCRIPT_TAG_RE.search(data) is not None else b""
        nested = HtmlRewriter(
            self.rule, inject=inject, fast=self._fast is not None, depth=self._depth + 1
        )
        out = nested.feed(data) + nested.finish()
        return None if out == data else out.decode("utf-8")

    # ---------------------------------------------------------------------- injection
    def _prologue(self, buffer: bytes, position: int, final: bool) -> int | None:
        """Find where the injected script goes and put it there; None to wait for more."""
        end = len(buffer)
        found = PROLOGUE_RE.match(buffer, position)
        here = found.end() if found is not None else position
        if not final and (here >= end or _BOM.startswith(buffer[here:])):
            return None  # nothing decisive yet (or part of a byte order mark)
        tag = START_TAG_RE.match(buffer, here)
        if tag is not None and tag.end() >= end and not final:
            return None  # the tag name may go on
        name = tag.group(1).lower() if tag is not None else b""
        if name in (b"html", b"head"):
            stop = self._start_tag(buffer, here, tag) if tag is not None else None
            if stop is None:
                if not final:
                    return None
                stop = end
            if name == b"html":
                return stop  # then whatever follows <html>
            here = stop
        elif (
            tag is None
            and not final
            and buffer[here : here + 1] == b"<"
            and buffer[here + 1 : here + 2] in (b"", b"!", b"?")
        ):
            return None  # an unfinished comment or doctype: the prologue goes on
        self._splice(here, here, self._inject)
        self._inject = b""
        return here
