"""Zero-downtime restart with --reuse-port: a new kubegate binds the port the old one
listens on, the old one drains on SIGTERM, and a client hammering the port meanwhile loses
no request.

What "loses no request" means here, precisely: every request that got any byte of an answer
got a 200. A request that got no byte at all — its connection was refused or reset before
or during the TLS handshake, or closed by a draining server before the request was read —
was never processed by any server (kubegate only closes a connection before reading a
request or after answering it), and is sent again, as HTTP clients do for idempotent
requests; such retries are counted and reported, not hidden.
"""

from __future__ import annotations

import http.client
import json
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from integration.proxy.cluster import ServerProcess, start_server_process

WORKERS = 4
LOAD_AFTER_EXIT = 1.0  # seconds of load against the new server alone
IO_TIMEOUT = 10.0


@dataclass
class Tally:
    answered: Counter[str] = field(default_factory=Counter)  # namespace uid -> 200s
    failures: list[str] = field(default_factory=list)
    unsent_retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def one_request(address: tuple[str, int], context: ssl.SSLContext, token: str) -> tuple[int, bytes]:
    """GET the default namespace on a fresh connection; (status, body), or raise
    NeverAnswered when no byte of an answer arrived."""
    conn = http.client.HTTPSConnection(*address, context=context, timeout=IO_TIMEOUT)
    try:
        try:
            conn.connect()  # TCP and the TLS handshake
        except (OSError, ssl.SSLError) as exc:
            raise NeverAnswered(exc) from exc
        try:
            conn.request(
                "GET", "/api/v1/namespaces/default", headers={"Authorization": f"Bearer {token}"}
            )
            response = conn.getresponse()
        except (
            http.client.RemoteDisconnected,
            BrokenPipeError,
            ConnectionResetError,
            ssl.SSLEOFError,
        ) as exc:
            # getresponse raises RemoteDisconnected only when the status line never began,
            # and a reset before it began loses nothing either; nor does a TLS connection a
            # draining server closed, handshake done but no request read yet, without a
            # close_notify (SSLEOFError while sending the request or awaiting its status
            # line: the body is read below, outside this block).
            raise NeverAnswered(exc) from exc
        return response.status, response.read()
    finally:
        conn.close()


class NeverAnswered(Exception):
    """Not one byte of an answer arrived: the request was not processed."""


def hammer(
    address: tuple[str, int],
    context: ssl.SSLContext,
    token: str,
    tally: Tally,
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        try:
            status, body = one_request(address, context, token)
        except NeverAnswered:
            with tally.lock:
                tally.unsent_retries += 1
            continue
        except Exception as exc:  # an answer began and broke: a lost request
            with tally.lock:
                tally.failures.append(repr(exc))
            continue
        with tally.lock:
            if status == 200:
                tally.answered[json.loads(body)["metadata"]["uid"]] += 1
            else:
                tally.failures.append(f"status {status}")


def uid_of(server: ServerProcess, context: ssl.SSLContext, token: str) -> str:
    url = urlsplit(server.url)
    status, body = one_request((url.hostname or "", url.port or 0), context, token)
    assert status == 200
    return json.loads(body)["metadata"]["uid"]


def test_sigterm_handover_to_a_new_process_on_the_same_port_loses_no_request(
    tmp_path: Path,
) -> None:
    """Old and new kubegate share the port; SIGTERM to the old one under load gives zero
    failed requests, and the new one serves afterwards."""
    data_dir = tmp_path / "data"
    old = start_server_process(data_dir, "--reuse-port", "--shutdown-grace", "10")
    new: ServerProcess | None = None
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        url = urlsplit(old.url)
        address = (url.hostname or "", url.port or 0)
        context = ssl.create_default_context(cafile=str(data_dir / "ca.crt"))
        token = (data_dir / "admin.token").read_text().strip()
        old_uid = uid_of(old, context, token)
        tally = Tally()
        threads = [
            threading.Thread(target=hammer, args=(address, context, token, tally, stop))
            for _ in range(WORKERS)
        ]
        for thread in threads:
            thread.start()
        new = start_server_process(
            data_dir, "--reuse-port", "--secure-port", str(address[1]), "--shutdown-grace", "10"
        )
        assert urlsplit(new.url).port == address[1]
        deadline = time.monotonic() + IO_TIMEOUT
        while tally.answered[old_uid] < 20:  # the old one is still taking its share
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert old.stop(signal.SIGTERM) == 0
        after_exit = sum(tally.answered.values())
        time.sleep(LOAD_AFTER_EXIT)  # load against the new process alone
        stop.set()
        for thread in threads:
            thread.join(IO_TIMEOUT)
        assert tally.failures == []
        new_uids = set(tally.answered) - {old_uid}
        assert len(new_uids) == 1, "the new process never answered"
        assert sum(tally.answered.values()) > after_exit  # served on after the old one left
        print(
            f"answered: {dict(tally.answered)}; retried without an answer: {tally.unsent_retries}"
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(IO_TIMEOUT)
        old.stop()
        if new is not None:
            new.stop()


def test_without_reuse_port_a_second_process_cannot_bind(tmp_path: Path) -> None:
    """Without --reuse-port the second bind fails: the flag is what makes the handover work."""
    first = start_server_process(tmp_path / "a")
    try:
        port = str(urlsplit(first.url).port)
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "kubegate.cli.main",
                "serve",
                "--secure-port",
                port,
                "--data-dir",
                str(tmp_path / "b"),
                "--store",
                "memory:",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "address already in use" in second.stderr.lower()
    finally:
        first.stop()


def test_shutdown_delay_serves_on_while_not_ready(tmp_path: Path) -> None:
    """With --shutdown-delay-duration, SIGTERM turns /readyz to 503 while requests are still
    answered; after the delay the server drains and exits 0."""
    data_dir = tmp_path / "data"
    server = start_server_process(data_dir, "--shutdown-delay-duration", "3s")
    try:
        url = urlsplit(server.url)
        address = (url.hostname or "", url.port or 0)
        context = ssl.create_default_context(cafile=str(data_dir / "ca.crt"))
        token = (data_dir / "admin.token").read_text().strip()

        def status(path: str) -> int:
            conn = http.client.HTTPSConnection(*address, context=context, timeout=IO_TIMEOUT)
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                response.read()
                return response.status
            finally:
                conn.close()

        assert status("/readyz") == 200
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while status("/readyz") != 503:
            assert time.monotonic() < deadline, "/readyz stayed ready after SIGTERM"
            time.sleep(0.02)
        assert status("/api/v1/namespaces/default") == 200  # still serving, not ready
        assert server.proc.wait(IO_TIMEOUT + 5) == 0
    finally:
        server.stop()
