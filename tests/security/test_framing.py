"""Message-framing strictness of the HTTP/1.1 server layer (security.md §2.1, §2.8; A12-A17, A36).

Each case sends raw bytes to a server on 127.0.0.1:0 whose handler records every request it
completes. A refused input must get the expected status, a short fixed plain-text body, and a
closed connection, and must never reach the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from kubegate.http import HTTPServer, Limits, Request, ResponseWriter

H = b"POST / HTTP/1.1\r\nHost: a\r\n"  # a request head still open for more fields
CHUNKED = H + b"Transfer-Encoding: chunked\r\n\r\n"


@dataclass
class Recorder:
    """A handler that reads the whole body and records what it saw."""

    entered: list[str] = field(default_factory=list)
    completed: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def __call__(self, request: Request, response: ResponseWriter) -> None:
        self.entered.append(request.path)
        body = await request.body.read(1 << 20)
        self.completed.append((request.method, request.path, body))
        await response.send(200, [("content-type", "text/plain")], b"ok")


@dataclass
class Server:
    port: int
    recorder: Recorder


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    recorder = Recorder()
    http = HTTPServer(recorder, Limits(header_timeout=5.0))
    ((_, port),) = await http.start("127.0.0.1", 0)
    try:
        yield Server(port, recorder)
    finally:
        await http.shutdown(grace=1.0)


async def exchange(port: int, data: bytes) -> tuple[bytes, bool]:
    """Send ``data``; return all bytes the server answered and whether it then closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    received = b""
    closed = False
    try:
        async with asyncio.timeout(3):
            while chunk := await reader.read(65536):
                received += chunk
            closed = True
    except TimeoutError:
        pass
    except ConnectionResetError:
        closed = True
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return received, closed


