"""Message framing rules of RFC 9112, without IO: character classes, the request-target forms,
a strict chunked-body decoder, and the bytes of response heads the layer writes itself.

Everything here is pure: bytes in, values or an ``HTTPError`` (carrying the status to answer)
out. Validation uses ``bytes.translate(None, allowed)``, which deletes every allowed byte in C:
a non-empty result means a forbidden byte, without a regex or a Python-level loop.
"""

from __future__ import annotations

import string
from http import HTTPStatus

from kubegate.http.types import HTTPError

# RFC 9110 §5.6.2: token = 1*tchar
TOKEN_CHARS = (string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~").encode()
# RFC 9110 §5.5: field-value bytes are VCHAR, SP, HTAB and obs-text; never CTLs, CR, LF or NUL.
FIELD_VALUE_CHARS = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
# Control bytes never allowed anywhere in a request head (CR and LF are line ends, HTAB is OWS).
HEAD_CTL_CHARS = (
    bytes(range(0x00, 0x09)) + bytes(range(0x0B, 0x0D)) + bytes(range(0x0E, 0x20)) + b"\x7f"
)
HEX_CHARS = b"0123456789abcdefABCDEF"
# RFC 3986 §3.2.2-3.2.3: reg-name / IP-literal characters plus ":" port; no userinfo ("@").
HOST_CHARS = (string.ascii_letters + string.digits + "-._~!$&'()*+,;=:[]%").encode()

# Chunk-size is 1*HEXDIG; more than 16 digits cannot be a 64-bit size (security.md §2.1).
MAX_CHUNK_SIZE_DIGITS = 16


def is_token(value: bytes) -> bool:
    return bool(value) and not value.translate(None, TOKEN_CHARS)


def is_field_value(value: bytes) -> bool:
    return not value.translate(None, FIELD_VALUE_CHARS)


def is_host(value: bytes) -> bool:
    return bool(value) and not value.translate(None, HOST_CHARS)


def parse_content_length(value: bytes) -> int:
    """Content-Length is 1*DIGIT and nothing else (not ``int()``: it takes ``+1_0``)."""
    if not value or not value.isdigit():  # bytes.isdigit is ASCII-only
        raise HTTPError(400, "invalid Content-Length")
    return int(value)


def split_target(target: bytes, method: str, host: bytes | None) -> tuple[str, str]:
    """The (path, query) of a request-target (RFC 9112 §3.2), both still percent-encoded.

    origin-form is the norm; asterisk-form only for OPTIONS; absolute-form only when its
    authority names the same host as ``Host``, so that routing and authorisation never see
    two different hosts. authority-form belongs to CONNECT, which is refused before this.
    """
    if target[:1] == b"/":
        rest = target
    elif target == b"*" and method == "OPTIONS":
        return "*", ""
    else:
        scheme_end = target.find(b"://")
        if scheme_end < 0 or target[:scheme_end].lower() not in (b"http", b"https"):
            raise HTTPError(400, "invalid request target")
        after = target[scheme_end + 3 :]
        end = len(after)
        for sep in b"/?":
            index = after.find(sep)
            if 0 <= index < end:
                end = index
        authority = after[:end]
        if not is_host(authority) or host is None or authority.lower() != host.lower():
            raise HTTPError(400, "request target does not match Host")
        rest = after[end:]
        if rest[:1] != b"/":
            rest = b"/" + rest
    if b"#" in rest:  # a fragment is never part of a request-target
        raise HTTPError(400, "invalid request target")
    query_at = rest.find(b"?")
    if query_at < 0:
        return rest.decode("latin-1"), ""
    return rest[:query_at].decode("latin-1"), rest[query_at + 1 :].decode("latin-1")


# --- chunked bodies (RFC 9112 §7.1) ---------------------------------------------------------

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)
_FORBIDDEN_TRAILERS = frozenset({b"content-length", b"transfer-encoding", b"host", b"trailer"})


