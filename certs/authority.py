"""Issuing the webhook's TLS material: a long-lived CA and a shorter-lived serving certificate.

Both keys are ECDSA P-256. The CA outlives many serving certificates, so rotating the serving
certificate leaves every ``caBundle`` valid and needs no overlap window; when the CA itself is
renewed, the previous CA stays in the bundle until it expires (``Bundle.ca_bundle``).
Rotation is due after 2/3 of a certificate's lifetime (the cert-manager convention). Pure
apart from key generation: callers pass the clock in.
"""

from __future__ import annotations

__all__ = ["Bundle", "renew", "rotation_due", "service_dns_names"]

import datetime as dt
import ipaddress
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_LIFETIME = dt.timedelta(days=3650)
CERT_LIFETIME = dt.timedelta(days=365)
ROTATE_AT = 2 / 3
# Issue certificates slightly in the past so a peer whose clock lags a little accepts them.
_BACKDATE = dt.timedelta(minutes=5)
_CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "image-updater-webhook-ca")])


@dataclass(frozen=True, slots=True)
class Bundle:
    """PEM material: the CA (+ key, to sign renewals), the serving pair, and retired CAs."""

    ca_cert: bytes
    ca_key: bytes
    cert: bytes
    key: bytes
    previous_ca: bytes = b""

    def __repr__(self) -> str:
        # Keys are secrets: never let them reach a log through repr().
        return f"Bundle(dns_names={self.dns_names!r}, not_after={self.not_after.isoformat()})"

    @property
    def ca_bundle(self) -> bytes:
        """What webhook configurations trust: the current CA, then any still-valid old one."""
        return self.ca_cert + self.previous_ca

    @property
    def not_before(self) -> dt.datetime:
        return x509.load_pem_x509_certificate(self.cert).not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return x509.load_pem_x509_certificate(self.cert).not_valid_after_utc

    @property
    def dns_names(self) -> list[str]:
        cert = x509.load_pem_x509_certificate(self.cert)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        return san.value.get_values_for_type(x509.DNSName)

    def validate(self) -> None:
        """Raise ValueError unless the four PEM blobs parse and the cert was signed by the CA."""
        ca = x509.load_pem_x509_certificate(self.ca_cert)
        cert = x509.load_pem_x509_certificate(self.cert)
        serialization.load_pem_private_key(self.key, password=None)
        serialization.load_pem_private_key(self.ca_key, password=None)
        try:
            cert.verify_directly_issued_by(ca)
        except Exception as exc:  # cryptography raises several types here
            raise ValueError("the serving certificate was not issued by the stored CA") from exc


def service_dns_names(service: str, namespace: str) -> list[str]:
    """The names kube-apiserver may use for a Service; it verifies ``<svc>.<ns>.svc``."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _new_ca(now: dt.datetime, lifetime: dt.timedelta) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_CA_NAME)
        .issuer_name(_CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def _serving(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    dns_names: list[str],
    ip_addresses: list[str],
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> tuple[bytes, bytes]:
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    common_name = (dns_names or ip_addresses)[0]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + lifetime, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def rotation_due(cert_pem: bytes, fraction: float = ROTATE_AT) -> dt.datetime:
    """When a certificate should be replaced: after ``fraction`` of its lifetime."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * fraction


def _still_valid(pem: bytes, now: dt.datetime) -> bytes:
    kept = b""
    for cert in x509.load_pem_x509_certificates(pem) if pem else []:
        if cert.not_valid_after_utc > now:
            kept += cert.public_bytes(serialization.Encoding.PEM)
    return kept


def renew(
    current: Bundle | None,
    dns_names: list[str],
    *,
    now: dt.datetime,
    ip_addresses: list[str] | None = None,
    ca_lifetime: dt.timedelta = CA_LIFETIME,
    cert_lifetime: dt.timedelta = CERT_LIFETIME,
    force: bool = False,
) -> Bundle | None:
    """The bundle to store now, or None when ``current`` is still good.

    A new CA is made when there is none, it does not verify, or it reached its rotation point
    (the old CA then stays trusted until it expires); a new serving certificate when the CA
    changed, the names differ, it reached its rotation point, or ``force`` asks for one.
    """
    ips = ip_addresses or []
    ca_ok = False
    if current is not None:
        try:
            current.validate()
            ca_ok = now < rotation_due(current.ca_cert)
        except ValueError:
            current = None
    if current is None or not ca_ok:
        ca_cert, ca_key = _new_ca(now, ca_lifetime)
        previous = _still_valid(current.ca_bundle, now) if current is not None else b""
        cert, key = _serving(ca_cert, ca_key, dns_names, ips, now, cert_lifetime)
        return Bundle(ca_cert, ca_key, cert, key, previous)
    if (
        not force
        and sorted(current.dns_names) == sorted(dns_names)
        and now < rotation_due(current.cert)
    ):
        retired = _still_valid(current.previous_ca, now)
        return None if retired == current.previous_ca else replace(current, previous_ca=retired)
    cert, key = _serving(current.ca_cert, current.ca_key, dns_names, ips, now, cert_lifetime)
    return replace(current, cert=cert, key=key, previous_ca=_still_valid(current.previous_ca, now))
