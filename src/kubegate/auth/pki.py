"""X.509 material for kubegate: a self-signed CA, serving certificates and client certificates.

Everything here is a pure function over PEM bytes; writing files (atomically, keys 0600) is the
data directory's job (`kubegate.server.datadir`). Keys are EC P-256, like kubeadm's default
ECDSA option, which every client we care about (Go's crypto/tls, OpenSSL, browsers) accepts.

Certificate shapes mirror what kubeadm issues:

- the CA has basicConstraints CA:TRUE (critical), keyUsage keyCertSign|cRLSign (critical) and a
  subjectKeyIdentifier;
- a serving certificate carries every host as a subjectAltName (IP entries for addresses, DNS
  entries for names), extendedKeyUsage serverAuth and an authorityKeyIdentifier;
- a client certificate encodes the user as CN and each group as one O attribute, which is how
  Kubernetes' x509 authenticator reads identities (`CN -> user`, `O -> groups`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_SERVING_HOSTS",
    "CertInfo",
    "PKIError",
    "covers_hosts",
    "fingerprint",
    "generate_ca",
    "generate_private_key",
    "is_issued_by",
    "issue_client_cert",
    "issue_serving_cert",
    "key_matches_cert",
    "load_cert_info",
    "split_hosts",
]

#: Names every kubegate serving certificate answers to: loopback plus the in-cluster names of
#: the `kubernetes` Service, as kube-apiserver's self-signed certificate does.
DEFAULT_SERVING_HOSTS: tuple[str, ...] = (
    "127.0.0.1",
    "::1",
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)

# Back-date notBefore so that a client whose clock runs a little behind ours still accepts a
# certificate issued a moment ago (client-go's cert helpers do the same).
_CLOCK_SKEW = dt.timedelta(minutes=5)


class PKIError(ValueError):
    """PEM input that cannot be used: unparsable, wrong key type, or an invalid request."""


@dataclass(frozen=True, slots=True)
class CertInfo:
    """The parts of a certificate kubegate makes decisions on."""

    subject_common_name: str | None
    organizations: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    is_ca: bool
    fingerprint_sha256: str

    @property
    def hosts(self) -> frozenset[str]:
        """Every subjectAltName, IPs in their canonical text form."""
        return frozenset(self.dns_names) | frozenset(self.ip_addresses)

    def expires_within(self, window: dt.timedelta, *, now: dt.datetime | None = None) -> bool:
        """Whether the certificate is expired or will be within `window`."""
        current = now or dt.datetime.now(dt.UTC)
        return self.not_after - window <= current


def generate_private_key() -> bytes:
    """A fresh EC P-256 private key as unencrypted PKCS#8 PEM."""
    return _key_to_pem(ec.generate_private_key(ec.SECP256R1()))


def generate_ca(common_name: str = "kubegate-ca", days: int = 3650) -> tuple[bytes, bytes]:
    """A self-signed CA certificate and its private key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        _base_builder(days)
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    cert = builder.sign(key, _signature_hash(key))
    return cert.public_bytes(serialization.Encoding.PEM), _key_to_pem(key)


def issue_serving_cert(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    *,
    hosts: Iterable[str],
    days: int = 365,
    common_name: str = "kubegate",
) -> tuple[bytes, bytes]:
    """A TLS server certificate for `hosts`, signed by the CA; returns (cert PEM, key PEM)."""
    dns_names, ip_addresses = split_hosts(hosts)
    if not dns_names and not ip_addresses:
        raise PKIError("a serving certificate needs at least one host")
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    return _issue(
        ca_cert_pem,
        ca_key_pem,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        days=days,
        sans=sans,
    )


def issue_client_cert(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    *,
    user: str,
    groups: Iterable[str] = (),
    days: int = 365,
) -> tuple[bytes, bytes]:
    """A TLS client certificate for `user` in `groups`; returns (cert PEM, key PEM)."""
    if not user:
        raise PKIError("a client certificate needs a user name")
    group_list = list(groups)
    if any(not group for group in group_list):
        raise PKIError("group names must not be empty")
    # O before CN, in the order kubeadm and `openssl req -subj /O=.../CN=...` produce.
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in group_list]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
    return _issue(
        ca_cert_pem,
        ca_key_pem,
        subject=x509.Name(attributes),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        days=days,
        sans=None,
    )


def load_cert_info(cert_pem: bytes) -> CertInfo:
    """Parse the first certificate in `cert_pem` into a `CertInfo`."""
    cert = _load_cert(cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ip_addresses = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns_names, ip_addresses = (), ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    organizations = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return CertInfo(
        subject_common_name=str(common_names[0].value) if common_names else None,
        organizations=tuple(str(attribute.value) for attribute in organizations),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        is_ca=is_ca,
        fingerprint_sha256=_fingerprint(cert),
    )


def fingerprint(cert_pem: bytes) -> str:
    """The SHA-256 fingerprint of the certificate's DER encoding, as lowercase hex."""
    return _fingerprint(_load_cert(cert_pem))


