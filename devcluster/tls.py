"""Throw-away TLS material for the local stand-ins: a tiny CA, serving certificates, signers.

Built on ``cryptography`` alone (not trustme) because the demo uses devcluster too and
trustme is only a test extra. Keys are P-256: quick to generate, and Go's TLS stack and
the registry's token verifier both accept them. Nothing here is fit for production; the
product's certificate lifecycle lives in ``certs/``.
"""

from __future__ import annotations

__all__ = ["IssuedCert", "TinyCA", "self_signed_signer"]

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=2)
# Clocks on CI machines drift a little; a certificate that starts "now" can look not yet valid.
_BACKDATE = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class IssuedCert:
    """A serving certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, cert_path: Path, key_path: Path) -> None:
        cert_path.write_bytes(self.cert_pem)
        key_path.write_bytes(self.key_pem)
        key_path.chmod(0o600)

    def __repr__(self) -> str:
        return f"IssuedCert(cert_pem=<{len(self.cert_pem)} bytes>, key_pem=<redacted>)"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed_signer(
    common_name: str,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A P-256 key and a self-signed CA certificate for it (the token server's signer)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


class TinyCA:
    """A certificate authority that lives as long as the object and signs serving certs."""

    def __init__(self, common_name: str = "devcluster test CA") -> None:
        self._key, self._cert = self_signed_signer(common_name)

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def write_ca(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.cert_pem)
        return path

    def issue(self, *hosts: str) -> IssuedCert:
        """A serving certificate for ``hosts`` (IP addresses become IP SANs, names DNS SANs)."""
        if not hosts:
            raise ValueError("TinyCA.issue needs at least one host, e.g. '127.0.0.1'")
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(hosts[0]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return IssuedCert(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def __repr__(self) -> str:
        return f"TinyCA(subject={self._cert.subject.rfc4514_string()!r})"
