"""Request heads: bytes in, one validated ``RequestHead`` out, or an ``HTTPError`` to answer.

httptools (llhttp in strict mode) parses the request line and the fields. Only heads are fed
to it: the head ends at the first CRLFCRLF (llhttp refuses bare CR and LF, so no other end is
possible), and bodies are framed by the connection itself (Content-Length counting or
``framing.ChunkedDecoder``). Knowing exactly where each head ends is what lets the connection
keep pipelined requests unparsed behind the one in progress.

On top of llhttp this module enforces the sizes of ``Limits`` (414 / 431), and the rules
llhttp leaves open (security.md §2.1): Transfer-Encoding exactly ``chunked`` and only once,
Content-Length digits only, one Host (required on HTTP/1.1), HTTP/1.0 or 1.1 only, CONNECT
refused, absolute-form only for the Host's own authority, upgrades without a body. Names and
values are re-checked against RFC 9110 even where llhttp already does (defence in depth).
"""

from __future__ import annotations

from dataclasses import dataclass

import httptools

from kubegate.http.framing import (
    HEAD_CTL_CHARS,
    is_host,
    is_token,
    parse_content_length,
    split_target,
)
from kubegate.http.limits import Limits
from kubegate.http.types import Headers, HTTPError

_HEAD_END = b"\r\n\r\n"
_NAME_CACHE: dict[bytes, str] = {}  # raw field name -> lower-case str, for the common names
_NAME_CACHE_MAX = 512
_SPECIAL = frozenset(
    {"content-length", "transfer-encoding", "host", "connection", "upgrade", "expect"}
)
# Host values seen and checked (nearly every request repeats one).
_VALID_HOSTS: dict[bytes, bool] = {}
_METHODS: dict[bytes, str] = {}


def _field_name(name: bytes) -> str:
    if not is_token(name):  # llhttp checks too; RFC 9110 §5.1
        raise HTTPError(400, "invalid header field name")
    lname = name.decode("ascii").lower()
    if len(_NAME_CACHE) < _NAME_CACHE_MAX:
        _NAME_CACHE[name] = lname
    return lname


@dataclass(slots=True)
class RequestHead:
    method: str
    target: str
    path: str
    query: str
    version: str  # "1.0" or "1.1"
    headers: Headers
    content_length: int | None  # None: no Content-Length (chunked, or no body)
    chunked: bool
    keep_alive: bool
    upgrade: str | None  # the Upgrade value of a `Connection: upgrade` request
    expect_continue: bool


