"""Heads of the client side, without IO: request heads out, response heads in.

Requests are re-serialised from values, never forwarded as the client's bytes (security.md
§2.1): a request-line, the caller's fields (framing fields dropped: the layer computes exactly
one), the framing field, and nothing else. A CR, LF or other control byte anywhere makes it a
``ValueError`` (request splitting is the caller's bug, not the backend's).

Responses are parsed as strictly as requests are on the server side (``head.py``): only
HTTP/1.0 and 1.1, a three-digit status, CRLF and only CRLF as line end, field names that are
tokens (which refuses obs-fold and whitespace before the colon), no control bytes, one
Transfer-Encoding and it ``chunked``, never together with Content-Length (RFC 9112 §6.1),
Content-Length digits only and duplicates only if identical (RFC 9110 §8.6). Anything else is
an ``UpstreamError("protocol")``, and the connection is never reused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from kubegate.http.client import UpstreamError
from kubegate.http.framing import HEAD_CTL_CHARS, is_token, parse_content_length
from kubegate.http.types import Headers, HTTPError

MAX_RESPONSE_HEAD = 64 * 1024  # every head of one response, interim ones included

_VERSIONS = {"HTTP/1.1 ": "1.1", "HTTP/1.0 ": "1.0"}
_NAME_CACHE_MAX = 512
_RESPONSE_NAMES: dict[str, str] = {}  # field name as received -> lower-case, checked
_REQUEST_NAMES: dict[str, str] = {}  # field name as given -> lower-case, checked
_METHODS: set[str] = set()
_SPECIAL = frozenset({"content-length", "transfer-encoding", "connection"})
# Framing is the layer's: a caller's framing field would be a second one (smuggling).
_DROPPED = frozenset({"content-length", "transfer-encoding"})
_TARGET_CHARS = bytes(range(0x21, 0x7F))  # visible ASCII: no SP, CTL, DEL or non-ASCII
# Both byte checks of a head in one pass in C (a control scan and two counts took three): a
# head of N line ends has at least N CRs and N LFs (its CRLFs), so deleting the control
# bytes, CRs and LFs removes exactly 2 * N bytes when it has no control byte and no bare CR
# or LF, and more otherwise. Only then do the separate checks run, to name what is wrong.
_CTL_CR_LF = HEAD_CTL_CHARS + b"\r\n"


def _protocol(message: str) -> UpstreamError:
    return UpstreamError("protocol", message)


@dataclass(slots=True)
class ResponseHead:
    version: str  # "1.0" or "1.1"
    status: int
    reason: str
    headers: Headers  # lower-case names, arrival order, latin-1 decoded
    content_length: int | None
    chunked: bool
    close: bool  # the backend will close after this response


def parse_response_head(raw: bytes | bytearray) -> ResponseHead:
    """Parse one complete head (status-line to the empty line, inclusive)."""
    if type(raw) is not bytes:
        raw = bytes(raw)
    # latin-1 turns each byte into the character of the same number: the text is the bytes,
    # one for one, and field values are handed on as latin-1 text anyway (one decode, not
    # one per field).
    lines = raw.decode("latin-1")[:-4].split("\r\n")
    line_ends = len(lines) + 1
    if len(raw.translate(None, _CTL_CR_LF)) != len(raw) - 2 * line_ends:  # (rare: refused)
        if len(raw.translate(None, HEAD_CTL_CHARS)) != len(raw):
            raise _protocol("invalid character in response head")
        if raw.count(b"\n") != line_ends or raw.count(b"\r") != line_ends:
            raise _protocol("bare CR or LF in response head")  # RFC 9112 §2.2
    status_line = lines[0]
    version = _VERSIONS.get(status_line[:9])
    code = status_line[9:12]
    if (
        version is None
        or len(code) != 3
        or not (code.isascii() and code.isdigit())  # (str.isdigit alone accepts "²")
        or status_line[12:13] not in ("", " ")
        or not 100 <= (status := int(code)) <= 599
    ):
        raise _protocol("malformed HTTP status line")
    headers: Headers = []
    content_length: int | None = None
    transfer_encoding: str | None = None
    close = version == "1.0"
    names = _RESPONSE_NAMES
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        lname = names.get(name)
        if lname is None or not colon:
            lname = _response_name(name, colon)
        value = value.strip(" \t")
        headers.append((lname, value))
        if lname not in _SPECIAL:
            continue
        if lname == "content-length":
            try:
                length = parse_content_length(value.encode("latin-1"))
            except HTTPError:
                raise _protocol("invalid Content-Length in response") from None
            if content_length is not None and content_length != length:
                raise _protocol("conflicting Content-Length values in response")
            content_length = length
        elif lname == "transfer-encoding":
            if transfer_encoding is not None:
                raise _protocol("duplicate Transfer-Encoding in response")
            transfer_encoding = value
        else:
            for token in value.lower().split(","):
                token = token.strip(" \t")
                if token == "close":
                    close = True
                elif token == "keep-alive" and version == "1.0":
                    close = False
    chunked = False
    if transfer_encoding is not None:
        if content_length is not None:
            raise _protocol("response with both Transfer-Encoding and Content-Length")
        if transfer_encoding.lower() != "chunked" or version == "1.0":
            raise _protocol("unsupported Transfer-Encoding in response")
        chunked = True
    return ResponseHead(version, status, status_line[13:], headers, content_length, chunked, close)


def _response_name(name: str, colon: str) -> str:
    if not colon:
        raise _protocol("malformed response header field")
    if not is_token(name.encode("latin-1")):  # also refuses obs-fold, whitespace before ":"
        raise _protocol("invalid response header field name")
    lname = name.lower()  # (a token is ASCII)
    if len(_RESPONSE_NAMES) < _NAME_CACHE_MAX:
        _RESPONSE_NAMES[name] = lname
    return lname


# -- requests ---------------------------------------------------------------------------


def framing_field(
    body: AsyncIterator[bytes] | bytes | None, content_length: int | None
) -> tuple[bytes, int | None]:
    """The one framing field for a request body, and the length to hold the body to (None:
    chunked, or no body)."""
    if body is None:
        if content_length:
            raise ValueError("content_length without a body")
        if content_length == 0:  # RFC 9110 §8.6: say so for a POST or PUT without a body
            return b"Content-Length: 0\r\n", 0
        return b"", None
    if isinstance(body, bytes | bytearray | memoryview):
        if content_length is not None and content_length != len(body):
            raise ValueError("content_length differs from the length of the body")
        return b"Content-Length: %d\r\n" % len(body), len(body)
    if content_length is None:
        return b"Transfer-Encoding: chunked\r\n", None
    if content_length < 0:
        raise ValueError("negative content_length")
    return b"Content-Length: %d\r\n" % content_length, content_length


def request_head(method: str, target: str, headers: Headers, framing: bytes) -> bytes:
    """The bytes of a request head: request-line, the caller's fields less framing ones,
    then ``framing`` (one complete field line, or empty)."""
    if method not in _METHODS:
        if not is_token(method.encode("latin-1")):
            raise ValueError("invalid request method")
        if len(_METHODS) < _NAME_CACHE_MAX:
            _METHODS.add(method)
    parts = [f"{method} {target} HTTP/1.1\r\n"]
    for name, value in headers:
        lname = _REQUEST_NAMES.get(name) or _request_name(name)
        if lname in _DROPPED:
            continue
        parts.append(f"{name}: {value}\r\n")
    text = "".join(parts)
    lines = len(parts)
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError("request head not encodable as latin-1") from exc
    if len(raw.translate(None, _CTL_CR_LF)) != len(raw) - 2 * lines:  # (rare: refused)
        if raw.count(b"\n") != lines or raw.count(b"\r") != lines:
            raise ValueError("CR or LF in a request header")  # request splitting
        if len(raw.translate(None, HEAD_CTL_CHARS)) != len(raw):
            raise ValueError("control character in a request header")
    request_target = raw[len(method) + 1 : len(method) + 1 + len(target)]
    if (
        not request_target
        or request_target.translate(None, _TARGET_CHARS)
        or (request_target[:1] != b"/" and request_target != b"*")
    ):
        raise ValueError("invalid request target")
    return raw + framing + b"\r\n"


def _request_name(name: str) -> str:
    try:
        valid = is_token(name.encode("latin-1"))
    except UnicodeEncodeError:
        valid = False
    if not valid:
        raise ValueError(f"invalid request header field name {name!r}")
    lname = name.lower()
    if len(_REQUEST_NAMES) < _NAME_CACHE_MAX:
        _REQUEST_NAMES[name] = lname
    return lname
