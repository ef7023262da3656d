"""Relaying a backend's answer to the client: the steps kubegate's three HTTP relays share.

The proxy subresources (proxy/handler.py), mirror mode's via-apiserver proxy
(server/mirror_proxy.py) and the local proxy (client/api_forwarder.py) each pick their own
header policy, error answers and log; they pass those in, and the steps are here:

- :func:`relay_response`: a complete, small answer goes out in one write (head and body);
  anything else is started, streamed with back-pressure and ended. Once the answer has
  started, a failing backend can only cut it short (``ConnectionAbortedError`` closes the
  client connection), never send a second header block (STYLE.md habit 3).
- :func:`relay_upgrade`: a backend's 101 is passed on and the two connections become one
  byte tunnel; any other answer to an upgrade is relayed and the connection closed.

Both take the backend's answer after ``UpstreamPool.request``/``upgrade`` returned it: what a
failure to get one means (a Status, kubectl's 500) stays with the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kubegate.http.client import UpgradeResult, UpstreamError
from kubegate.http.client_response import UpstreamResponse
from kubegate.http.tunnel import tunnel
from kubegate.http.types import Headers, ResponseWriter

__all__ = [
    "UPSTREAM_ERRORS_KEY",
    "BodySender",
    "DownstreamHeaders",
    "note_upstream_error",
    "relay_response",
    "relay_upgrade",
]

# request.state key: the kinds of the backend failures met, every one (read by the server's
# metrics as kubegate_proxy_upstream_errors_total).
UPSTREAM_ERRORS_KEY = "proxy_upstream_errors"

BodySender = Callable[[ResponseWriter, UpstreamResponse, int, Headers], Awaitable[None]]
"""Sends an answer's head and body some other way (e.g. rewritten): (response, upstream,
status, headers)."""


class DownstreamHeaders(Protocol):
    """A relay's header policy: the backend's fields -> the fields the client gets."""

    def __call__(self, headers: Headers, *, upgrade: bool) -> Headers: ...


def note_upstream_error(state: dict[str, Any], exc: UpstreamError) -> None:
    """Record a backend failure in a request's ``state`` for the server's metrics."""
    state.setdefault(UPSTREAM_ERRORS_KEY, []).append(exc.kind)


async def relay_response(
    response: ResponseWriter,
    upstream: UpstreamResponse,
    headers: Headers,
    *,
    head: bool,
    whole_max: int,
    log: logging.Logger,
    upstream_name: str,
    errors_state: dict[str, Any] | None = None,
    send_body: BodySender | None = None,
) -> None:
    """Send ``upstream``'s answer with ``headers`` (already the client's), then close it.

    ``head``: the request was HEAD (no body follows whatever the fields say). A complete
    answer of at most ``whole_max`` bytes is sent in one write. ``send_body`` replaces the
    plain relay of head and body. A backend failure after this started is logged on ``log``
    as ``upstream_name``'s, noted in ``errors_state`` if given, and raised as
    ``ConnectionAbortedError`` so that the connection closes.
    """
    status = upstream.status
    try:
        if send_body is not None:
            await send_body(response, upstream, status, headers)
            return
        if (
            upstream.complete
            and upstream.buffered <= whole_max
            and not head
            and status not in (204, 304)
        ):
            # The whole (small) body is already here: head and body in one write.
            body = (
                upstream.take(whole_max + 1)  # (no coroutine for the usual case)
                if upstream.settled
                else await upstream.read(whole_max + 1)
            )
            await response.send(status, headers, body)
            return
        await response.start(status, headers, length=upstream.length)
        async for chunk in upstream:
            await response.write(chunk)
        await response.end()
    except UpstreamError as exc:
        if errors_state is not None:
            note_upstream_error(errors_state, exc)
        # Started: the only honest signal left is cutting the response short.
        log.info("%s failed mid-response: %s", upstream_name, exc)
        raise ConnectionAbortedError(str(exc)) from exc
    finally:
        if upstream.settled:
            upstream.close()  # (what aclose() does then, without a coroutine)
        else:
            await upstream.aclose()


async def relay_upgrade(
    response: ResponseWriter,
    result: UpgradeResult,
    downstream_headers: DownstreamHeaders,
    *,
    idle_timeout: float,
    closing: asyncio.Event,
    refuse: Callable[[int], Exception] | None = None,
    close_field: tuple[str, str] = ("connection", "close"),
) -> tuple[int, int] | None:
    """Pass on the backend's answer to an upgrade request.

    A 101 is sent on with ``downstream_headers(..., upgrade=True)`` and the client's and the
    backend's connections are tunnelled until either ends (``idle_timeout``, ``closing``);
    returns the bytes copied each way (client -> backend, backend -> client). Any other
    answer is relayed with ``close_field`` (the caller's spelling of ``Connection: close``)
    and None returned — unless ``refuse`` is given and the status is below 400: then
    ``refuse(status)`` is raised instead, as kube's tryUpgrade does, so that neither a
    redirect (CVE-2020-8559) nor a 2xx with its Location and body reaches the client.
    """
    transport = result.transport
    if result.status != 101 or transport is None:
        if refuse is not None and result.status < 400:
            raise refuse(result.status)
        headers = downstream_headers(result.headers, upgrade=False)
        headers.append(close_field)
        await response.send(result.status, headers, result.body)
        return None
    try:
        await response.start(101, downstream_headers(result.headers, upgrade=True))
        client, client_buffered = await response.detach()
    except BaseException:
        transport.close()
        raise
    return await tunnel(
        client,
        client_buffered,
        transport,
        result.buffered,
        idle_timeout=idle_timeout,
        closing=closing,
    )
