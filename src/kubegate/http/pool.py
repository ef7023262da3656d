"""The upstream connection pool: keep-alive per target, the stale-connection retry, upgrades.

Per target (``UpstreamTarget``, equal targets share a slot) the pool keeps idle connections
on a LIFO stack: the most recently used one is the warmest and the least likely to have been
closed by the backend, and the cold ones at the bottom age out after ``pool_idle_timeout``.
A connection goes back on the stack only when its response was complete, keep-alive was
allowed and the whole request was sent; one that saw stray bytes or an EOF while idle is
dropped at once (``client_conn``).

The stale keep-alive race: a backend may close an idle connection just as a request goes out
on it. A request that fails that way on a reused connection, before any byte of a response,
is retried once on a fresh connection if it can be sent again unchanged and it is idempotent
or none of its body went out (RFC 9110 §9.2.2; Go's transport does the same).

Upgrades always get a fresh connection that is never pooled (security.md §2.2, A26).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
from collections import deque
from collections.abc import AsyncIterator

from kubegate.http.client import (
    INSECURE_CONTEXT,
    PoolStats,
    UpgradeResult,
    UpstreamError,
    UpstreamTarget,
)
from kubegate.http.client_conn import UpstreamConnection
from kubegate.http.client_head import framing_field, request_head
from kubegate.http.client_response import UpstreamResponse
from kubegate.http.client_send import SendProgress, send_body
from kubegate.http.client_states import DETACHED, DONE, IDLE
from kubegate.http.keepalive import TCPKeepalive, enable_keepalive
from kubegate.http.via_proxy import open_via

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
UPGRADE_ERROR_BODY = 64 * 1024  # of a non-101 answer to an upgrade, relayed at most
_INLINE_BODY = 16 * 1024  # bodies up to this size go out in the same write as the head


class UpstreamSlot:
    """The connections to one target; the connections report to it."""

    __slots__ = (
        "_sweep",
        "conns",
        "idle",
        "idle_timeout",
        "opened",
        "pool",
        "response_header_timeout",
        "taken",
        "target",
        "waiters",
    )

    def __init__(self, pool: UpstreamPool, target: UpstreamTarget) -> None:
        self.pool = pool
        self.target = target
        self.idle_timeout = pool.idle_timeout
        self.response_header_timeout = pool.response_header_timeout
        self.idle: deque[UpstreamConnection] = deque()  # LIFO: the right end is the warmest
        self.conns: set[UpstreamConnection] = set()  # every open (or opening) connection
        self.taken: set[UpstreamConnection] = set()  # serving a request (or connecting)
        self.opened = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None

    def take_idle(self) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.keep_alive and conn.state == IDLE and not conn.transport.is_closing():
                self.taken.add(conn)
                conn.reused = True
                return conn
            conn.close()
        return None

    def release(self, conn: UpstreamConnection) -> None:
        """The exchange on ``conn`` is over: keep it for the next request, or close it."""
        if conn not in self.taken:
            return
        self.taken.discard(conn)
        pool = self.pool
        if (
            conn.keep_alive
            and conn.state == DONE
            and not pool.closed
            and not conn.transport.is_closing()
        ):
            conn.reset_for_pool()
            conn.idle_since = pool.loop.time()
            idle = self.idle
            idle.append(conn)
            if len(idle) > pool.max_idle_per_target:
                idle.popleft().close()  # the coldest goes
            if self._sweep is None:
                self._schedule_sweep()
        else:
            conn.close()
        self._wake_one()

    def forget(self, conn: UpstreamConnection) -> None:
        """``conn`` closed (or was handed over): it no longer counts."""
        if conn in self.taken:
            self.taken.discard(conn)
            self._wake_one()
        elif conn.state != DETACHED:
            try:
                self.idle.remove(conn)
            except ValueError:
                pass
        self.conns.discard(conn)
        if not self.conns and not self.waiters:
            self.pool.drop_slot(self)

    @property
    def count(self) -> int:
        return len(self.taken) + len(self.idle)

    def stats(self) -> PoolStats:
        return PoolStats(len(self.idle), len(self.taken), self.opened)

    def _wake_one(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _schedule_sweep(self) -> None:
        when = self.idle[0].idle_since + self.pool.pool_idle_timeout
        self._sweep = self.pool.loop.call_at(when, self._on_sweep)

    def _on_sweep(self) -> None:
        self._sweep = None
        idle = self.idle
        oldest = self.pool.loop.time() - self.pool.pool_idle_timeout
        while idle and idle[0].idle_since <= oldest:
            idle.popleft().close()
        if idle:
            self._schedule_sweep()

    def cancel_sweep(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None


class UpstreamPool:
    """HTTP/1.1 requests and upgrades to literal-IP targets over kept-alive connections."""

    def __init__(
        self,
        *,
        max_idle_per_target: int = 64,
        max_connections_per_target: int = 512,
        connect_timeout: float = 5.0,
        response_header_timeout: float = 60.0,
        idle_timeout: float = 300.0,
        pool_idle_timeout: float = 60.0,
        tcp_keepalive: TCPKeepalive | None = None,
    ) -> None:
        self.max_idle_per_target = max_idle_per_target
        self.max_connections_per_target = max_connections_per_target
        self.connect_timeout = connect_timeout
        self.response_header_timeout = response_header_timeout
        self.idle_timeout = idle_timeout  # between body reads (or request body writes)
        self.pool_idle_timeout = pool_idle_timeout  # an unused connection is closed after
        self.tcp_keepalive = tcp_keepalive  # for long quiet responses (watches)
        self.loop = asyncio.get_running_loop()
        self.closed = False
        self._slots: dict[UpstreamTarget, UpstreamSlot] = {}
        self._opened_gone = 0  # connections opened by slots since dropped

    async def request(
        self,
        target: UpstreamTarget,
        method: str,
        target_path: str,
        headers: list[tuple[str, str]],
        body: AsyncIterator[bytes] | bytes | None = None,
        *,
        content_length: int | None = None,
        expect_continue: bool = False,
    ) -> UpstreamResponse:
        """Send one request and return the response once its head is in.

        ``headers`` are sent as given (the caller filtered them and supplies ``Host``) less
        any framing field: the pool adds exactly one, Content-Length for a bytes body or a
        known ``content_length``, else ``Transfer-Encoding: chunked`` for a streamed body.
        End the response with ``aclose()`` (or iterate it to its end).
        """
        framing, length = framing_field(body, content_length)
        expect = expect_continue and body is not None and length != 0
        if expect:
            framing += b"Expect: 100-continue\r\n"
        head = request_head(method, target_path, headers, framing)
        slot = self._slots.get(target) or self._new_slot(target)
        conn = slot.take_idle() or await self._open(slot)
        progress = SendProgress()
        try:
            return await self._exchange(conn, head, method, body, length, expect, progress)
        except UpstreamError as exc:
            replayable = not progress.pulled
            if not (
                conn.reused
                and exc.kind == "reset"
                and not conn.response_started
                and replayable
                and (method in IDEMPOTENT_METHODS or not progress.sent)
            ):
                raise
        slot = self._slots.get(target) or self._new_slot(target)
        conn = await self._open(slot)
        return await self._exchange(conn, head, method, body, length, expect, SendProgress())

    async def upgrade(
        self,
        target: UpstreamTarget,
        method: str,
        target_path: str,
        headers: list[tuple[str, str]],
        body: bytes | None = None,
    ) -> UpgradeResult:
        """Send an upgrade request on a fresh connection and read the answer's head.

        101: the transport (reading paused) and the bytes after the head are the caller's.
        Anything else: up to 64 KiB of its body, and the connection is closed.
        """
        if body:
            raise ValueError("an upgrade request carries no body")
        head = request_head(method, target_path, headers, b"")
        slot = self._slots.get(target) or self._new_slot(target)
        conn = await self._open(slot, pooled=False)
        try:
            waiter = conn.begin(upgrade=True)
            conn.write(head)
            conn.request_sent()
            response = await waiter
            if response.status == 101:
                transport, buffered = conn.detach()
                return UpgradeResult(101, response.reason, response.headers, transport, buffered)
            data = await response.read(UPGRADE_ERROR_BODY)
            return UpgradeResult(
                response.status, response.reason, response.headers, None, b"", data
            )
        finally:
            if conn.state != DETACHED:
                conn.close()  # never reused, whatever happened (CVE-2018-1002105)

    def stats(self, target: UpstreamTarget | None = None) -> PoolStats:
        """Idle and active connections and connections opened, for one target or all."""
        if target is not None:
            slot = self._slots.get(target)
            return slot.stats() if slot is not None else PoolStats(0, 0, 0)
        idle = active = opened = 0
        for slot in self._slots.values():
            idle += len(slot.idle)
            active += len(slot.taken)
            opened += slot.opened
        return PoolStats(idle, active, opened + self._opened_gone)

    async def close(self) -> None:
        """Close every connection (requests in flight fail) and refuse new requests."""
        self.closed = True
        lost = []
        for slot in list(self._slots.values()):
            slot.cancel_sweep()
            for waiter in slot.waiters:
                if not waiter.done():
                    waiter.set_result(None)
            for conn in list(slot.conns):
                lost.append(conn.lost)
                if conn in slot.taken:
                    conn.abort()
                else:
                    conn.close()
        if lost:
            await asyncio.wait(lost, timeout=1.0)

    # -- internals ----------------------------------------------------------------------------

    def _new_slot(self, target: UpstreamTarget) -> UpstreamSlot:
        slot = self._slots[target] = UpstreamSlot(self, target)
        return slot

    def drop_slot(self, slot: UpstreamSlot) -> None:
        if self._slots.get(slot.target) is slot:
            slot.cancel_sweep()
            del self._slots[slot.target]
            self._opened_gone += slot.opened

    async def _exchange(
        self,
        conn: UpstreamConnection,
        head: bytes,
        method: str,
        body: AsyncIterator[bytes] | bytes | None,
        length: int | None,
        expect: bool,
        progress: SendProgress,
    ) -> UpstreamResponse:
        waiter = conn.begin(head_request=method == "HEAD")
        if body is None or (isinstance(body, bytes) and not expect):
            if not body:
                conn.write(head)
            elif len(body) <= _INLINE_BODY:
                conn.write(head + body)
            else:
                conn.writelines((head, body))
            progress.sent = len(body) if body else 0
            conn.request_sent()
            try:
                return await waiter
            except BaseException:
                conn.abort()
                raise
        conn.write(head)
        sender = self.loop.create_task(
            send_body(conn, body, length, expect, progress), name="kubegate-upstream-request-body"
        )
        try:
            response = await waiter
        except BaseException:
            sender.cancel()
            await asyncio.wait((sender,))
            conn.abort()
            raise
        if not sender.done():
            response.attach_sender(sender)
        return response

    async def _open(self, slot: UpstreamSlot, *, pooled: bool = True) -> UpstreamConnection:
        """A new connection to the slot's target (waiting while the slot is full)."""
        if self.closed:
            raise UpstreamError("connect", "the upstream connection pool is closed")
        loop = self.loop
        deadline = loop.time() + self.connect_timeout
        target = slot.target
        while pooled and slot.count >= self.max_connections_per_target:
            waiter: asyncio.Future[None] = loop.create_future()
            slot.waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                raise UpstreamError(
                    "timeout", f"no free connection to {target.address} in time"
                ) from None
            finally:
                if not waiter.done():
                    waiter.cancel()
                    slot.waiters.remove(waiter)
            if self.closed:
                raise UpstreamError("connect", "the upstream connection pool is closed")
            conn = slot.take_idle()
            if conn is not None:
                return conn
        conn = UpstreamConnection(slot, pooled=pooled)
        slot.conns.add(conn)
        slot.taken.add(conn)
        try:
            await self._connect(conn, target, deadline)
        except BaseException:
            slot.forget(conn)
            raise
        slot.opened += 1
        return conn

    async def _connect(
        self, conn: UpstreamConnection, target: UpstreamTarget, deadline: float
    ) -> None:
        loop = self.loop
        address = target.address
        if target.via is not None:  # a forward proxy dials (and resolves) the target
            transport = await open_via(target.via, loop, lambda: conn, target, deadline)
        else:
            ipaddress.ip_address(target.ip)  # a literal, never a name: nothing is resolved here
            try:
                async with asyncio.timeout_at(deadline):
                    transport, _ = await loop.create_connection(
                        lambda: conn, target.ip, target.port
                    )
            except TimeoutError:
                raise UpstreamError("connect", f"dial tcp {address}: i/o timeout") from None
            except OSError as exc:
                reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
                raise UpstreamError("connect", f"dial tcp {address}: connect: {reason}") from exc
        if self.tcp_keepalive is not None:
            enable_keepalive(transport.get_extra_info("socket"), self.tcp_keepalive)
        if not target.tls:
            return
        context = target.ssl_context or INSECURE_CONTEXT
        try:
            async with asyncio.timeout_at(deadline):
                tls_transport = await loop.start_tls(
                    transport,
                    conn,
                    context,
                    server_hostname=target.server_hostname,
                    ssl_handshake_timeout=max(deadline - loop.time(), 0.001),
                )
        except BaseException as exc:
            transport.abort()
            if isinstance(exc, TimeoutError):
                raise UpstreamError("tls", f"{address}: TLS handshake timeout") from None
            if isinstance(exc, ssl.SSLCertVerificationError):
                message = f"tls: failed to verify certificate: {exc.verify_message}"
                raise UpstreamError("tls", f"{address}: {message}") from exc
            if isinstance(exc, ssl.SSLError | OSError):
                raise UpstreamError("tls", f"{address}: tls handshake: {exc}") from exc
            raise
        # uvloop's start_tls can return a closed transport when the peer closed during the
        # handshake (connection_lost already delivered): waiting on it would hang.
        if tls_transport is None or tls_transport.is_closing():
            raise UpstreamError("tls", f"{address}: connection closed during the TLS handshake")
        conn.transport = tls_transport
        ssl_object = tls_transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if alpn not in (None, "http/1.1"):
            tls_transport.abort()
            raise UpstreamError("tls", f"{address}: the backend chose ALPN protocol {alpn!r}")
