"""Request heads out and response heads in (http/client_head.py), as pure functions."""

from __future__ import annotations

import pytest

from kubegate.http.client import UpstreamError
from kubegate.http.client_head import parse_response_head, request_head

FIELDS = [("host", "10.0.0.1:80"), ("user-agent", "kubectl"), ("X-Forwarded-Uri", "/a?b=c")]


def test_request_head_fields_as_given():
    """The request-line, the fields as given (names' case kept), the empty line."""
    assert request_head("GET", "/x", FIELDS, b"") == (
        b"GET /x HTTP/1.1\r\nhost: 10.0.0.1:80\r\nuser-agent: kubectl\r\n"
        b"X-Forwarded-Uri: /a?b=c\r\n\r\n"
    )


def test_request_head_without_fields():
    """No fields: the request-line, the framing field, the empty line."""
    assert request_head("POST", "/p", [], b"Content-Length: 0\r\n") == (
        b"POST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    )


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "a\rb", "a\x00b"])
def test_request_splitting_is_refused(value):
    """CR, LF and other control bytes in a value are refused."""
    with pytest.raises(ValueError):
        request_head("GET", "/", [("x-known", value)], b"")


@pytest.mark.parametrize("name", ["Content-Length", "transfer-encoding"])
def test_framing_fields_of_the_caller_are_dropped(name):
    """The caller's framing fields never go out (the pool adds exactly one)."""
    for _ in range(2):
        head = request_head("GET", "/", [("a", "1"), (name, "5")], b"")
        assert head == b"GET / HTTP/1.1\r\na: 1\r\n\r\n"


def test_non_text_values_are_formatted():
    """A value that is not a str is formatted as text."""
    assert request_head("GET", "/", [("x-n", 5)], b"") == b"GET / HTTP/1.1\r\nx-n: 5\r\n\r\n"  # type: ignore[list-item]


RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 3\r\nConnection: keep-alive\r\n\r\n"
)


def test_response_head_fields_and_framing():
    """Names lower-cased, values trimmed, framing and keep-alive read."""
    head = parse_response_head(RESPONSE)
    assert (head.version, head.status, head.reason) == ("1.1", 200, "OK")
    assert head.headers == [
        ("server", "nginx"),
        ("content-type", "text/plain"),
        ("content-length", "3"),
        ("connection", "keep-alive"),
    ]
    assert (head.content_length, head.chunked, head.close) == (3, False, False)


def test_response_field_values_keep_latin1_bytes():
    """obs-text in a value arrives as the latin-1 characters of its bytes."""
    head = parse_response_head(b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\n\r\n")
    assert head.headers == [("x-name", "caf\xe9")]


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 2\xb200 OK\r\n\r\n",  # a superscript digit is not a digit
        b"HTTP/1.1 200 OK\r\nServer\r\n\r\n",  # a known name without its colon
        b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: 1\nB: 2\r\n\r\n",  # bare LF
        b"HTTP/1.1 200 OK\r\nA: 1\x01\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    ],
)
def test_malformed_response_heads_are_refused(raw):
    """Each of these is a protocol error, never a parsed head."""
    parse_response_head(RESPONSE)  # every name of RESPONSE is in the name cache from here on
    with pytest.raises(UpstreamError) as caught:
        parse_response_head(raw)
    assert caught.value.kind == "protocol"