class ChunkedDecoder:
    """Decodes one chunked body, refusing everything RFC 9112 does not allow.

    Stricter than llhttp where the security reference asks for it: at most 16 hex digits per
    chunk-size, a cap on chunk-extension bytes per message, CRLF and only CRLF as line end,
    and no framing fields among the trailers. Trailers are checked and then dropped.
    """

    __slots__ = (
        "_ext_budget",
        "_line",
        "_max_header_bytes",
        "_max_header_line",
        "_max_headers",
        "_remaining",
        "_state",
        "_trailer_bytes",
        "_trailer_count",
    )

    def __init__(
        self, max_chunk_ext: int, max_header_line: int, max_header_bytes: int, max_headers: int
    ) -> None:
        self._state = _SIZE
        self._line = b""  # an incomplete line carried over to the next feed
        self._remaining = 0
        self._ext_budget = max_chunk_ext
        self._max_header_line = max_header_line
        self._max_header_bytes = max_header_bytes
        self._max_headers = max_headers
        self._trailer_bytes = 0
        self._trailer_count = 0

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes | bytearray, pos: int) -> tuple[list[bytes], int]:
        """Decode ``data[pos:]``: the body pieces found, and where this body ended (or
        ``len(data)`` if it goes on). Raises HTTPError(400) on any framing error."""
        pieces: list[bytes] = []
        size = len(data)
        while pos < size and self._state != _DONE:
            if self._state == _DATA:
                take = min(self._remaining, size - pos)
                piece = data[pos : pos + take]
                pieces.append(piece if type(piece) is bytes else bytes(piece))
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _DATA_END
                continue
            if self._state == _DATA_END:  # exactly CRLF after the data, refused at once if not
                expected = b"\r\n"[len(self._line) :]
                got = data[pos : pos + len(expected)]
                if not expected.startswith(got):
                    raise HTTPError(400, "invalid chunked framing")
                pos += len(got)
                if len(got) < len(expected):
                    self._line = b"\r"
                    continue
                self._line = b""
                self._state = _SIZE
                continue
            newline = data.find(b"\n", pos)
            cap = self._line_cap()
            if newline < 0:
                self._line += data[pos:]
                if len(self._line) > cap:
                    raise HTTPError(400, "invalid chunked framing")
                return pieces, size
            line = self._line + data[pos:newline] if self._line else data[pos:newline]
            self._line = b""
            pos = newline + 1
            if len(line) > cap or line[-1:] != b"\r" or b"\r" in line[:-1]:
                raise HTTPError(400, "invalid chunked framing")  # bare LF or CR (RFC 9112 §2.2)
            self._line_received(bytes(line[:-1]))
        return pieces, pos

    def _line_cap(self) -> int:
        if self._state == _SIZE:
            return MAX_CHUNK_SIZE_DIGITS + self._ext_budget + 1
        return self._max_header_line + 1  # a trailer field

    def _line_received(self, line: bytes) -> None:
        if self._state == _SIZE:
            self._size_line(line)
        else:
            self._trailer_line(line)

    def _size_line(self, line: bytes) -> None:
        semicolon = line.find(b";")
        digits = line if semicolon < 0 else line[:semicolon]
        if not 0 < len(digits) <= MAX_CHUNK_SIZE_DIGITS or digits.translate(None, HEX_CHARS):
            raise HTTPError(400, "invalid chunk size")
        if semicolon >= 0:
            extension = line[semicolon:]
            self._ext_budget -= len(extension)
            if self._ext_budget < 0:
                raise HTTPError(400, "chunk extensions too large")
            if not is_field_value(extension):
                raise HTTPError(400, "invalid chunk extension")
        self._remaining = int(digits, 16)
        self._state = _DATA if self._remaining else _TRAILER

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._state = _DONE
            return
        colon = line.find(b":")
        name = line[:colon]
        if colon <= 0 or not is_token(name):  # also refuses obs-fold (a leading SP or HTAB)
            raise HTTPError(400, "invalid trailer field")
        if not is_field_value(line[colon + 1 :]) or name.lower() in _FORBIDDEN_TRAILERS:
            raise HTTPError(400, "invalid trailer field")
        self._trailer_count += 1
        self._trailer_bytes += len(line) + 2
        if self._trailer_count > self._max_headers or self._trailer_bytes > self._max_header_bytes:
            raise HTTPError(431, "trailer fields too large")


# --- response heads written by the layer itself ----------------------------------------------


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


STATUS_LINES: dict[int, bytes] = {int(status): _status_line(status) for status in HTTPStatus}


def status_line(status: int) -> bytes:
    line = STATUS_LINES.get(status)
    if line is None:
        if not 100 <= status <= 999:
            raise ValueError(f"invalid status code {status}")
        line = _status_line(status)
    return line


def error_response(status: int, message: str, extra_headers: bytes = b"") -> bytes:
    """A short fixed plain-text answer that closes the connection; never echoes input.
    ``extra_headers``: CRLF-terminated lines the application adds (its Audit-Id)."""
    body = (message + "\n").encode()
    return b"".join(
        (
            status_line(status),
            extra_headers,
            b"Content-Type: text/plain; charset=utf-8\r\n",
            b"X-Content-Type-Options: nosniff\r\n",
            b"Content-Length: %d\r\n" % len(body),
            b"Connection: close\r\n\r\n",
            body,
        )
    )


CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"
