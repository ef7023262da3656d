"""Certificates from `kubegate.auth.pki`: their shape, their chains, and real TLS handshakes."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import ssl
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from kubegate.auth import pki

_E = TypeVar("_E", bound=x509.ExtensionType)

ADVERTISE = "10.20.30.40"
HOSTS = [*pki.DEFAULT_SERVING_HOSTS, ADVERTISE, "api.example.test"]


@pytest.fixture(scope="module")
def ca() -> tuple[bytes, bytes]:
    return pki.generate_ca()


@pytest.fixture(scope="module")
def serving(ca: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    return pki.issue_serving_cert(*ca, hosts=HOSTS)


@pytest.fixture(scope="module")
def client(ca: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    return pki.issue_client_cert(*ca, user="jane", groups=["system:masters", "dev"])


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _ext(cert: x509.Certificate, kind: type[_E]) -> x509.Extension[_E]:
    return cert.extensions.get_extension_for_class(kind)


def _store(ca_pem: bytes) -> Store:
    return Store([_cert(ca_pem)])


# -- the CA -----------------------------------------------------------------------------------


def test_ca_is_a_critical_ca_with_cert_sign_usage(ca: tuple[bytes, bytes]) -> None:
    """The CA certificate carries CA:TRUE and keyCertSign/cRLSign, both critical."""
    cert = _cert(ca[0])
    constraints = _ext(cert, x509.BasicConstraints)
    usage = _ext(cert, x509.KeyUsage)
    assert constraints.critical and constraints.value.ca
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign


def test_ca_is_self_signed_with_subject_key_identifier(ca: tuple[bytes, bytes]) -> None:
    """The CA signs itself and names its key with an SKI derived from the public key."""
    cert = _cert(ca[0])
    cert.verify_directly_issued_by(cert)
    ski = _ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert cert.subject.rfc4514_string() == "CN=kubegate-ca"


def test_ca_key_is_unencrypted_ec_p256_pkcs8(ca: tuple[bytes, bytes]) -> None:
    """The CA key is a P-256 key in unencrypted PKCS#8 PEM."""
    key = serialization.load_pem_private_key(ca[1], password=None)
    assert ca[1].startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key.curve.name == "secp256r1"  # type: ignore[union-attr]


def test_ca_validity_follows_days() -> None:
    """`days` sets how long the CA is valid."""
    info = pki.load_cert_info(pki.generate_ca(days=10)[0])
    assert dt.timedelta(days=9) < info.not_after - dt.datetime.now(dt.UTC) <= dt.timedelta(days=10)


# -- serving certificates ---------------------------------------------------------------------


def test_serving_cert_puts_ips_in_ip_sans_and_names_in_dns_sans(
    serving: tuple[bytes, bytes],
) -> None:
    """IP-looking hosts become iPAddress SANs and the rest dNSName SANs."""
    san = _ext(_cert(serving[0]), x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address(ADVERTISE),
    }
    assert set(san.get_values_for_type(x509.DNSName)) == {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "api.example.test",
    }


def test_serving_cert_is_for_server_auth_only(serving: tuple[bytes, bytes]) -> None:
    """The serving certificate's extended key usage is exactly serverAuth."""
    eku = _ext(_cert(serving[0]), x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_serving_cert_names_the_ca_key(
    ca: tuple[bytes, bytes], serving: tuple[bytes, bytes]
) -> None:
    """The serving certificate's AKI equals the CA's SKI."""
    aki = _ext(_cert(serving[0]), x509.AuthorityKeyIdentifier).value
    ski = _ext(_cert(ca[0]), x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_serving_cert_is_not_a_ca(serving: tuple[bytes, bytes]) -> None:
    """A leaf certificate cannot sign other certificates."""
    cert = _cert(serving[0])
    assert not _ext(cert, x509.BasicConstraints).value.ca
    assert not _ext(cert, x509.KeyUsage).value.key_cert_sign


@pytest.mark.parametrize(
    "subject",
    [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes.default.svc"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.IPAddress(ipaddress.ip_address(ADVERTISE)),
    ],
)
def test_serving_chain_verifies_for_each_host(
    ca: tuple[bytes, bytes],
    serving: tuple[bytes, bytes],
    subject: x509.DNSName | x509.IPAddress,
) -> None:
    """A WebPKI-style verifier accepts the serving certificate for every requested host."""
    if isinstance(subject, x509.DNSName):
        name: verification.Subject = verification.DNSName(subject.value)
    else:
        name = verification.IPAddress(subject.value)
    verifier = PolicyBuilder().store(_store(ca[0])).build_server_verifier(name)
    chain = verifier.verify(_cert(serving[0]), [])
    assert chain[-1] == _cert(ca[0])


def test_serving_chain_rejects_an_unlisted_host(
    ca: tuple[bytes, bytes], serving: tuple[bytes, bytes]
) -> None:
    """A host that is not among the SANs fails verification."""
    verifier = (
        PolicyBuilder()
        .store(_store(ca[0]))
        .build_server_verifier(verification.DNSName("evil.example"))
    )
    with pytest.raises(VerificationError):
        verifier.verify(_cert(serving[0]), [])


def test_serving_chain_rejects_another_ca(serving: tuple[bytes, bytes]) -> None:
    """The serving certificate does not verify against an unrelated CA."""
    other_ca = pki.generate_ca()[0]
    verifier = (
        PolicyBuilder()
        .store(_store(other_ca))
        .build_server_verifier(verification.DNSName("localhost"))
    )
    with pytest.raises(VerificationError):
        verifier.verify(_cert(serving[0]), [])


def test_serving_cert_without_hosts_is_refused(ca: tuple[bytes, bytes]) -> None:
    """Issuing a serving certificate for no host at all is an error."""
    with pytest.raises(pki.PKIError):
        pki.issue_serving_cert(*ca, hosts=[])


# -- client certificates ----------------------------------------------------------------------


def test_client_cert_encodes_user_as_cn_and_groups_as_o(client: tuple[bytes, bytes]) -> None:
    """CN is the user and each group is its own O attribute, in order."""
    subject = _cert(client[0]).subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["jane"]
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters",
        "dev",
    ]


def test_client_cert_is_for_client_auth_only(client: tuple[bytes, bytes]) -> None:
    """The client certificate's extended key usage is exactly clientAuth."""
    eku = _ext(_cert(client[0]), x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_client_cert_chain_verifies(ca: tuple[bytes, bytes], client: tuple[bytes, bytes]) -> None:
    """A client-certificate verifier accepts the certificate against the CA.

    Kubernetes client certificates carry no subjectAltName, which the WebPKI profile would
    demand, so the leaf policy allows its absence as Go's crypto/x509 does.
    """
    ee_policy = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
    )
    verifier = (
        PolicyBuilder()
        .store(_store(ca[0]))
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy
        )
        .build_client_verifier()
    )
    verified = verifier.verify(_cert(client[0]), [])
    assert verified.chain[-1] == _cert(ca[0])


