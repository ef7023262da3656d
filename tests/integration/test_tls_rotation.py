"""Certificate rotation without a restart: a real ``kubegate serve`` whose serving certificate,
key and client CA files are replaced while it runs, checked with real TLS handshakes."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme
from cryptography import x509

from integration.proxy.cluster import ServerProcess, start_server_process
from kubegate.auth import pki

RELOAD_INTERVAL = "0.1"  # --tls-reload-interval for these servers
WITHIN = 10.0  # seconds a change may take to show


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` the way cert-manager or a Secret volume does: a new inode, renamed."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def serial_of(pem_or_der: bytes) -> int:
    if pem_or_der.startswith(b"-----"):
        return x509.load_pem_x509_certificate(pem_or_der).serial_number
    return x509.load_der_x509_certificate(pem_or_der).serial_number


def wait_until(predicate: Callable[[], bool], what: str, within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass
class Rotating:
    """A running server on certificate files this test owns."""

    server: ServerProcess
    ca: trustme.CA  # issues the serving certificates
    cert: Path
    key: Path
    client_ca: Path

    @property
    def address(self) -> tuple[str, int]:
        url = urlsplit(self.server.url)
        return url.hostname or "", url.port or 0

    def client_context(self, client_cert: tuple[bytes, bytes] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca.cert_pem.bytes().decode())
        if client_cert is not None:
            directory = self.server.data_dir
            cert_path, key_path = directory / "client.crt", directory / "client.key"
            cert_path.write_bytes(client_cert[0])
            key_path.write_bytes(client_cert[1])
            context.load_cert_chain(cert_path, key_path)
        return context

    def presented_serial(self) -> int:
        """The serial number of the certificate a fresh handshake gets."""
        with (
            socket.create_connection(self.address, timeout=5) as raw,
            self.client_context().wrap_socket(raw, server_hostname=self.address[0]) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return serial_of(der)

    def issue_serving(self) -> trustme.LeafCert:
        return self.ca.issue_cert("127.0.0.1", "localhost")

    def install(self, leaf: trustme.LeafCert) -> None:
        write_atomically(self.key, leaf.private_key_pem.bytes())
        write_atomically(self.cert, leaf.cert_chain_pems[0].bytes())

    def whoami(self, client_cert: tuple[bytes, bytes]) -> str:
        """The user name a SelfSubjectReview reports for a request with ``client_cert``."""
        host, port = self.address
        conn = http.client.HTTPSConnection(
            host, port, context=self.client_context(client_cert), timeout=10
        )
        try:
            body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
            conn.request(
                "POST",
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                body=json.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            review = json.loads(response.read())
        finally:
            conn.close()
        assert response.status == 201, review
        return review["status"]["userInfo"]["username"]

    def log_mentions(self, text: str) -> bool:
        return any(text in line for line in list(self.server.output))


def client_ca_pair() -> tuple[bytes, bytes]:
    return pki.generate_ca("rotation-test-client-ca")


@pytest.fixture
def rotating(tmp_path: Path) -> Iterator[Rotating]:
    ca = trustme.CA()
    files = tmp_path / "tls"
    files.mkdir()
    cert, key, client_ca = files / "serving.crt", files / "serving.key", files / "client-ca.crt"
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    key.write_bytes(leaf.private_key_pem.bytes())
    cert.write_bytes(leaf.cert_chain_pems[0].bytes())
    client_ca.write_bytes(client_ca_pair()[0])
    server = start_server_process(
        tmp_path / "data",
        "--tls-cert-file",
        str(cert),
        "--tls-private-key-file",
        str(key),
        "--client-ca-file",
        str(client_ca),
        "--tls-reload-interval",
        RELOAD_INTERVAL,
    )
    try:
        yield Rotating(server, ca, cert, key, client_ca)
    finally:
        server.stop()


def test_next_handshake_presents_the_rotated_certificate(rotating: Rotating) -> None:
    """After the certificate and key files are replaced, a new connection gets the new one."""
    before = rotating.presented_serial()
    assert before == serial_of(rotating.cert.read_bytes())
    new = rotating.issue_serving()
    rotating.install(new)
    expected = serial_of(new.cert_chain_pems[0].bytes())
    wait_until(lambda: rotating.presented_serial() == expected, "the new certificate")


def test_open_connection_keeps_working_across_a_rotation(rotating: Rotating) -> None:
    """A keep-alive connection made before the rotation still serves requests after it."""
    host, port = rotating.address
    conn = http.client.HTTPSConnection(host, port, context=rotating.client_context(), timeout=10)
    try:
        conn.request("GET", "/version")
        assert conn.getresponse().read() and True
        old_serial = serial_of(conn.sock.getpeercert(binary_form=True))  # type: ignore[union-attr]
        new = rotating.issue_serving()
        rotating.install(new)
        expected = serial_of(new.cert_chain_pems[0].bytes())
        wait_until(lambda: rotating.presented_serial() == expected, "the new certificate")
        conn.request("GET", "/version")
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["major"]
        assert serial_of(conn.sock.getpeercert(binary_form=True)) == old_serial  # type: ignore[union-attr]
    finally:
        conn.close()


def test_key_not_matching_the_certificate_keeps_the_old_pair(rotating: Rotating) -> None:
    """A certificate whose key has not arrived yet is refused (logged); once the key follows,
    the pair is used."""
    before = rotating.presented_serial()
    new = rotating.issue_serving()
    write_atomically(rotating.cert, new.cert_chain_pems[0].bytes())  # the key lags behind
    wait_until(lambda: rotating.log_mentions("cannot be used"), "the reload error in the log")
    assert rotating.presented_serial() == before
    write_atomically(rotating.key, new.private_key_pem.bytes())
    expected = serial_of(new.cert_chain_pems[0].bytes())
    wait_until(lambda: rotating.presented_serial() == expected, "the completed pair")


def test_garbage_certificate_file_keeps_the_old_certificate(rotating: Rotating) -> None:
    """An unparsable certificate file is refused and the previous certificate keeps serving."""
    before = rotating.presented_serial()
    write_atomically(rotating.cert, b"-----BEGIN CERTIFICATE-----\nnot base64\n")
    wait_until(lambda: rotating.log_mentions("cannot be used"), "the reload error in the log")
    assert rotating.presented_serial() == before


def test_expired_certificate_is_not_rotated_in(rotating: Rotating) -> None:
    """A matching pair that has already expired is refused; the old certificate stays."""
    before = rotating.presented_serial()
    now = dt.datetime.now(dt.UTC)
    expired = rotating.ca.issue_cert(
        "127.0.0.1", not_before=now - dt.timedelta(days=10), not_after=now - dt.timedelta(days=1)
    )
    rotating.install(expired)
    wait_until(lambda: rotating.log_mentions("expired"), "the expiry error in the log")
    assert rotating.presented_serial() == before


def test_client_certificate_from_a_new_ca_is_accepted_only_after_ca_rotation(
    rotating: Rotating,
) -> None:
    """A client certificate signed by a CA not yet in --client-ca-file is refused at the
    handshake; once the file holds that CA, the same certificate authenticates its user."""
    new_ca_cert, new_ca_key = client_ca_pair()
    client = pki.issue_client_cert(new_ca_cert, new_ca_key, user="rotated-user")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        rotating.whoami(client)
    write_atomically(rotating.client_ca, new_ca_cert)

    def accepted() -> bool:
        try:
            return rotating.whoami(client) == "rotated-user"
        except (ssl.SSLError, ConnectionError):
            return False

    wait_until(accepted, "the client certificate to be accepted")


def test_client_ca_removed_from_the_file_stops_accepting_its_certificates(
    rotating: Rotating,
) -> None:
    """Replacing --client-ca-file without a CA makes new handshakes refuse that CA's certs."""
    old_ca_cert, old_ca_key = client_ca_pair()
    write_atomically(rotating.client_ca, old_ca_cert)
    client = pki.issue_client_cert(old_ca_cert, old_ca_key, user="leaving-user")

    def answer() -> str:
        try:
            return rotating.whoami(client)
        except (ssl.SSLError, ConnectionError):
            return "refused"

    wait_until(lambda: answer() == "leaving-user", "the CA to be trusted")
    write_atomically(rotating.client_ca, client_ca_pair()[0])
    wait_until(lambda: answer() == "refused", "the CA to be dropped")