class HeadParser:
    """Parses one request head at a time; ``reset()`` before each new request."""

    __slots__ = (
        "_complete",
        "_connection",
        "_content_length",
        "_expect",
        "_fed",
        "_headers",
        "_host",
        "_max_field",
        "_max_fields",
        "_max_head",
        "_max_headers",
        "_max_url",
        "_parser",
        "_parser_clean",
        "_tail",
        "_transfer_encoding",
        "_upgrade",
        "_url",
    )

    def __init__(self, limits: Limits) -> None:
        self._max_url = limits.max_request_line
        self._max_field = limits.max_header_line - 2  # the line is name ": " value
        self._max_fields = limits.max_header_bytes
        self._max_headers = limits.max_headers
        self._max_head = limits.max_request_line + limits.max_header_bytes + 4
        self._parser = httptools.HttpRequestParser(self)
        self._parser_clean = True
        self.reset()

    def reset(self) -> None:
        if not self._parser_clean:
            # The previous message's body never went through llhttp, so it still waits for it.
            self._parser = httptools.HttpRequestParser(self)
            self._parser_clean = True
        self._complete = False
        self._fed = 0
        self._tail = b""
        self._url = b""
        self._headers: Headers = []
        self._content_length: bytes | None = None
        self._transfer_encoding: bytes | None = None
        self._host: bytes | None = None
        self._connection: list[bytes] = []
        self._upgrade: bytes | None = None
        self._expect: bytes | None = None

    @property
    def started(self) -> bool:
        """Whether any byte of a head has arrived (a request is on its way)."""
        return self._fed > 0

    def feed(self, data: bytes | bytearray, pos: int) -> tuple[int, RequestHead | None]:
        """Consume ``data[pos:]`` up to the end of the head. Returns the offset after the
        bytes consumed and the head once it is complete (then the offset is the body start)."""
        while True:
            end = self._find_head_end(data, pos)
            stop = len(data) if end < 0 else end
            upgraded = self._execute(data, pos, stop)
            if self._complete:
                return stop, self._finish(upgraded)
            # Remember the last bytes fed: the end of the head may straddle two reads.
            self._tail = bytes((self._tail + data[max(pos, stop - 3) : stop])[-3:])
            if end < 0:
                return stop, None
            # A CRLFCRLF that did not end a head: empty lines before the request-line
            # (RFC 9112 §2.2 lets a server skip them); look for the next one.
            pos = stop

    def _find_head_end(self, data: bytes | bytearray, pos: int) -> int:
        if self._tail:  # the end may straddle two reads
            probe = self._tail + data[pos : pos + 3]
            found = probe.find(_HEAD_END)
            if found >= 0:
                return pos + found + 4 - len(self._tail)
        found = data.find(_HEAD_END, pos)
        return found + 4 if found >= 0 else -1

    def _execute(self, data: bytes | bytearray, start: int, stop: int) -> bool:
        piece = data if start == 0 and stop == len(data) else data[start:stop]
        self._fed += len(piece)
        # One pass over the raw bytes for control characters (llhttp refuses them too; this
        # is the second line of defence, cheaper than a check per field). CR and LF are
        # llhttp's: it refuses every bare CR or LF.
        if len(piece.translate(None, HEAD_CTL_CHARS)) != len(piece):
            raise HTTPError(400, "invalid character in request head")
        try:
            self._parser.feed_data(piece)
        except httptools.HttpParserUpgrade:
            self._parser_clean = False
            return True
        except httptools.HttpParserCallbackError as exc:
            self._parser_clean = False
            if isinstance(exc.__context__, HTTPError):
                raise exc.__context__ from None
            raise HTTPError(400, "malformed request") from exc
        except httptools.HttpParserError as exc:
            self._parser_clean = False
            raise HTTPError(400, "malformed request") from exc
        # An unfinished head past the limits (a long target was refused by on_url already).
        # What llhttp holds meanwhile is bounded by the limit plus one read.
        if self._fed > self._max_head and not self._complete:
            raise HTTPError(431, "request header fields too large")
        return False

    # httptools callbacks; an exception raised here makes feed_data fail (see _execute).

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_url:
            raise HTTPError(414, "request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        value = value.rstrip(b" \t")  # llhttp keeps trailing OWS (RFC 9110 §5.5 excludes it)
        if len(name) + len(value) > self._max_field:
            raise HTTPError(431, "request header fields too large")
        lname = _NAME_CACHE.get(name) or _field_name(name)
        self._headers.append((lname, value.decode("latin-1")))
        if lname in _SPECIAL:
            self._special(lname, value)

    def _special(self, name: str, value: bytes) -> None:
        if name == "connection":
            self._connection.append(value)
            return
        if name == "content-length":
            duplicate = self._content_length is not None
            self._content_length = value
        elif name == "transfer-encoding":
            duplicate = self._transfer_encoding is not None
            self._transfer_encoding = value
        elif name == "host":
            duplicate = self._host is not None
            self._host = value
        elif name == "upgrade":
            duplicate = self._upgrade is not None
            self._upgrade = value
        else:
            duplicate = self._expect is not None
            self._expect = value
        if duplicate:  # RFC 9112 §6.3, §3.2: two framing headers or two Hosts are ambiguous
            raise HTTPError(400, "duplicate header field")

    def on_headers_complete(self) -> None:
        self._complete = True

    # -- after the head -------------------------------------------------------------------

    def _finish(self, upgraded: bool) -> RequestHead:
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise HTTPError(505, "HTTP version not supported")
        # The field section: the head less its request-line (which on_url bounds) and CRLFs.
        if (
            len(self._headers) > self._max_headers
            or self._fed - len(self._url) - 20 > self._max_fields
        ):
            raise HTTPError(431, "request header fields too large")
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method)
        if method is None:
            method = _METHODS[raw_method] = raw_method.decode("ascii")  # llhttp's fixed set
        if method == "CONNECT":
            raise HTTPError(405, "method not allowed")
        host = self._host
        if host is None:
            if version == "1.1":
                raise HTTPError(400, "missing Host")
        elif host not in _VALID_HOSTS:
            if not is_host(host):
                raise HTTPError(400, "invalid Host")
            if len(_VALID_HOSTS) < _NAME_CACHE_MAX:
                _VALID_HOSTS[host] = True
        url = self._url
        if url[:1] == b"/" and b"#" not in url and b"?" not in url:
            path = url.decode("latin-1")  # the common case, kept cheap
            target, query = path, ""
        else:
            target = url.decode("latin-1")
            path, query = split_target(url, method, host)

        chunked = False
        content_length = None
        if self._transfer_encoding is not None:
            # Only `chunked`, alone: anything else is 400 on a request (RFC 9112 §6.3 item 4).
            if self._content_length is not None or version == "1.0":
                raise HTTPError(400, "invalid message framing")
            if self._transfer_encoding.lower() != b"chunked":
                raise HTTPError(400, "unsupported Transfer-Encoding")
            chunked = True
        elif self._content_length is not None:
            content_length = parse_content_length(self._content_length)

        keep_alive = version == "1.1"
        upgrade_token = False
        for value in self._connection:  # usually none, or one short value
            for token in value.lower().split(b","):
                token = token.strip(b" \t")
                if token == b"close":
                    keep_alive = False
                elif token == b"keep-alive" and version == "1.0":
                    keep_alive = True
                elif token == b"upgrade":
                    upgrade_token = True

        upgrade = None
        if upgraded or (upgrade_token and self._upgrade is not None):
            if self._upgrade is None or version != "1.1":
                raise HTTPError(400, "invalid upgrade request")
            if chunked or content_length:  # a body would be raw bytes after the head
                raise HTTPError(400, "upgrade request with a body")
            upgrade = self._upgrade.decode("latin-1")

        if chunked or content_length or not keep_alive:
            # llhttp now waits for a body it will never see (bodies are framed by the
            # connection), or has closed: the next head needs a fresh parser.
            self._parser_clean = False
        expect = self._expect
        return RequestHead(
            method,
            target,
            path,
            query,
            version,
            self._headers,
            content_length,
            chunked,
            keep_alive,
            upgrade,
            expect is not None and version == "1.1" and expect.lower() == b"100-continue",
        )
