"""The states and timer kinds of one client connection (http/connection.py)."""

from __future__ import annotations

IDLE, BODY, BUSY, LINGER, DETACHED, CLOSED = range(6)
T_HEADER, T_BODY, T_KEEPALIVE, T_LINGER, T_ABORT = range(5)
