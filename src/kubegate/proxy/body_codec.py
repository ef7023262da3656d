"""Content codings for rewritten bodies: decode ``gzip``/``deflate``/``br`` as they stream,
re-encode with the same coding.

Decoding is bounded: each call yields the decoded data in pieces of about
:data:`PIECE` bytes (brotli may overshoot by one buffer growth), so a small compressed chunk that inflates to gigabytes (a
decompression bomb) never sits in memory at once — the caller rewrites and re-encodes
each piece before asking for the next. ``deflate`` is read as browsers read it: the zlib
format (RFC 9110 §8.4.1.2), or raw DEFLATE when the stream has no zlib header. ``gzip``
may hold several members, as files concatenated with ``cat`` do.

Encoding flushes after every input chunk (a sync flush), so a page that a backend streams
slowly still reaches the browser piece by piece. The levels trade a little size for speed:
this runs on the proxy's event loop for every rewritten response, and after the rewriter
got faster the encoder was the larger cost. Measured on bench/rewrite_page.py's 200 KiB
page in 64 KiB pieces (CPU time, shared 2-core VM): gzip level 1 1.1 ms to 14.0 % of the
page, level 4 1.8 ms to 12.3 %, level 6 3.0 ms to 11.3 %; brotli quality 2 0.9 ms to
12.1 %, quality 4 1.6 ms to 11.4 %. Decoding costs about 0.2 ms either way.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Final, Protocol

import brotli

__all__ = ["CODINGS", "CodingError", "Decoder", "Encoder", "decoder_for", "encoder_for"]

CODINGS: Final = frozenset({"gzip", "x-gzip", "deflate", "br"})
PIECE: Final = 256 * 1024
GZIP_LEVEL: Final = 1
BROTLI_QUALITY: Final = 2


class CodingError(Exception):
    """The backend's body is not valid in its declared content coding."""


class Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...
    def finish(self) -> Iterator[bytes]: ...


class Encoder(Protocol):
    def encode(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


class _ZlibDecoder:
    def __init__(self, wbits: int, *, deflate: bool = False) -> None:
        self._wbits = wbits
        self._deflate = deflate  # decide zlib vs raw on the first bytes
        self._obj = zlib.decompressobj(wbits)
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._deflate and not self._started and data:
            self._started = True
            # A zlib header: CMF says deflate (low nibble 8) and CMF*256+FLG is a multiple of 31.
            if len(data) < 2 or data[0] & 0x0F != 8 or (data[0] * 256 + data[1]) % 31:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        gzip = self._wbits == 16 + zlib.MAX_WBITS
        try:
            piece = b""
            while data or len(piece) == PIECE:  # a full piece may leave output behind
                piece = self._obj.decompress(data, PIECE)
                if piece:
                    yield piece
                if not self._obj.eof:
                    data = self._obj.unconsumed_tail
                    continue
                data = self._obj.unused_data
                # After the end: another gzip member, or trailing bytes a browser ignores.
                if not (gzip and data.startswith(b"\x1f\x8b")):
                    return
                self._obj = zlib.decompressobj(self._wbits)
        except zlib.error as exc:
            raise CodingError(str(exc)) from exc

    def finish(self) -> Iterator[bytes]:
        try:
            tail = self._obj.flush()
        except zlib.error as exc:
            raise CodingError(str(exc)) from exc
        if tail:
            yield tail


class _BrotliDecoder:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            piece = self._obj.process(data, output_buffer_limit=PIECE)
            while piece:  # past the limit, more output waits: drain it with empty input
                yield piece
                piece = self._obj.process(b"", output_buffer_limit=PIECE)
        except brotli.error as exc:
            raise CodingError(str(exc)) from exc

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _ZlibEncoder:
    def __init__(self, wbits: int) -> None:
        self._obj = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, wbits)

    def encode(self, data: bytes) -> bytes:
        return self._obj.compress(data) + self._obj.flush(zlib.Z_SYNC_FLUSH) if data else b""

    def finish(self) -> bytes:
        return self._obj.flush(zlib.Z_FINISH)


class _BrotliEncoder:
    def __init__(self) -> None:
        self._obj = brotli.Compressor(quality=BROTLI_QUALITY)

    def encode(self, data: bytes) -> bytes:
        return self._obj.process(data) + self._obj.flush() if data else b""

    def finish(self) -> bytes:
        tail: bytes = self._obj.finish()
        return tail


def decoder_for(coding: str) -> Decoder:
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _ZlibDecoder(zlib.MAX_WBITS, deflate=True)
    if coding == "br":
        return _BrotliDecoder()
    raise ValueError(f"unsupported content coding {coding!r}")


def encoder_for(coding: str) -> Encoder:
    if coding in ("gzip", "x-gzip"):
        return _ZlibEncoder(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _ZlibEncoder(zlib.MAX_WBITS)
    if coding == "br":
        return _BrotliEncoder()
    raise ValueError(f"unsupported content coding {coding!r}")
