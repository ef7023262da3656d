"""The one-pass byte check of client heads (control bytes, bare CR or LF) decides exactly as
the three separate checks it replaced, error message included (differential, seeded)."""

from __future__ import annotations

import random

import pytest

from kubegate.http.client import UpstreamError
from kubegate.http.client_head import parse_response_head, request_head
from kubegate.http.framing import HEAD_CTL_CHARS

# What may be spliced into a head: every control byte, CR, LF and their pairs in both orders.
SPLICES = [bytes([b]) for b in HEAD_CTL_CHARS] + [b"\r", b"\n", b"\r\n", b"\n\r", b"\t", b"\xe9"]


def old_response_verdict(raw: bytes) -> str | None:
    """The message the replaced checks of parse_response_head raised, or None."""
    if len(raw.translate(None, HEAD_CTL_CHARS)) != len(raw):
        return "invalid character in response head"
    line_ends = len(raw.decode("latin-1")[:-4].split("\r\n")) + 1
    if raw.count(b"\n") != line_ends or raw.count(b"\r") != line_ends:
        return "bare CR or LF in response head"
    return None


def old_request_verdict(raw: bytes, lines: int) -> str | None:
    """The message the replaced checks of request_head raised, or None."""
    if raw.count(b"\n") != lines or raw.count(b"\r") != lines:
        return "CR or LF in a request header"
    if len(raw.translate(None, HEAD_CTL_CHARS)) != len(raw):
        return "control character in a request header"
    return None


def spliced(rng: random.Random, text: bytes, count: int) -> bytes:
    for _ in range(count):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(SPLICES) + text[at:]
    return text


@pytest.mark.parametrize("seed", range(4))
def test_response_heads_get_the_old_verdict(seed: int) -> None:
    """Random splices into a response head's lines are refused as before, or parse as before."""
    rng = random.Random(seed)
    for _ in range(2000):
        body = spliced(rng, b"HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0", rng.randrange(3))
        raw = body + b"\r\n\r\n"
        if raw.find(b"\r\n\r\n") != len(raw) - 4:
            continue  # not one head (the connection cuts heads at the first empty line)
        expected = old_response_verdict(raw)
        try:
            parse_response_head(raw)
        except UpstreamError as exc:
            got: str | None = str(exc)
        else:
            got = None
        if expected is not None:
            assert got is not None and expected in got, (raw, got)
        elif got is not None:
            assert "CR or LF" not in got and "invalid character" not in got, (raw, got)


@pytest.mark.parametrize("seed", range(4))
def test_request_heads_get_the_old_verdict(seed: int) -> None:
    """Random splices into request field values are refused as before, with the same message."""
    rng = random.Random(seed)
    for _ in range(2000):
        value = spliced(rng, b"value", rng.randrange(3)).decode("latin-1")
        headers = [("host", "backend"), ("x-a", value)]
        lines = 3  # the request-line and two fields
        raw = f"GET / HTTP/1.1\r\nhost: backend\r\nx-a: {value}\r\n".encode("latin-1")
        expected = old_request_verdict(raw, lines)
        try:
            request_head("GET", "/", headers, b"")
        except ValueError as exc:
            got: str | None = str(exc)
        else:
            got = None
        assert got == expected, (value, got, expected)