def statuses(raw: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


async def assert_refused(server: Server, data: bytes, status: int, *, entered_ok: bool = False):
    raw, closed = await exchange(server.port, data)
    assert statuses(raw) == [status], raw[:200]
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Type: text/plain; charset=utf-8" in head
    assert b"X-Content-Type-Options: nosniff" in head
    assert b"Connection: close" in head
    assert len(body) < 64 and b"<" not in body  # a short fixed text, never an echo
    assert closed, "connection left open after a refused request"
    assert server.recorder.completed == []
    if not entered_ok:
        assert server.recorder.entered == []


# Inputs refused from the head alone (the handler is never called).
HEAD_CASES = [
    # 1-2 (A12): CL.TE and TE.CL
    (H + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400, "cl-te"),
    (
        H + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        b"5c\r\nGPOST / HTTP/1.1\r\nContent-Length: 15\r\n\r\nx=1\r\n0\r\n\r\n",
        400,
        "te-cl",
    ),
    # 3-4 (A13): duplicate and odd Content-Length
    (H + b"Content-Length: 1\r\nContent-Length: 0\r\n\r\nx", 400, "cl-1-then-0"),
    (H + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n12345", 400, "cl-repeated-same"),
    (H + b"Content-Length: 5, 5\r\n\r\n12345", 400, "cl-list-same"),
    (H + b"Content-Length: 5, 6\r\n\r\n123456", 400, "cl-list-different"),
    (H + b"Content-Length: \r\n\r\n", 400, "cl-empty"),
    (H + b"Content-Length: +1_0\r\n\r\n0123456789", 400, "cl-plus-underscore"),
    (H + b"Content-Length: 0x10\r\n\r\n", 400, "cl-hex"),
    (H + b"Content-Length: -1\r\n\r\n", 400, "cl-negative"),
    (H + b"Content-Length: 1Z\r\n\r\n", 400, "cl-trailing-letter"),
    (H + b"Content-Length: 1 0\r\n\r\n", 400, "cl-inner-space"),
    (H + b"Content-Length: 1.0\r\n\r\n", 400, "cl-decimal-point"),
    (H + b"Content-Length: \xd9\xa1\r\n\r\n", 400, "cl-arabic-indic-digit"),
    (H + b"Content-Length: 99999999999999999999999\r\n\r\n", 400, "cl-overflow"),
    # 5 (A14): Transfer-Encoding obfuscation
    (H + b"Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n", 400, "te-leading-comma"),
    (H + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400, "te-chunked-identity"),
    (H + b"Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", 400, "te-identity-chunked"),
    (H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400, "te-gzip-chunked"),
    (H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400, "te-xchunked"),
    (H + b"Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n", 400, "te-trailing-vt"),
    (H + b"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400, "te-leading-vt"),
    (H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, "te-space-before-colon"),
    (H + b"X: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "te-obs-fold"),
    (
        b"POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n0\r\n\r\n",
        400,
        "te-first-line-space",
    ),
    (
        H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "te-twice",
    ),
    (H + b"Transfer-Encoding: gzip\r\n\r\n", 400, "te-gzip"),
    (H + b"Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400, "te-parameter"),
    (
        H + b"Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400,
        "te-tab-with-cl",
    ),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "te-on-http10"),
    # 7 (A16): field-line grammar
    (H + b"Content-Length\x85: 10\r\n\r\n0123456789", 400, "name-obs-text"),
    (H + b"Content-Length : 1\r\n\r\nx", 400, "name-space-before-colon"),
    (b"POST / HTTP/1.1\r\n\tContent-Length: 1\r\nHost: a\r\n\r\nx", 400, "first-field-tab"),
    (H + b": x\r\n\r\n", 400, "empty-name"),
    (H + b"Header: v\n\x00\ralue\r\n\r\n", 400, "value-lf-nul-cr"),
    (H + b"X: a\rContent-Length: 10\r\n\r\n0123456789", 400, "value-bare-cr"),
    (H + b"Content-Length 10\r\n\r\n0123456789", 400, "no-colon"),
    (H + b"X\x00: a\r\n\r\n", 400, "name-nul"),
    (H + b"X: a\x00b\r\n\r\n", 400, "value-nul"),
    (H + b"X\xe9: a\r\n\r\n", 400, "name-latin1"),
    (H + b"X: a\x01b\r\n\r\n", 400, "value-ctl"),
    (H + b"X: a\x7fb\r\n\r\n", 400, "value-del"),
    (H + b"X: a\r\n b\r\n\r\n", 400, "value-obs-fold"),
    (H + b"X: a\nY: b\r\n\r\n", 400, "bare-lf-line"),
    (b"GET / HTTP/1.1\nHost: a\n\n", 400, "bare-lf-head"),
    # 8: request-line grammar
    (b"GET /\nHTTP/1.1\r\nHost: a\r\n\r\n", 400, "line-bare-lf"),
    (b"GET / HTTP/1.32\r\nHost: a\r\n\r\n", 400, "version-1.32"),
    ("GET / HTTP/1ö1\r\nHost: a\r\n\r\n".encode(), 400, "version-non-ascii"),
    (b'G=":<>(e),[T];?" / HTTP/1.1\r\nHost: a\r\n\r\n', 400, "method-separators"),
    (b"GET ! HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target-bang"),
    (b"get / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method-lower-case"),
    (b"FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method-unknown"),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version-2.0"),
    (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "version-0.9"),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "h2-preface"),
    (b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target-fragment"),
    (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk-not-options"),
    (b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target-relative"),
    (b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target-del"),
    (b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target-tab"),
    (b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target-obs-text"),
    # A17: Host and absolute-form
    (b"GET / HTTP/1.1\r\n\r\n", 400, "host-missing"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "host-twice"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "host-twice-same"),
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "host-space"),
    (b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "host-userinfo"),
    (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "host-slash"),
    (b"GET / HTTP/1.1\r\nHost: \r\n\r\n", 400, "host-empty"),
    (b"GET http://evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "absolute-other-host"),
    (b"GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "absolute-userinfo"),
    (b"GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "absolute-ftp"),
    (b"GET http://a/x HTTP/1.1\r\n\r\n", 400, "absolute-no-host"),
    # 2.2: CONNECT and upgrades with a body
    (b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405, "connect"),
    (
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
        b"Content-Length: 3\r\n\r\nabc",
        400,
        "upgrade-with-body",
    ),
    (
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "upgrade-with-chunked-body",
    ),
    # A36: sizes
    (b"GET /" + b"a" * 9 * 1024 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, "url-9k"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 9 * 1024 + b"\r\n\r\n", 431, "header-9k"),
    (
        b"GET / HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(100))
        + b"\r\n",
        431,
        "headers-101",
    ),
    (
        b"GET / HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 7800) for i in range(8))
        + b"\r\n",
        431,
        "headers-61k-total",
    ),
]


@pytest.mark.parametrize(("data", "status"), [pytest.param(d, s, id=i) for d, s, i in HEAD_CASES])
async def test_refused_head(server: Server, data: bytes, status: int) -> None:
    """An ambiguous, malformed or oversized head is refused and closes the connection."""
    await assert_refused(server, data, status)


# Chunked-body grammar (item 6, A15): the head is fine, so the handler starts, but its
# read fails and it never completes; the layer answers 400 and closes.
CHUNK_CASES = [
    (b"1;a\nX\r\n0\r\n\r\n", "ext-bare-lf"),
    (b"2\r\r;a\r\nXX\r\n0\r\n\r\n", "size-double-cr"),
    (b"0x2e\r\n" + b"x" * 46 + b"\r\n0\r\n\r\n", "size-0x"),
    (b"0_2e\r\n" + b"x" * 46 + b"\r\n0\r\n\r\n", "size-underscore"),
    (b" 0\r\n\r\n", "size-leading-space"),
    (b"\t0\r\n\r\n", "size-leading-tab"),
    (b"1 \r\nx\r\n0\r\n\r\n", "size-trailing-space"),
    (b"-1\r\nx\r\n0\r\n\r\n", "size-negative"),
    (b"+1\r\nx\r\n0\r\n\r\n", "size-plus"),
    (b"\r\n\r\n", "size-empty"),
    (b"00000000000000001\r\nx\r\n0\r\n\r\n", "size-17-digits"),
    (b"10000000000000000\r\nx\r\n0\r\n\r\n", "size-overflow"),
    (b"0123456789\n0\r\n\r\n", "size-bare-lf"),
    (b"a\r\n0123456789\n0\r\n\r\n", "data-bare-lf"),
    (b"1\r\nxY0\r\n\r\n", "data-longer-than-size"),
    (b"0\r\nfoo\r\n\r\n", "trailer-no-colon"),
    (b"0\r\nContent-Length: 5\r\n\r\n", "trailer-content-length"),
    (b"0\r\nTransfer-Encoding: chunked\r\n\r\n", "trailer-transfer-encoding"),
    (b"0\r\n X: y\r\n\r\n", "trailer-obs-fold"),
    (b"1;" + b"a" * 5000 + b"\r\nx\r\n0\r\n\r\n", "ext-over-4k"),
    (
        b"".join(b"1;" + b"e" * 500 + b"\r\nx\r\n" for _ in range(10)) + b"0\r\n\r\n",
        "ext-over-4k-total",
    ),
    (b"1;a\x00\r\nx\r\n0\r\n\r\n", "ext-nul"),
]


@pytest.mark.parametrize(("body", "case"), [pytest.param(b, i, id=i) for b, i in CHUNK_CASES])
async def test_refused_chunked_body(server: Server, body: bytes, case: str) -> None:
    """A chunked body breaking RFC 9112 §7.1 fails the read, answers 400, and closes."""
    await assert_refused(server, CHUNKED + body, 400, entered_ok=True)


# The smuggler "default" matrix (defparam/smuggler): one byte placed around and inside the
# Transfer-Encoding name and value, sent together with a Content-Length.
SMUGGLER_BYTES = b"\x01\x04\x08\x09\x0a\x0b\x0c\x0d\x1f\x20\x7f\xa0\xff"
SMUGGLER_PLACES = {
    "line-start": lambda b: b + b"Transfer-Encoding: chunked",
    "name-inside": lambda b: b"Transfer" + b + b"-Encoding: chunked",
    "name-end": lambda b: b"Transfer-Encoding" + b + b": chunked",
    "value-start": lambda b: b"Transfer-Encoding:" + b + b"chunked",
    "value-after-space": lambda b: b"Transfer-Encoding: " + b + b"chunked",
    "value-inside": lambda b: b"Transfer-Encoding: chun" + b + b"ked",
    "value-end": lambda b: b"Transfer-Encoding: chunked" + b,
}
SMUGGLER_CASES = [
    pytest.param(place(bytes([byte])), id=f"{name}-{byte:02x}")
    for name, place in SMUGGLER_PLACES.items()
    for byte in SMUGGLER_BYTES
]


@pytest.mark.parametrize("field_line", SMUGGLER_CASES)
async def test_transfer_encoding_mutation_is_refused_or_harmless(server: Server, field_line: bytes):
    """A mutated Transfer-Encoding next to a Content-Length is refused, or framed by the
    Content-Length alone; it is never read as chunked."""
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
    data = H + b"Content-Length: 5\r\n" + field_line + b"\r\n\r\n0\r\n\r\n" + smuggled
    raw, closed = await exchange(server.port, data)
    codes = statuses(raw)
    if codes[:1] == [400]:
        assert codes == [400] and closed
        assert server.recorder.entered == []
    else:
        # Content-Length framing: the body is the 5 bytes; what follows is a second request.
        assert codes == [200, 200], raw[:300]
        assert server.recorder.completed == [
            ("POST", "/", b"0\r\n\r\n"),
            ("GET", "/smuggled", b""),
        ]


async def test_rejected_request_is_never_followed_by_the_next_pipelined_one(server: Server):
    """After a refused request the connection ends; a request behind it is never seen."""
    data = (
        H
        + b"Content-Length: 1\r\nContent-Length: 0\r\n\r\n"
        + b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    await assert_refused(server, data, 400)


async def test_bad_request_behind_a_good_one_is_refused_after_answering_it(server: Server):
    """A good request is answered first; the malformed one behind it gets 400 and the end."""
    data = b"GET /good HTTP/1.1\r\nHost: a\r\n\r\n" + H + b"Content-Length: +1\r\n\r\nx"
    raw, closed = await exchange(server.port, data)
    assert statuses(raw) == [200, 400]
    assert closed
    assert server.recorder.completed == [("GET", "/good", b"")]


async def test_error_body_never_echoes_the_request(server: Server):
    """The refusal of a request with markup in its target is a fixed text without it."""
    raw, _ = await exchange(server.port, b"GET /?x=<script>alert(1)</script> HTTP/1.1\r\n\r\n")
    assert statuses(raw) == [400]
    assert b"script" not in raw


# Inputs the rules allow, with the one meaning they must be given.


async def test_content_length_with_leading_zero_is_decimal(server: Server):
    """`Content-Length: 010` means ten bytes, never eight."""
    raw, _ = await exchange(
        server.port, H + b"Content-Length: 010\r\nConnection: close\r\n\r\n0123456789"
    )
    assert statuses(raw) == [200]
    assert server.recorder.completed == [("POST", "/", b"0123456789")]


async def test_content_length_with_trailing_whitespace_is_accepted(server: Server):
    """Trailing OWS is not part of a field value (RFC 9110 §5.5)."""
    raw, _ = await exchange(server.port, H + b"Content-Length: 3 \r\nConnection: close\r\n\r\nabc")
    assert statuses(raw) == [200]
    assert server.recorder.completed == [("POST", "/", b"abc")]


async def test_absolute_form_naming_the_host_is_served_by_its_path(server: Server):
    """An absolute-form target whose authority is the Host is routed by its path and query."""
    captured: list[tuple[str, str, str]] = []

    async def handler(request: Request, response: ResponseWriter) -> None:
        captured.append((request.target, request.path, request.query))
        await response.send(200, [], b"")

    http = HTTPServer(handler)
    ((_, port),) = await http.start("127.0.0.1", 0)
    try:
        raw, _ = await exchange(
            port, b"GET HTTP://A:80/p/q?x=1 HTTP/1.1\r\nHost: a:80\r\nConnection: close\r\n\r\n"
        )
    finally:
        await http.shutdown(grace=1.0)
    assert statuses(raw) == [200]
    assert captured == [("HTTP://A:80/p/q?x=1", "/p/q", "x=1")]


async def test_get_with_a_body_gets_the_body_intact(server: Server):
    """A GET with a Content-Length body is framed by it (item 9): the body is neither lost nor
    taken for a request."""
    raw, _ = await exchange(
        server.port,
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close\r\n\r\nGET /x HTT",
    )
    assert statuses(raw) == [200]
    assert server.recorder.completed == [("GET", "/", b"GET /x HTT")]


async def test_empty_lines_before_the_request_line_are_skipped(server: Server):
    """CRLFs before a request-line are ignored (RFC 9112 §2.2)."""
    raw, _ = await exchange(
        server.port, b"\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert statuses(raw) == [200]
    assert server.recorder.completed == [("GET", "/x", b"")]


async def test_chunked_body_with_extensions_and_trailers_is_decoded(server: Server):
    """Chunk extensions within the cap and ordinary trailers are accepted and dropped."""
    body = b"3;name=value\r\nabc\r\n0003\r\ndef\r\n0\r\nX-Checksum: 1\r\n\r\n"
    raw, _ = await exchange(
        server.port, CHUNKED.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + body
    )
    assert statuses(raw) == [200]
    assert server.recorder.completed == [("POST", "/", b"abcdef")]


async def test_transfer_encoding_is_case_insensitive(server: Server):
    """`Transfer-Encoding: CHUNKED` is the chunked coding (RFC 9112 §7: case-insensitive)."""
    head = H + b"Transfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n"
    raw, _ = await exchange(server.port, head + b"2\r\nok\r\n0\r\n\r\n")
    assert statuses(raw) == [200]
    assert server.recorder.completed == [("POST", "/", b"ok")]


async def test_slow_head_is_refused_with_408(server: Server):
    """A head not finished within header_timeout is answered 408 and closed (slowloris)."""
    recorder = Recorder()
    http = HTTPServer(recorder, Limits(header_timeout=0.3))
    ((_, port),) = await http.start("127.0.0.1", 0)
    try:
        await assert_refused(Server(port, recorder), b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow:", 408)
    finally:
        await http.shutdown(grace=1.0)
