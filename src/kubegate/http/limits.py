"""Every size, count and time the HTTP/1.1 server layer bounds (security.md §2.8).

The defaults follow what trusted servers ship: nginx's 8 KiB request line (414), 8 KiB per
header line and 32 KiB of headers in all (431), Envoy's and Kestrel's 100 headers, nginx's
75 s keep-alive. Tests pass small values (a fraction of a second) to exercise the timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_request_line: int = 8192  # method + target + version; beyond -> 414
    max_header_line: int = 8192  # one "name: value" field; beyond -> 431
    max_header_bytes: int = 32768  # all fields of one head together; beyond -> 431
    max_headers: int = 100  # field count; beyond -> 431
    max_chunk_ext: int = 4096  # chunk-extension bytes per message; beyond -> 400

    header_timeout: float = 30.0  # first byte of a head to its end; then 408 and close
    body_idle_timeout: float = 60.0  # no body byte for this long (while reading) -> close
    keepalive_timeout: float = 75.0  # idle between requests -> close
    write_timeout: float | None = None  # a client not reading for this long -> close
    linger_timeout: float = 2.0  # after a close with unread input, read and discard this long

    max_connections: int = 4096  # accepted connections beyond this are closed at once

    # Unread request body above this pauses the socket.
    body_buffer: int = 256 * 1024
    # Pipelined bytes waiting behind the request in progress above this pause the socket.
    pipeline_buffer: int = 64 * 1024
    # A body left unread when its handler ends is drained up to this much, else closed.
    drain_body: int = 64 * 1024