def test_data_dir_serving_certificate_is_reloaded(tmp_path: Path) -> None:
    """Without --tls-cert-file, re-issuing the data dir's serving certificate is picked up."""
    server = start_server_process(tmp_path / "data", "--tls-reload-interval", RELOAD_INTERVAL)
    try:
        data = tmp_path / "data"
        url = urlsplit(server.url)
        address = (url.hostname or "", url.port or 0)
        ca = (data / "ca.crt").read_bytes()
        cert, key = pki.issue_serving_cert(ca, (data / "ca.key").read_bytes(), hosts=["127.0.0.1"])
        write_atomically(data / "serving.key", key)
        write_atomically(data / "serving.crt", cert)
        context = ssl.create_default_context(cadata=ca.decode())

        def presented() -> int:
            with (
                socket.create_connection(address, timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=address[0]) as tls,
            ):
                return serial_of(tls.getpeercert(binary_form=True) or b"")

        wait_until(lambda: presented() == serial_of(cert), "the re-issued certificate")
    finally:
        server.stop()


def tls12_client(rotating: Rotating, client_cert: tuple[bytes, bytes]) -> ssl.SSLContext:
    """A client context with ``client_cert`` that speaks TLS 1.2 at most (session-ID
    resumption is TLS 1.2's; a session can only be offered again through its own context)."""
    context = rotating.client_context(client_cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def whoami_over(
    rotating: Rotating, context: ssl.SSLContext, session: ssl.SSLSession | None = None
) -> tuple[str, ssl.SSLSession | None, bool]:
    """A SelfSubjectReview on one connection offering ``session`` for resumption: the user
    it reports, the connection's session, and whether the server resumed it."""
    host, port = rotating.address
    body = b'{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host, session=session) as tls,
    ):
        tls.sendall(
            b"POST /apis/authentication.k8s.io/v1/selfsubjectreviews HTTP/1.1\r\n"
            b"Host: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (host.encode(), port, len(body), body)
        )
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.split(b" ", 2)[1] == b"201", head
        user = json.loads(payload)["status"]["userInfo"]["username"]
        return user, tls.session, tls.session_reused


def test_tls12_session_from_before_a_client_ca_removal_is_not_resumed(
    rotating: Rotating,
) -> None:
    """A TLS 1.2 session made with a client certificate whose CA is then removed from
    --client-ca-file cannot be resumed to authenticate as that certificate's user."""
    old_ca_cert, old_ca_key = client_ca_pair()
    write_atomically(rotating.client_ca, old_ca_cert)
    client = tls12_client(
        rotating, pki.issue_client_cert(old_ca_cert, old_ca_key, user="leaving-user")
    )

    def trusted() -> bool:
        try:
            return whoami_over(rotating, client)[0] == "leaving-user"
        except (ssl.SSLError, ConnectionError):
            return False

    wait_until(trusted, "the CA to be trusted")
    _, session, _ = whoami_over(rotating, client)
    # The control: before the removal the server does resume this session.
    assert whoami_over(rotating, client, session)[::2] == ("leaving-user", True)
    write_atomically(rotating.client_ca, client_ca_pair()[0])
    wait_until(lambda: not trusted(), "the CA to be dropped")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        whoami_over(rotating, client, session)
