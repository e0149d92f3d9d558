"""The public key an ``imagesVerification.cosignKey`` names: reading it from PEM, refusing
what cosign's key-based verification cannot use, and checking ECDSA signatures with it.

Accepted: one ``-----BEGIN PUBLIC KEY-----`` block (SubjectPublicKeyInfo, what
``cosign generate-key-pair`` writes to ``cosign.pub``) holding an ECDSA key on P-256, P-384
or P-521. Upstream (``registry-scanner/pkg/image/verify.go``) accepts ECDSA keys only and
refuses RSA and Ed25519; we do the same, and also refuse the weak curves Go would let
through (P-224), which sigstore never produces. Private keys and certificates put in the
Secret by mistake are named as such.

Signatures are ASN.1 DER, as cosign writes them. cosign's verifier hashes with SHA-256 for
every curve by default, while its signer uses the curve's own hash since sigstore's
algorithm registry (SHA-384 for P-384, SHA-512 for P-521); a signature is accepted under
either, which is what makes both cosign generations' P-384/P-521 signatures verify.

Error messages name the Secret, its key and what is wrong, never the key's bytes: a private
key pasted into the Secret must not end up in an Event.
"""

from __future__ import annotations

__all__ = ["InvalidVerificationKey", "VerificationKey", "load_public_key"]

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imageupdater.errors import InvalidInput

if TYPE_CHECKING:  # cryptography is imported when a key is loaded, not with the registry
    from cryptography.hazmat.primitives.asymmetric import ec

MAX_KEY_BYTES = 64 * 1024  # a P-521 public key is under 300 bytes of PEM

# curve name -> hashes a signature may have been made with (cosign's default first), by
# their names in cryptography.hazmat.primitives.hashes
_CURVES: dict[str, tuple[str, ...]] = {
    "secp256r1": ("SHA256",),
    "secp384r1": ("SHA256", "SHA384"),
    "secp521r1": ("SHA256", "SHA512"),
}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]{1,64})-----(.*?)-----END ([A-Z0-9 ]{1,64})-----", re.DOTALL
)
_ACCEPTED = "a PEM 'PUBLIC KEY' block with an ECDSA P-256, P-384 or P-521 key (cosign.pub)"


class InvalidVerificationKey(InvalidInput):
    """The Secret's value is not a usable cosign public key; the message says which Secret,
    which key and why, without quoting the value."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """An ECDSA public key; equal keys have equal fingerprints."""

    fingerprint: str  # "sha256:<hex>" of the DER SubjectPublicKeyInfo
    curve: str  # "P-256" | "P-384" | "P-521"
    _key: ec.EllipticCurvePublicKey = field(repr=False, compare=False)
    _hashes: tuple[str, ...] = field(repr=False, compare=False)

    @property
    def short(self) -> str:
        """The fingerprint cut to 16 hex digits, for messages."""
        return self.fingerprint[: len("sha256:") + 16]

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` (DER) is this key's ECDSA signature of ``message``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        for name in self._hashes:
            algorithm: type[hashes.HashAlgorithm] = getattr(hashes, name)
            try:
                self._key.verify(signature, message, ec.ECDSA(algorithm()))
            except InvalidSignature:
                continue
            return True
        return False


def _where(secret: str, key: str) -> str:
    return f"Secret {secret!r}, key {key!r}"


def load_public_key(data: bytes | str, *, secret: str, key: str) -> VerificationKey:
    """Read the cosign public key stored under ``key`` in the Secret ``secret``
    (``"<namespace>/<name>"``, used in messages only).

    Raises :class:`InvalidVerificationKey` for anything but one ECDSA public key block.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    raw = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    where = _where(secret, key)
    if not raw.strip():
        raise InvalidVerificationKey(f"{where} is empty; expected {_ACCEPTED}")
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidVerificationKey(
            f"{where} holds {len(raw)} bytes, more than any public key ({MAX_KEY_BYTES} at "
            f"most); expected {_ACCEPTED}"
        )
    blocks = [(m.group(1), m.group(2), m.group(3)) for m in _BLOCK.finditer(raw)]
    if not blocks:
        raise InvalidVerificationKey(
            f"{where} is not PEM (no '-----BEGIN ...-----' line); expected {_ACCEPTED}"
        )
    if len(blocks) > 1:
        labels = ", ".join(repr(b[0].decode()) for b in blocks)
        raise InvalidVerificationKey(
            f"{where} holds {len(blocks)} PEM blocks ({labels}); expected exactly one, {_ACCEPTED}"
        )
    label, body, end = blocks[0]
    name = label.decode()
    if label != end:
        raise InvalidVerificationKey(
            f"{where}: its PEM block begins {name!r} but ends {end.decode()!r}; "
            f"expected {_ACCEPTED}"
        )
    if "PRIVATE KEY" in name:
        raise InvalidVerificationKey(
            f"{where} holds a private key ({name!r}); never store it there: expected only "
            f"the public half, {_ACCEPTED}"
        )
    if name == "CERTIFICATE":
        raise InvalidVerificationKey(
            f"{where} holds a certificate; certificate-based (keyless) verification is not "
            f"supported, expected {_ACCEPTED}"
        )
    if name != "PUBLIC KEY":
        raise InvalidVerificationKey(f"{where} holds a {name!r} PEM block; expected {_ACCEPTED}")
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        public = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidVerificationKey(
            f"{where}: its PUBLIC KEY block does not decode to a public key; expected {_ACCEPTED}"
        ) from exc
    if isinstance(public, rsa.RSAPublicKey):
        kind = f"an RSA key ({public.key_size} bits)"
    elif isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        kind = "an EdDSA key"
    elif isinstance(public, ec.EllipticCurvePublicKey):
        curve = public.curve.name
        if curve in _CURVES:
            fingerprint = "sha256:" + hashlib.sha256(der).hexdigest()
            return VerificationKey(fingerprint, _CURVE_NAMES[curve], public, _CURVES[curve])
        kind = f"an ECDSA key on {curve}"
    else:
        kind = f"a {type(public).__name__.removesuffix('PublicKey') or 'non-ECDSA'} key"
    raise InvalidVerificationKey(
        f"{where} holds {kind}; cosign key-based verification needs {_ACCEPTED}"
    )
