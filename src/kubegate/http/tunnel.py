"""A byte pump between two detached transports: the two halves of an upgraded connection.

Each transport gets a small Protocol that writes what it reads to the other transport.
Back-pressure runs both ways without a task per direction: when one side's write buffer goes
over its high-water mark (``pause_writing``), reading from the other side stops until it
drains (``resume_writing``), so a slow reader on either end holds at most the transports'
buffers in memory.

Ends (security.md §2.2: both halves are torn down when either side ends):

- an EOF from one side is passed on with ``write_eof`` while the other direction goes on
  (half-close); once both sides have sent EOF, the tunnel ends. A TLS transport cannot
  half-close, so an EOF from or toward one ends the tunnel.
- a side closing or resetting ends the tunnel: the other side gets what was already read,
  then is closed (and aborted if it does not take that within ``_CLOSE_GRACE``).
- no byte moving either way for ``idle_timeout``, or ``closing`` set: both aborted at once.
"""

from __future__ import annotations

import asyncio

_CLOSE_GRACE = 5.0  # a peer that will not take the last bytes within this is aborted


class _Side(asyncio.Protocol):
    """Reads one transport, writes into the other."""

    __slots__ = ("copied", "eof", "other", "pump", "tls", "transport")

    def __init__(self, pump: _Pump, transport: asyncio.Transport) -> None:
        self.pump = pump
        self.transport = transport
        self.other: _Side = self  # set once both sides exist
        self.copied = 0  # bytes read here and written to the other side
        self.eof = False
        self.tls = transport.get_extra_info("ssl_object") is not None

    def data_received(self, data: bytes) -> None:
        self.copied += len(data)
        self.pump.last_activity = self.pump.loop.time()
        self.other.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        return self.pump.side_eof(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pump.finish(abort=False)

    def pause_writing(self) -> None:
        # This transport cannot take more: stop reading what would be written to it.
        source = self.other.transport
        if not source.is_closing():
            source.pause_reading()

    def resume_writing(self) -> None:
        self.pump.last_activity = self.pump.loop.time()
        source = self.other.transport
        if not source.is_closing():
            source.resume_reading()


class _Pump:
    __slots__ = ("a", "b", "done", "idle_timeout", "last_activity", "loop", "timer")

    def __init__(self, a: asyncio.Transport, b: asyncio.Transport, idle_timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.idle_timeout = idle_timeout
        self.last_activity = self.loop.time()
        self.a = _Side(self, a)
        self.b = _Side(self, b)
        self.a.other = self.b
        self.b.other = self.a
        self.timer: asyncio.TimerHandle | None = self.loop.call_at(
            self.last_activity + idle_timeout, self._on_idle
        )

    def side_eof(self, side: _Side) -> bool:
        """Pass an EOF on; returns whether ``side``'s transport stays open (for writing)."""
        target = side.other.transport
        if side.tls or not target.can_write_eof() or target.is_closing():
            self.finish(abort=False)
            return False
        target.write_eof()
        if side.other.eof:
            self.finish(abort=False)  # both directions are done
            return False
        return True

    def finish(self, *, abort: bool) -> None:
        if self.done.done():
            return
        self.done.set_result(None)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for side in (self.a, self.b):
            transport = side.transport
            if abort:
                transport.abort()
            elif not transport.is_closing():
                transport.close()  # after writing what it still holds...
                self.loop.call_later(_CLOSE_GRACE, transport.abort)  # ...if it can

    def _on_idle(self) -> None:
        self.timer = None
        when = self.last_activity + self.idle_timeout
        if self.loop.time() < when:
            self.timer = self.loop.call_at(when, self._on_idle)
            return
        self.finish(abort=True)


async def tunnel(
    a: asyncio.Transport,
    a_buffered: bytes,
    b: asyncio.Transport,
    b_buffered: bytes,
    *,
    idle_timeout: float,
    closing: asyncio.Event | None = None,
) -> tuple[int, int]:
    """Copy bytes between ``a`` and ``b`` until the tunnel ends; both transports are closed
    on return. ``a_buffered`` (already read from ``a``) goes to ``b`` first, ``b_buffered``
    to ``a``. Returns the bytes copied from a to b and from b to a."""
    pump = _Pump(a, b, idle_timeout)
    a.set_protocol(pump.a)
    b.set_protocol(pump.b)
    if a_buffered:
        b.write(a_buffered)
        pump.a.copied += len(a_buffered)
    if b_buffered:
        a.write(b_buffered)
        pump.b.copied += len(b_buffered)
    if a.is_closing() or b.is_closing():
        pump.finish(abort=False)  # one side ended before the tunnel began
    else:
        a.resume_reading()
        b.resume_reading()
    watcher = None
    if closing is not None and not pump.done.done():
        watcher = asyncio.create_task(closing.wait(), name="kubegate-tunnel-closing")
        watcher.add_done_callback(lambda _: pump.finish(abort=True))
    try:
        await pump.done
    except asyncio.CancelledError:
        pump.finish(abort=True)
        raise
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
            await asyncio.wait((watcher,))
    return pump.a.copied, pump.b.copied
