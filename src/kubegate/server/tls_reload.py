"""Serving TLS that follows its files: certificate, key and client-CA rotation without a restart.

The listener is created once with one ``SSLContext``; what a handshake uses can still change.
``ServingTLS`` polls the files behind the context (the serving certificate and key —
``--tls-cert-file``/``--tls-private-key-file`` or the data dir's — the data dir's CA and
``--client-ca-file``) every ``interval`` seconds, comparing mtime, size and inode (so an
atomic rename and a Kubernetes Secret volume's ``..data`` symlink swap are both seen, as
kube-apiserver's dynamic serving-certificate controller sees them). When one changed, a new
context is built from all of them and validated before it is used:

- the key must match the certificate, and every file must parse (``load_cert_chain`` and
  ``load_verify_locations`` check both);
- the certificate must be valid now (not yet valid or expired material is refused).

A new context that fails is not used: the previous one keeps serving, the error is logged
(once per change of the files) and counted, and the next change is tried again — so a
certificate written before its key is picked up as soon as the key follows.

Swapping: the listener is given a ``ListenerContext``, an ``SSLContext`` whose
``wrap_bio`` — what asyncio's and uvloop's TLS transports call once per accepted connection —
makes the connection's ``SSLObject`` from the newest context. The next handshake therefore
presents the new certificate, verifies client certificates against the new CAs and uses
the new context's session cache. Connections already established keep the context they
were made with; nothing is closed.

Session resumption: the contexts never issue TLS 1.3 session tickets (``num_tickets = 0``)
and refuse TLS 1.2 ones (``OP_NO_TICKET``). TLS 1.2 session-ID resumption stays on, but a
session lives in the cache of the context that made it: OpenSSL looks a session ID up in
the cache of the context the connection was created from (its ``session_ctx``; switching
contexts later, as an SNI callback does, changes neither that cache nor the fact that the
lookup runs before the callback), and a resumed session skips certificate verification,
carrying the client certificate verified when it was made. Because every reload builds a
fresh context and new connections are created from it, a session made before the reload
is unknown to every later handshake: a client whose CA was removed gets a full handshake,
and its certificate is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path

from kubegate.auth import pki
from kubegate.server.datadir import DataDir, build_ssl_context

log = logging.getLogger("kubegate.tls")

Signature = tuple[tuple[int, int, int] | None, ...]


class ServingTLS:
    """The serving ``SSLContext`` for a listener, reloaded when its files change."""

    def __init__(
        self,
        build: Callable[[], ssl.SSLContext],
        files: Sequence[Path],
        *,
        cert_file: Path,
        interval: float = 5.0,
    ) -> None:
        self._build = build
        self._files = tuple(files)
        self._cert_file = cert_file
        self.interval = interval
        self._signature = self._stat()
        self.current = build()  # errors here stop the start-up
        _no_session_tickets(self.current)
        self.listener_context: ssl.SSLContext = ListenerContext(self)
        self.reloads = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    # -- polling ----------------------------------------------------------------------------

    def start(self) -> None:
        """Poll the files every ``interval`` seconds (``interval`` 0: never)."""
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._poll(), name="kubegate-tls-reload"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()

    def check(self) -> bool:
        """Reload if a file changed since the last look; whether a new context is in use."""
        signature = self._stat()
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            context = self._build()
            _check_validity(self._cert_file)
        except (OSError, ssl.SSLError, ValueError, RuntimeError) as exc:
            # (the data dir's loader wraps OSError/SSLError in DataDirError, a RuntimeError)
            self.failures += 1
            log.error(
                "TLS files changed but cannot be used; still serving the previous certificate: %s",
                exc,
            )
            return False
        _no_session_tickets(context)
        self.current = context  # a fresh context: the old one's sessions are not reachable
        self.reloads += 1
        log.info("reloaded the serving certificate and client CAs from %s", self._cert_file)
        return True

    def _stat(self) -> Signature:
        found: list[tuple[int, int, int] | None] = []
        for path in self._files:
            try:
                st = os.stat(path)  # follows symlinks: a re-pointed ..data link is a change
            except OSError:
                found.append(None)
            else:
                found.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(found)


def serving_tls(
    datadir: DataDir,
    *,
    client_ca: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
    interval: float,
) -> ServingTLS:
    """The reloading serving TLS of ``kubegate serve``: the files ``build_ssl_context`` reads."""
    cert = cert_file or datadir.serving_cert
    files = [cert, key_file or datadir.serving_key, datadir.ca_cert]
    if client_ca is not None:
        files.append(client_ca)
    build = functools.partial(
        build_ssl_context, datadir, client_ca=client_ca, cert_file=cert_file, key_file=key_file
    )
    return ServingTLS(build, files, cert_file=cert, interval=interval)


class ListenerContext(ssl.SSLContext):
    """The listener's context: each connection is made from ``ServingTLS.current``.

    Only ``wrap_bio`` is used by the event loop's TLS transports for accepted connections;
    this object's own certificate and settings are never used in a handshake."""

    serving: ServingTLS

    def __new__(cls, serving: ServingTLS) -> ListenerContext:
        self = super().__new__(cls, ssl.PROTOCOL_TLS_SERVER)
        self.serving = serving
        return self

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return self.serving.current.wrap_bio(
            incoming,
            outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
            session=session,
        )


def _no_session_tickets(context: ssl.SSLContext) -> None:
    context.options |= ssl.OP_NO_TICKET
    with contextlib.suppress(AttributeError, ValueError):
        context.num_tickets = 0


def _check_validity(cert_file: Path) -> None:
    info = pki.load_cert_info(cert_file.read_bytes())
    now = dt.datetime.now(dt.UTC)
    if info.not_after <= now:
        raise ValueError(
            f"{cert_file}: the certificate expired at {info.not_after:%Y-%m-%dT%H:%M:%SZ}"
        )
    if info.not_before > now + dt.timedelta(minutes=5):  # a little clock skew is tolerated
        raise ValueError(
            f"{cert_file}: the certificate is not valid before {info.not_before:%Y-%m-%dT%H:%M:%SZ}"
        )