def is_issued_by(cert_pem: bytes, ca_cert_pem: bytes) -> bool:
    """Whether `cert_pem` carries a valid signature from the CA in `ca_cert_pem`."""
    cert, ca = _load_cert(cert_pem), _load_cert(ca_cert_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def key_matches_cert(key_pem: bytes, cert_pem: bytes) -> bool:
    """Whether the private key in `key_pem` belongs to the certificate in `cert_pem`."""
    key = _load_key(key_pem)
    cert = _load_cert(cert_pem)
    public_format = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(
        serialization.Encoding.DER, public_format
    ) == cert.public_key().public_bytes(serialization.Encoding.DER, public_format)


def covers_hosts(info: CertInfo, hosts: Iterable[str]) -> bool:
    """Whether every host in `hosts` appears literally among the certificate's SANs."""
    dns_names, ip_addresses = split_hosts(hosts)
    present_dns = {name.lower() for name in info.dns_names}
    return {name.lower() for name in dns_names} <= present_dns and set(ip_addresses) <= set(
        info.ip_addresses
    )


def split_hosts(hosts: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Sort hosts into (DNS names, IP addresses), deduplicated, IPs canonicalised.

    `[::1]`-style brackets are accepted, so a host taken from a URL can be passed as-is.
    """
    dns_names: dict[str, None] = {}
    ip_addresses: dict[str, None] = {}
    for raw in hosts:
        host = raw.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host:
            raise PKIError("empty host name")
        try:
            ip_addresses[str(ipaddress.ip_address(host))] = None
        except ValueError:
            dns_names[host.lower()] = None
    return tuple(dns_names), tuple(ip_addresses)


def _issue(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    *,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    days: int,
    sans: list[x509.GeneralName] | None,
) -> tuple[bytes, bytes]:
    ca_cert = _load_cert(ca_cert_pem)
    ca_key = _load_signing_key(ca_key_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _base_builder(days)
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(_authority_key_identifier(ca_cert), critical=False)
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, _signature_hash(ca_key))
    return cert.public_bytes(serialization.Encoding.PEM), _key_to_pem(key)


def _base_builder(days: int) -> x509.CertificateBuilder:
    if days < 1:
        raise PKIError(f"validity must be at least one day, got {days}")
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_identifier(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        # A user-supplied CA without an SKI: derive the identifier the way RFC 5280 4.2.1.2 (1)
        # suggests, which is what the CA's SKI would have been.
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    # Ed25519/Ed448 sign the message itself; every other key type signs a SHA-256 digest.
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _key_to_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_cert(cert_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise PKIError(f"not a PEM certificate: {exc}") from exc


def _load_key(key_pem: bytes) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"not an unencrypted PEM private key: {exc}") from exc


def _load_signing_key(key_pem: bytes) -> CertificateIssuerPrivateKeyTypes:
    key = _load_key(key_pem)
    signing_types = (
        ec.EllipticCurvePrivateKey,
        rsa.RSAPrivateKey,
        ed25519.Ed25519PrivateKey,
        ed448.Ed448PrivateKey,
    )
    if not isinstance(key, signing_types):
        raise PKIError(f"a {type(key).__name__} cannot sign certificates")
    return key
