"""The response writer's heads and byte count (http/writer.py), over a stub connection."""

from __future__ import annotations

import pytest

from kubegate.http.writer import ConnectionWriter


class StubTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def writelines(self, parts: list[bytes]) -> None:
        self.sent.extend(bytes(p) for p in parts)


class StubConnection:
    """What the writer uses of HTTPConnection."""

    def __init__(self) -> None:
        self.transport = StubTransport()
        self.closed = False
        self.write_paused = False
        self.server_header = ""
        self.close_after = False

    def closes_after(self, status: int) -> bool:
        return False

    def close_after_response(self) -> None:
        self.close_after = True

    async def drain(self) -> None:
        return None


def new_writer(**kwargs: bool) -> tuple[ConnectionWriter, StubConnection]:
    conn = StubConnection()
    writer = ConnectionWriter(conn, kwargs.get("head", False), kwargs.get("http10", False))  # type: ignore[arg-type]
    return writer, conn


HEADERS = [("content-type", "text/plain"), ("audit-id", "abc"), ("X-Mixed", "Case")]


async def test_body_bytes_count_send():
    """send() counts the body it was given."""
    writer, _ = new_writer()
    await writer.send(200, HEADERS, b"hello")
    assert writer.body_bytes == 5


async def test_body_bytes_count_streamed_writes():
    """start() + write() + end() count every piece written."""
    writer, conn = new_writer()
    await writer.start(200, HEADERS)
    await writer.write(b"abc")
    await writer.write(b"defg")
    await writer.end()
    assert writer.body_bytes == 7
    assert b"".join(conn.transport.sent).endswith(b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")


async def test_head_of_a_whole_response():
    """The head carries the application's fields as given, then the layer's framing."""
    writer, conn = new_writer()
    await writer.send(200, HEADERS, b"x")
    assert conn.transport.sent[0] == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\naudit-id: abc\r\nX-Mixed: Case\r\n"
        b"Content-Length: 1\r\n\r\nx"
    )


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "a\rb"])
async def test_cr_or_lf_in_a_value_is_refused(value):
    """Response splitting: a CR or LF in a field value is refused before anything is sent."""
    writer, conn = new_writer()
    with pytest.raises(ValueError, match="CR or LF"):
        await writer.send(200, [("x-known", value)])
    assert conn.transport.sent == []


@pytest.mark.parametrize("name", ["Content-Length", "transfer-encoding"])
async def test_framing_fields_of_the_application_are_dropped(name):
    """A framing field passed by the application never reaches the head (the layer frames)."""
    for _ in range(2):
        writer, conn = new_writer()
        await writer.send(200, [("a", "1"), (name, "999")], b"xy")
        head = conn.transport.sent[0]
        assert b"999" not in head and b"Content-Length: 2\r\n" in head


async def test_connection_close_of_the_application_closes():
    """A ``Connection: close`` field from the application ends the connection after it."""
    for _ in range(2):
        writer, conn = new_writer()
        await writer.send(200, [("a", "1"), ("Connection", "close")], b"")
        assert conn.close_after
