"""The pure framing pieces (head parser, chunked decoder, target forms) fed in every split.

Framing bugs hide at read boundaries, so each valid input is also fed one byte at a time and
must give exactly what a single read gives.
"""

from __future__ import annotations

import pytest

from kubegate.http.framing import ChunkedDecoder, parse_content_length, split_target
from kubegate.http.head import HeadParser
from kubegate.http.limits import Limits
from kubegate.http.types import HTTPError

LIMITS = Limits()


def decoder() -> ChunkedDecoder:
    return ChunkedDecoder(
        LIMITS.max_chunk_ext, LIMITS.max_header_line, LIMITS.max_header_bytes, LIMITS.max_headers
    )


def decode_whole(data: bytes) -> tuple[bytes, int]:
    chunked = decoder()
    pieces, end = chunked.feed(data, 0)
    assert chunked.done
    return b"".join(pieces), end


def decode_bytewise(data: bytes) -> tuple[bytes, int]:
    chunked = decoder()
    body = b""
    for index in range(len(data)):
        pieces, end = chunked.feed(data[index : index + 1], 0)
        body += b"".join(pieces)
        if chunked.done:
            return body, index + end
    raise AssertionError("body never ended")


CHUNKED_BODIES = [
    (b"0\r\n\r\n", b""),
    (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"3;a=b;c\r\nabc\r\n0A\r\n0123456789\r\n0\r\n\r\n", b"abc0123456789"),
    (b"1\r\n\r\r\n1\r\n\n\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", b"\r\n"),
    (b"000000000000000f\r\n" + b"f" * 15 + b"\r\n0\r\n\r\n", b"f" * 15),
]


@pytest.mark.parametrize(("data", "body"), CHUNKED_BODIES)
def test_chunked_body_decodes_the_same_in_one_read_or_byte_by_byte(data: bytes, body: bytes):
    """A chunked body gives the same bytes and the same end, however it is split."""
    assert decode_whole(data + b"NEXT") == (body, len(data))
    assert decode_bytewise(data + b"NEXT") == (body, len(data))


def test_chunked_decoder_stops_at_the_end_of_its_body():
    """Bytes after the last chunk are left for the next request."""
    data = b"2\r\nok\r\n0\r\n\r\nGET / HTTP/1.1\r\n"
    chunked = decoder()
    pieces, end = chunked.feed(data, 0)
    assert (pieces, data[end:]) == ([b"ok"], b"GET / HTTP/1.1\r\n")


@pytest.mark.parametrize(
    "data",
    [
        b"1;" + b"x" * 5000 + b"\r\n",
        b"f" * 17 + b"\r\n",
        b"1\r\nx\n",
        b"1\r\nxy",
        b"0\r\nHost: a\r\n",
    ],
)
def test_chunked_errors_are_found_byte_by_byte_too(data: bytes):
    """A framing error split over many reads is still refused."""
    chunked = decoder()
    with pytest.raises(HTTPError) as caught:
        for index in range(len(data)):
            chunked.feed(data[index : index + 1], 0)
    assert caught.value.status == 400


REQUEST = b"POST /p?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nX:  v \r\n\r\nbody"


def test_head_parses_the_same_in_one_read_or_byte_by_byte():
    """A head split at every byte, CRLFCRLF included, gives the same head and body offset."""
    whole = HeadParser(LIMITS)
    end, head = whole.feed(REQUEST, 0)
    assert head is not None and REQUEST[end:] == b"body"

    bytewise = HeadParser(LIMITS)
    split_head = None
    for index in range(len(REQUEST)):
        consumed, split_head = bytewise.feed(REQUEST[index : index + 1], 0)
        if split_head is not None:
            assert REQUEST[index + consumed :] == b"body"
            break
    assert split_head == head
    assert (head.method, head.path, head.query, head.content_length) == ("POST", "/p", "q=1", 4)
    assert head.headers == [("host", "h"), ("content-length", "4"), ("x", "v")]


def test_head_after_empty_lines_split_inside_them():
    """Leading empty lines that straddle reads are skipped, not taken for the head's end."""
    parser = HeadParser(LIMITS)
    assert parser.feed(b"\r\n\r", 0) == (3, None)
    _, head = parser.feed(b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 0)
    assert head is not None and head.path == "/"


def test_head_parser_resets_for_the_next_request_after_a_body():
    """After a request with a body the next head parses cleanly (llhttp never saw the body)."""
    parser = HeadParser(LIMITS)
    parser.feed(REQUEST, 0)
    parser.reset()
    _, head = parser.feed(b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n", 0)
    assert head is not None and head.path == "/next"


@pytest.mark.parametrize(("value", "expected"), [(b"0", 0), (b"010", 10), (b"123456", 123456)])
def test_content_length_accepts_digits_only(value: bytes, expected: int):
    """Content-Length is decimal digits, leading zeros allowed."""
    assert parse_content_length(value) == expected


@pytest.mark.parametrize("value", [b"", b"+1", b"1_0", b"-1", b" 1", b"0x10", b"\xd9\xa1", b"1e3"])
def test_content_length_refuses_everything_int_would_take(value: bytes):
    """What Python's int() accepts beyond digits is refused."""
    with pytest.raises(HTTPError):
        parse_content_length(value)


@pytest.mark.parametrize(
    ("target", "method", "host", "expected"),
    [
        (b"/a/b?c=d&e", "GET", b"h", ("/a/b", "c=d&e")),
        (b"/a%2Fb?", "GET", b"h", ("/a%2Fb", "")),
        (b"*", "OPTIONS", b"h", ("*", "")),
        (b"http://h/x?y", "GET", b"h", ("/x", "y")),
        (b"https://H:443?y", "GET", b"h:443", ("/", "y")),
        (b"http://h", "GET", b"h", ("/", "")),
    ],
)
def test_request_target_forms(target, method, host, expected):
    """origin-, asterisk- and absolute-form targets give (path, query)."""
    assert split_target(target, method, host) == expected


@pytest.mark.parametrize(
    ("target", "method", "host"),
    [
        (b"*", "GET", b"h"),
        (b"http://other/x", "GET", b"h"),
        (b"http://u@h/x", "GET", b"h"),
        (b"http://h/x", "GET", None),
        (b"ftp://h/x", "GET", b"h"),
        (b"/a#frag", "GET", b"h"),
        (b"h:443", "GET", b"h:443"),
    ],
)
def test_request_target_forms_refused(target, method, host):
    """Targets that could route differently from Host, or are not request-targets, are 400."""
    with pytest.raises(HTTPError) as caught:
        split_target(target, method, host)
    assert caught.value.status == 400
