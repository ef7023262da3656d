"""The floor: the least a Python reverse proxy can do per request, as a benchmark subject.

    python -m bench.raw_proxy --listen PORT --upstream PORT [--tls CERT KEY]

perf-baseline.md's "raw Protocol + httptools + uvloop" proxy, rebuilt so that the proxy
suite can run it next to kubegate (subjects ``python-floor`` and ``python-floor-tls``): no
authentication, no authorization, no routing, no metrics, no logging — one asyncio Protocol
per client connection, one keep-alive upstream connection of its own (at c50 a pool holds
as many), httptools on both sides, bodies streamed both ways with back-pressure, hop-by-hop
headers dropped and ``X-Forwarded-For`` added. It is what any Python proxy built on this
stack pays before it does anything of its own, so its rps bounds what kubegate (which does
all of the above, over TLS) can reach on one core. Not shipped, not a product: HTTP/1.1
only, no upgrades, no error pages beyond a 502.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
from collections.abc import Sequence

import httptools
import uvloop

HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-connection te trailer transfer-encoding upgrade".split()
)
HIGH_WATER = 256 * 1024


class Upstream(asyncio.Protocol):
    """The backend side of one client connection: parses responses and sends them back."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[bytes] = []
        self.chunked = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        pending = self.client.pending
        if pending:  # what the client sent while this connection was being made, first
            transport.write(b"".join(pending))  # type: ignore[attr-defined]
            pending.clear()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.client.fail()

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.upstream_lost()

    def pause_writing(self) -> None:
        self.client.pause_reading()

    def resume_writing(self) -> None:
        self.client.resume_reading()

    def on_message_begin(self) -> None:
        self.headers = []
        self.chunked = False

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            if lower == b"transfer-encoding":
                self.chunked = True
            return
        self.headers.append(name + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        extra = b"Transfer-Encoding: chunked\r\n" if self.chunked else b""
        head = b"HTTP/1.1 %d OK\r\n" % status + b"".join(self.headers) + extra + b"\r\n"
        self.client.send(head)

    def on_body(self, body: bytes) -> None:
        self.client.send(b"%x\r\n%s\r\n" % (len(body), body) if self.chunked else body)

    def on_message_complete(self) -> None:
        if self.chunked:
            self.client.send(b"0\r\n\r\n")
        self.client.response_done()


class Client(asyncio.Protocol):
    """One downstream connection: parses requests and forwards them upstream."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.transport: asyncio.Transport | None = None
        self.upstream: Upstream | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: list[bytes] = []  # sent before the upstream connection is up
        self.headers: list[bytes] = []
        self.url = b""
        self.peer = b""
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = peer[0].encode() if peer else b""
        upstream = self.upstream = Upstream(self)
        asyncio.get_running_loop().create_task(self._connect(upstream))

    async def _connect(self, upstream: Upstream) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: upstream, "127.0.0.1", self.upstream_port), 5
            )
        except (TimeoutError, OSError):
            self.fail()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.fail()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream and self.upstream.transport:
            self.upstream.transport.close()

    def pause_writing(self) -> None:
        if self.upstream and self.upstream.transport:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream and self.upstream.transport:
            self.upstream.transport.resume_reading()

    def pause_reading(self) -> None:
        if self.transport:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport:
            self.transport.resume_reading()

    def on_message_begin(self) -> None:
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() not in HOP_BY_HOP:
            self.headers.append(name + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        method = self.parser.get_method()
        head = (
            method
            + b" "
            + self.url
            + b" HTTP/1.1\r\n"
            + b"".join(self.headers)
            + b"X-Forwarded-For: "
            + self.peer
            + b"\r\n\r\n"
        )
        self.url = b""
        self._upstream_write(head)

    def on_body(self, body: bytes) -> None:
        self._upstream_write(body)

    def _upstream_write(self, data: bytes) -> None:
        upstream = self.upstream
        if upstream is None or upstream.transport is None:
            self.pending.append(data)
        else:
            upstream.transport.write(data)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def response_done(self) -> None:
        if not self.keep_alive and self.transport is not None:
            self.transport.close()

    def upstream_lost(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def fail(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            self.transport.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.raw_proxy", description=__doc__)
    parser.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--upstream", type=int, required=True, help="backend port on 127.0.0.1")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    args = parser.parse_args(argv)
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3  # as kubegate negotiates with curl/wrk
        context.load_cert_chain(*args.tls)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: Client(args.upstream), "127.0.0.1", args.listen, ssl=context, backlog=1024
        )
        print(f"listening on 127.0.0.1:{args.listen}", flush=True)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


if __name__ == "__main__":
    main()
