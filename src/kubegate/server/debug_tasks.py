"""``GET /debug/tasks``: what the event loop is doing, for administrators (like Go's
``/debug/pprof/goroutine?debug=1``).

A plain-text dump: open client connections, requests being handled and what the limits
count, then every asyncio task grouped by identical await stacks — the task name, then each
coroutine frame from the task's own down to the innermost one, then what that one awaits —
most frequent first. Grouping keeps the page short on a busy server (10,000 idle WebSocket
tunnels are one entry with a count) and makes a leak stand out as a growing count.

Authorization is RBAC's, like every non-resource URL: ``get`` on ``/debug/tasks`` (or
``/debug/*``), which ``system:masters`` and ``cluster-admin`` have and nobody else by
default. The page shows code locations and counts only — no request data, headers or users.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kubegate.server.auditing import Auditor
from kubegate.server.respond import base_headers

if TYPE_CHECKING:
    from kubegate.http.server import HTTPServer
    from kubegate.server.context import RequestContext
    from kubegate.server.limits import RequestLimiter

PATH = "/debug/tasks"
REQUEST_TASK = "kubegate-http-request"  # the name http/connection.py gives request handlers
_MAX_DEPTH = 64  # await-chain frames followed per task


class DebugTasks:
    def __init__(
        self,
        http: HTTPServer,
        limiter: RequestLimiter | None = None,
        auditor: Auditor | None = None,
    ) -> None:
        self.http = http
        self.limiter = limiter
        self.auditor = auditor

    async def serve(self, ctx: RequestContext) -> None:
        body = self.render().encode()
        headers = [
            *base_headers(ctx.audit_id),
            ("content-type", "text/plain; charset=utf-8"),
            ("x-content-type-options", "nosniff"),
        ]
        await ctx.response.send(200, headers, body)

    def render(self) -> str:
        tasks = asyncio.all_tasks()
        lines = [
            f"kubegate tasks at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
            f"connections: {self.http.connection_count} (HTTP; upgraded tunnels not included)",
            f"requests being handled: {sum(t.get_name() == REQUEST_TASK for t in tasks)}",
        ]
        if self.limiter is not None:
            counts = ", ".join(f"{k.value} {n}" for k, n in self.limiter.inflight.items())
            lines.append(f"counted by the in-flight limits (system:masters exempt): {counts}")
        if self.auditor is not None:
            lines.append(f"audit log accepting requests: {self.auditor.accepting()}")
        lines.append(f"tasks: {len(tasks)}")
        lines.append("")
        for (name, stack), count in sorted(group_tasks(tasks).items(), key=_most_first):
            lines.append(f"{count} {'task' if count == 1 else 'tasks'}: {name}")
            lines.extend(f"    {frame}" for frame in stack)
            lines.append("")
        return "\n".join(lines)


def group_tasks(tasks: Iterable[asyncio.Task[Any]]) -> Counter[tuple[str, tuple[str, ...]]]:
    """Tasks counted by (name, await stack)."""
    groups: Counter[tuple[str, tuple[str, ...]]] = Counter()
    for task in tasks:
        groups[(task.get_name(), tuple(await_stack(task)))] += 1
    return groups


def await_stack(task: asyncio.Task[Any]) -> list[str]:
    """The task's coroutine frames, outermost first, and what the innermost awaits."""
    if task.done():
        return ["(done)"]
    frames: list[str] = []
    obj: Any = task.get_coro()
    for _ in range(_MAX_DEPTH):
        frame = _frame_of(obj)
        if frame is None:
            frames.append(f"awaiting {_describe(obj)}")
            break
        code = frame.f_code
        frames.append(f"{_short(code.co_filename)}:{frame.f_lineno} {code.co_qualname}")
        awaited = _awaited_by(obj)
        if awaited is None:
            if getattr(obj, "cr_running", False) or getattr(obj, "gi_running", False):
                frames.append("(running)")  # e.g. the request rendering this page
            break
        obj = awaited
    return frames


def _frame_of(obj: Any) -> Any:
    for attr in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(obj, attr, None)
        if frame is not None:
            return frame
    return None


def _awaited_by(obj: Any) -> Any:
    for attr in ("cr_await", "gi_yieldfrom", "ag_await"):
        awaited = getattr(obj, attr, None)
        if awaited is not None:
            return awaited
    return None


def _describe(obj: Any) -> str:
    if isinstance(obj, asyncio.Task):
        return f"task {obj.get_name()}"
    kind = type(obj).__name__
    return "a future" if kind in ("FutureIter", "Future") else kind


def _short(filename: str) -> str:
    """A path from the package root: kubegate/..., asyncio/..., or the last two parts."""
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("kubegate", "asyncio", "site-packages"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            start = index + 1 if anchor == "site-packages" else index
            return "/".join(parts[start:])
    return "/".join(parts[-2:])


def _most_first(item: tuple[tuple[str, tuple[str, ...]], int]) -> tuple[int, str]:
    (name, _), count = item
    return (-count, name)