def test_client_cert_without_groups_has_only_cn(ca: tuple[bytes, bytes]) -> None:
    """A user without groups gets a subject of just CN."""
    cert_pem, _ = pki.issue_client_cert(*ca, user="bob")
    assert _cert(cert_pem).subject.rfc4514_string() == "CN=bob"


@pytest.mark.parametrize(("user", "groups"), [("", []), ("bob", ["ok", ""])])
def test_client_cert_rejects_empty_names(
    ca: tuple[bytes, bytes], user: str, groups: list[str]
) -> None:
    """An empty user or group name is refused rather than encoded."""
    with pytest.raises(pki.PKIError):
        pki.issue_client_cert(*ca, user=user, groups=groups)


# -- a real TLS handshake ---------------------------------------------------------------------


def _handshake(server: ssl.SSLObject, client: ssl.SSLObject, bios: list[ssl.MemoryBIO]) -> None:
    """Drive both ends of an in-memory TLS handshake to completion."""
    server_in, server_out, client_in, client_out = bios
    done = {"server": False, "client": False}
    for _ in range(20):
        for side, obj in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
            server_in.write(client_out.read())
            client_in.write(server_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


def _contexts(
    tmp_path: Path, ca: tuple[bytes, bytes], serving: tuple[bytes, bytes]
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    (tmp_path / "s.crt").write_bytes(serving[0])
    (tmp_path / "s.key").write_bytes(serving[1])
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
    server_ctx.load_verify_locations(cadata=ca[0].decode())
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cadata=ca[0].decode())
    return server_ctx, client_ctx


def _wrap(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, host: str
) -> tuple[ssl.SSLObject, ssl.SSLObject, list[ssl.MemoryBIO]]:
    bios = [ssl.MemoryBIO() for _ in range(4)]
    server = server_ctx.wrap_bio(bios[0], bios[1], server_side=True)
    client = client_ctx.wrap_bio(bios[2], bios[3], server_hostname=host)
    return server, client, bios


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", ADVERTISE])
def test_tls_handshake_with_client_cert_authenticates_both_ends(
    tmp_path: Path,
    ca: tuple[bytes, bytes],
    serving: tuple[bytes, bytes],
    client: tuple[bytes, bytes],
    host: str,
) -> None:
    """Python's ssl verifies the serving cert for each host and the server sees the client CN."""
    server_ctx, client_ctx = _contexts(tmp_path, ca, serving)
    (tmp_path / "c.crt").write_bytes(client[0])
    (tmp_path / "c.key").write_bytes(client[1])
    client_ctx.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    server, client_obj, bios = _wrap(server_ctx, client_ctx, host)
    _handshake(server, client_obj, bios)
    client_obj.write(b"x")
    bios[0].write(bios[3].read())
    assert server.read(1) == b"x"
    peer = server.getpeercert()
    assert peer is not None
    subject = [attribute for rdn in peer["subject"] for attribute in rdn]
    assert ("commonName", "jane") in subject
    assert ("organizationName", "dev") in subject


def test_tls_handshake_rejects_a_client_cert_from_another_ca(
    tmp_path: Path, ca: tuple[bytes, bytes], serving: tuple[bytes, bytes]
) -> None:
    """The server refuses a client certificate that does not chain to its CA."""
    server_ctx, client_ctx = _contexts(tmp_path, ca, serving)
    rogue_cert, rogue_key = pki.issue_client_cert(*pki.generate_ca(), user="mallory")
    (tmp_path / "r.crt").write_bytes(rogue_cert)
    (tmp_path / "r.key").write_bytes(rogue_key)
    client_ctx.load_cert_chain(tmp_path / "r.crt", tmp_path / "r.key")
    server, client_obj, bios = _wrap(server_ctx, client_ctx, "localhost")
    with pytest.raises(ssl.SSLError):
        _handshake(server, client_obj, bios)
        client_obj.write(b"x")
        bios[0].write(bios[3].read())
        server.read(1)


# -- helpers ----------------------------------------------------------------------------------


def test_load_cert_info_reports_names_expiry_and_fingerprint(
    serving: tuple[bytes, bytes],
) -> None:
    """CertInfo summarises SANs, validity and the DER SHA-256 fingerprint."""
    info = pki.load_cert_info(serving[0])
    der = _cert(serving[0]).public_bytes(serialization.Encoding.DER)
    assert info.subject_common_name == "kubegate"
    assert not info.is_ca
    assert "127.0.0.1" in info.ip_addresses and "localhost" in info.dns_names
    assert info.fingerprint_sha256 == hashlib.sha256(der).hexdigest() == pki.fingerprint(serving[0])
    assert info.not_before < dt.datetime.now(dt.UTC) < info.not_after


def test_expires_within_compares_against_the_window(serving: tuple[bytes, bytes]) -> None:
    """A one-year certificate is not expiring within 30 days, but is within 400."""
    info = pki.load_cert_info(serving[0])
    assert not info.expires_within(dt.timedelta(days=30))
    assert info.expires_within(dt.timedelta(days=400))


@pytest.mark.parametrize(
    ("hosts", "dns", "ips"),
    [
        (["127.0.0.1", "LocalHost"], ("localhost",), ("127.0.0.1",)),
        (["[::1]", "0:0::1"], (), ("::1",)),
        (["a.example", "a.example", "10.0.0.1"], ("a.example",), ("10.0.0.1",)),
        (["fe80::1"], (), ("fe80::1",)),
    ],
)
def test_split_hosts_sorts_canonicalises_and_deduplicates(
    hosts: list[str], dns: tuple[str, ...], ips: tuple[str, ...]
) -> None:
    """Hosts split into DNS names and canonical IPs, brackets and duplicates removed."""
    assert pki.split_hosts(hosts) == (dns, ips)


def test_split_hosts_rejects_empty_host() -> None:
    """An empty host cannot become a SAN."""
    with pytest.raises(pki.PKIError):
        pki.split_hosts(["[]"])


@pytest.mark.parametrize(
    ("hosts", "covered"),
    [
        (["127.0.0.1", "LOCALHOST"], True),
        (["[::1]", ADVERTISE], True),
        (["10.9.9.9"], False),
        (["other.example"], False),
    ],
)
def test_covers_hosts(serving: tuple[bytes, bytes], hosts: list[str], covered: bool) -> None:
    """A certificate covers hosts exactly when each is among its SANs."""
    assert pki.covers_hosts(pki.load_cert_info(serving[0]), hosts) is covered


def test_is_issued_by_checks_the_signature(
    ca: tuple[bytes, bytes], serving: tuple[bytes, bytes]
) -> None:
    """A certificate is issued by its CA and not by an unrelated one."""
    assert pki.is_issued_by(serving[0], ca[0])
    assert not pki.is_issued_by(serving[0], pki.generate_ca()[0])


def test_key_matches_cert(serving: tuple[bytes, bytes], client: tuple[bytes, bytes]) -> None:
    """A key matches its own certificate only."""
    assert pki.key_matches_cert(serving[1], serving[0])
    assert not pki.key_matches_cert(client[1], serving[0])


def test_generate_private_key_is_p256() -> None:
    """Standalone keys (service-account signing) are P-256."""
    key = serialization.load_pem_private_key(pki.generate_private_key(), password=None)
    assert key.curve.name == "secp256r1"  # type: ignore[union-attr]


def test_garbage_pem_raises_pki_error(ca: tuple[bytes, bytes]) -> None:
    """Unparsable input becomes PKIError, not a cryptography exception."""
    with pytest.raises(pki.PKIError):
        pki.load_cert_info(b"not a certificate")
    with pytest.raises(pki.PKIError):
        pki.issue_client_cert(ca[0], b"not a key", user="x")


def test_an_operator_supplied_rsa_ca_can_issue(tmp_path: Path) -> None:
    """An RSA CA without an SKI still issues verifiable certificates with an AKI."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corp-ca")])
    now = dt.datetime.now(dt.UTC)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    cert_pem, _ = pki.issue_serving_cert(ca_pem, key_pem, hosts=["localhost"])
    assert pki.is_issued_by(cert_pem, ca_pem)
    assert _ext(_cert(cert_pem), x509.AuthorityKeyIdentifier).value.key_identifier
