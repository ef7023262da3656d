"""The one timer of a connection: a movable deadline on a single ``call_at`` handle.

Both connection Protocols (the server side, http/connection.py, and the backend side,
http/client_conn.py) time their phases this way, never with a task per timer:

- ``_set_deadline(kind, delay)`` arms it for what ``kind`` (the connection's own constant)
  bounds. A new handle replaces the pending one only when the deadline comes earlier.
- moving it later is one store: ``self._deadline = self._loop.time() + delay``; a handle that
  fires before the deadline just re-arms itself for it. ``self._deadline = 0.0`` disarms it.
- when it passes, ``_deadline_passed(kind)`` acts; nothing fires once ``_timing_over()``.
"""

from __future__ import annotations

import asyncio


class DeadlineTimer:
    """Mixin for a connection Protocol, which sets the three fields in its ``__init__``."""

    __slots__ = ("_deadline", "_deadline_kind", "_timer")

    _loop: asyncio.AbstractEventLoop  # the subclass's
    _deadline: float  # loop time; 0.0 for none
    _deadline_kind: int
    _timer: asyncio.TimerHandle | None

    def _timing_over(self) -> bool:
        """Whether the connection is past all timeouts (handed over or closed)."""
        raise NotImplementedError

    def _deadline_passed(self, kind: int) -> None:
        """Act on the deadline of ``kind`` having passed (still armed: disarm it if need be)."""
        raise NotImplementedError

    def _set_deadline(self, kind: int, delay: float) -> None:
        when = self._loop.time() + delay
        self._deadline = when
        self._deadline_kind = kind
        timer = self._timer
        if timer is None or timer.when() > when:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(when, self._on_deadline)

    def _stop_timer(self) -> None:
        """Disarm the deadline and drop the handle (the connection is done with timing)."""
        self._deadline = 0.0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_deadline(self) -> None:
        self._timer = None
        when = self._deadline
        if not when or self._timing_over():
            return
        if self._loop.time() < when:  # the deadline moved on since this handle was set
            self._timer = self._loop.call_at(when, self._on_deadline)
            return
        self._deadline_passed(self._deadline_kind)
