"""ServingTLS: when a new context is built from changed files, and when it is refused."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import trustme

from kubegate.server.tls_reload import ServingTLS


def write_pair(directory: Path, leaf: trustme.LeafCert) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    for path, data in (
        (key, leaf.private_key_pem.bytes()),
        (cert, leaf.cert_chain_pems[0].bytes()),
    ):
        tmp = path.with_suffix(".new")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # a new inode, as a real rotation
    return cert, key


def serving(directory: Path, ca: trustme.CA) -> ServingTLS:
    cert, key = write_pair(directory, ca.issue_cert("127.0.0.1"))

    def build() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    return ServingTLS(build, [cert, key], cert_file=cert, interval=0)


def connection_context(tls: ServingTLS) -> ssl.SSLContext:
    """The context the listener gives the next accepted connection."""
    sslobj = tls.listener_context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
    return sslobj.context


def test_unchanged_files_keep_the_context(tmp_path: Path) -> None:
    """No change, no rebuild: the next connection is made from the same context."""
    tls = serving(tmp_path, trustme.CA())
    before = tls.current
    assert tls.check() is False
    assert tls.current is before and connection_context(tls) is before


def test_replaced_pair_becomes_current(tmp_path: Path) -> None:
    """A new valid pair is a new current context, which the next connection is made from
    (a fresh context: its session cache holds none of the old context's sessions)."""
    ca = trustme.CA()
    tls = serving(tmp_path, ca)
    before = tls.current
    write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
    assert tls.check() is True
    assert tls.current is not before and tls.reloads == 1
    assert connection_context(tls) is tls.current


def test_mismatched_key_is_refused_and_counted(tmp_path: Path) -> None:
    """A certificate without its key keeps the old context and counts a failure; the
    key arriving later completes the rotation."""
    ca = trustme.CA()
    tls = serving(tmp_path, ca)
    before = tls.current
    new = ca.issue_cert("127.0.0.1")
    (tmp_path / "tls.crt").write_bytes(new.cert_chain_pems[0].bytes())
    assert tls.check() is False
    assert tls.current is before and tls.failures == 1
    (tmp_path / "tls.key").write_bytes(new.private_key_pem.bytes())
    assert tls.check() is True


def test_a_failed_change_is_not_retried_until_the_files_change_again(tmp_path: Path) -> None:
    """One error per change: polling unchanged broken files does not log again."""
    tls = serving(tmp_path, trustme.CA())
    (tmp_path / "tls.crt").write_bytes(b"garbage")
    assert tls.check() is False
    assert tls.check() is False
    assert tls.failures == 1


def test_session_tickets_are_off(tmp_path: Path) -> None:
    """Connections issue no TLS 1.3 tickets and refuse TLS 1.2 ones, after a reload too."""
    ca = trustme.CA()
    tls = serving(tmp_path, ca)
    write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
    assert tls.check() is True
    context = connection_context(tls)
    assert context.num_tickets == 0
    assert context.options & ssl.OP_NO_TICKET
