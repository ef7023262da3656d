"""A rewritten body on the wire: decode → rewrite → encode, piece by piece, and its relay.

Memory stays bounded by a piece (core.rewrite_html holds back at most one unfinished
construct; body_codec decodes in bounded pieces), whatever the body's size. Once
``max_bytes`` of decoded body went through the rewriter, the rest is passed on unrewritten
(still re-encoded when the body was compressed: its coding cannot change mid-stream). A
worker's script (kind ``js``) only gets code put in at its top (core.rewrite_js, which holds
back at most its first 64 KiB until it knows where); the rest passes as it came.

A small body that is already all here goes through :meth:`BodyTransformer.whole`; when it
is compressed and the rewrite changes nothing (an HTML fragment fetched by a script, a
stylesheet without URLs), the backend's own encoded bytes are sent: no re-encoding. With
the rewrite memo (proxy/rewrite_memo.py) on, a body whose ``Content-Length`` is within the
memo's per-entry limit (1 MiB) is read whole too, so that a page seen before is answered
from the memo; chunked and close-delimited bodies stream as above.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kubegate.core.rewrite_css import CssStream
from kubegate.core.rewrite_html import HtmlRewriter
from kubegate.core.rewrite_js import JsPrepend
from kubegate.core.rewrite_url import UrlRule
from kubegate.errors import BadGateway
from kubegate.proxy.body_codec import CodingError, Decoder, Encoder, decoder_for, encoder_for

if TYPE_CHECKING:
    from kubegate.http.client_response import UpstreamResponse
    from kubegate.http.types import ResponseWriter
    from kubegate.proxy.rewrite_memo import RewriteMemo

log = logging.getLogger("kubegate.proxy.rewrite")

__all__ = ["PASS_MAX", "BodyTransformer", "TransformParams", "relay_rewritten"]

# The most decoded bytes kept to compare with the rewritten ones (a whole compressed body
# that the rewrite leaves as it is goes on still encoded).
PASS_MAX: Final = 1024 * 1024
# A streamed body is rewritten in input pieces of at most this, and written out once this
# much output is ready (or no more input is waiting): see _Output.
PIECE: Final = 64 * 1024
WRITE_MIN: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class TransformParams:
    """Every input a body's rewritten output depends on besides the body itself: equal
    params and equal bodies give equal output (what proxy/rewrite_memo.py relies on)."""

    kind: str  # "html" (HTML and XHTML), "css" or "js" (a worker's script)
    rule: UrlRule  # the prefix and the origins that mean "here" (not used for "js")
    coding: str  # the content coding, "" for identity
    inject: bytes  # html: the shim's <script> element, b"" for none; js: the code prepended
    max_bytes: int  # of decoded body rewritten; the rest passes unchanged (not used for "js")


class BodyTransformer:
    """One body: ``feed`` the backend's bytes, ``finish`` at its end; both return what to
    send on."""

    def __init__(
        self, *, kind: str, rule: UrlRule, coding: str, inject: bytes, max_bytes: int
    ) -> None:
        # Everything below reads the inputs from ``params`` only: an input that is not a
        # field of TransformParams cannot reach the output, so ``params`` holds them all
        # (tests/unit/test_rewrite_memo.py checks that the two lists match).
        self.params = params = TransformParams(kind, rule, coding, inject, max_bytes)
        self._decoder: Decoder | None = decoder_for(params.coding) if params.coding else None
        self._encoder: Encoder | None = encoder_for(params.coding) if params.coding else None
        self._html: HtmlRewriter | None = None
        self._css: CssStream | None = None
        self._js: JsPrepend | None = None
        if params.kind == "css":
            self._css = CssStream(params.rule.rewrite)
        elif params.kind == "js":
            self._js = JsPrepend(params.inject)
        else:
            self._html = HtmlRewriter(params.rule, inject=params.inject, max_bytes=params.max_bytes)
        self.max_bytes = params.max_bytes
        self._seen = 0
        self.truncated = False

    def feed(self, data: bytes) -> bytes:
        if self._decoder is None:
            return self._rewrite(data)
        return self._encode(b"".join(self._rewrite(piece) for piece in self._decoder.decode(data)))

    def finish(self) -> bytes:
        tail = b""
        if self._decoder is not None:
            tail = b"".join(self._rewrite(piece) for piece in self._decoder.finish())
        tail += self._finish_rewrite()
        if self._encoder is None:
            return tail
        return self._encode(tail) + self._encoder.finish()

    def whole(self, body: bytes) -> bytes:
        """A whole body at once: ``feed`` and ``finish`` in one. A compressed body that
        decodes to at most PASS_MAX and whose rewrite changes nothing is sent on as the
        backend encoded it: decoding it cost little, re-encoding would cost more."""
        if self._decoder is None or self._encoder is None:
            return self.feed(body) + self.finish()
        decoder, self._decoder = self._decoder, None
        pieces = itertools.chain(decoder.decode(body), decoder.finish())
        decoded: list[bytes] = []
        rewritten: list[bytes] = []
        size = 0
        for piece in pieces:
            decoded.append(piece)
            rewritten.append(self._rewrite(piece))
            size += len(piece)
            if size > PASS_MAX:  # too big to keep for the comparison: encode as it goes
                head = self._encode(b"".join(rewritten))
                rest = b"".join(self._encode(self._rewrite(piece)) for piece in pieces)
                return head + rest + self.finish()
        out = b"".join(rewritten) + self._finish_rewrite()
        if out == b"".join(decoded):
            return body
        return self._encode(out) + self._encoder.finish()

    def _finish_rewrite(self) -> bytes:
        if self._html is not None:
            tail = self._html.finish()
            self.truncated = self._html.truncated
            return tail
        if self._js is not None:
            return self._js.finish()
        assert self._css is not None
        return self._css.finish()

    def _rewrite(self, data: bytes) -> bytes:
        if self._html is not None:
            return self._html.feed(data)
        if self._js is not None:
            return self._js.feed(data)
        assert self._css is not None
        if self.truncated:
            return data
        room = self.max_bytes - self._seen
        self._seen += len(data)
        if len(data) <= room:
            return self._css.feed(data)
        # The cap falls in this piece: rewrite up to it exactly, as the HTML rewriter does,
        # so that the output does not depend on how the body was cut into pieces (a whole
        # body and a streamed one come out the same).
        self.truncated = True
        head = self._css.feed(data[:room]) if room > 0 else b""
        return head + self._css.finish() + data[max(room, 0) :]

    def _encode(self, data: bytes) -> bytes:
        assert self._encoder is not None
        return self._encoder.encode(data) if data else b""


async def relay_rewritten(
    response: ResponseWriter,
    upstream: UpstreamResponse,
    status: int,
    headers: list[tuple[str, str]],
    transformer: BodyTransformer,
    *,
    whole_max: int,
    memo: RewriteMemo | None = None,
) -> None:
    """Send the rewritten response: in one write (with Content-Length) when the backend's
    whole body is already here and small — or, with a ``memo``, declared no longer than
    the memo keeps (read whole first, under the pool's read timeouts, so that a repeated
    page is found in it) — else streamed chunked (see :class:`_Output`)."""
    try:
        whole = upstream.complete and upstream.buffered <= whole_max
        length = upstream.length
        if not whole and memo is not None and length is not None:
            whole = length <= memo.entry_max
        if whole:
            # (a declared length frames the body: it cannot run past it)
            body = await upstream.read(max(whole_max, length or 0) + 1)
            out = transformer.whole(body) if memo is None else memo.whole(transformer, body)
            await response.send(status, headers, out)
            return
        output = _Output(response, status, headers)
        async for chunk in upstream:
            for start in range(0, len(chunk), PIECE):
                await output.add(transformer.feed(chunk[start : start + PIECE]))
            if not upstream.buffered:
                await output.flush()  # nothing more here yet: what is ready goes now
        await output.add(transformer.finish())
        await output.flush()
        await response.end()
    except CodingError as exc:
        log.info("backend body is not valid in its content coding: %s", exc)
        if response.started:
            raise ConnectionAbortedError(str(exc)) from exc
        raise BadGateway(f"error reading the service's response: {exc}") from exc
    if transformer.truncated:
        log.info(
            "rewriting stopped at the %d-byte cap; the rest was relayed unchanged",
            transformer.max_bytes,
        )


class _Output:
    """A streamed rewritten body on its way out, in few, large writes.

    The input is rewritten in pieces of at most :data:`PIECE`, so that the first bytes
    leave (and the client starts reading them) while the rest is still being rewritten;
    output is held until it reaches :data:`WRITE_MIN` or no more input is waiting, so a
    backend that answers in many small reads does not become as many chunks, TLS records
    and syscalls — without delaying anything a slow backend has not sent yet. The head
    goes out with the first write (or at the end, for an empty body)."""

    __slots__ = ("_headers", "_pending", "_response", "_size", "_status")

    def __init__(
        self, response: ResponseWriter, status: int, headers: list[tuple[str, str]]
    ) -> None:
        self._response = response
        self._status = status
        self._headers = headers
        self._pending: list[bytes] = []
        self._size = 0

    async def add(self, data: bytes) -> None:
        if data:
            self._pending.append(data)
            self._size += len(data)
            if self._size >= WRITE_MIN:
                await self.flush()

    async def flush(self) -> None:
        response = self._response
        if not response.started:
            await response.start(self._status, self._headers)
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending.clear()
            self._size = 0
            await response.write(data)
