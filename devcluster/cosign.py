"""Signing images the way ``cosign sign --key`` does, for tests: keys, payloads, signature
manifests. Written from cosign's formats, independently of ``imageupdater.signatures``, so a
test that signs here and verifies there checks both against the format, not against each
other.

Two generations:

* simple signing (cosign 1/2): the JSON payload ``{"critical": {"identity":
  {"docker-reference"}, "image": {"docker-manifest-digest"}, "type"}, "optional"}`` as Go's
  ``json.Marshal`` writes it, signed whole (ECDSA, DER, base64 in the layer annotation
  ``dev.cosignproject.cosign/signature``); layers of ``application/vnd.dev.cosign.
  simplesigning.v1+json`` in an image manifest under ``sha256-<hex>.sig``, or in a referrer
  of artifact type ``application/vnd.dev.cosign.artifact.sig.v1+json`` (cosign 2's
  ``--registry-referrers-mode=oci-1-1``);
* sigstore bundles (cosign 3): an in-toto statement (predicate
  ``https://sigstore.dev/cosign/sign/v1``) in a DSSE envelope whose signature covers the
  pre-authentication encoding, inside a v0.3 bundle, in a referrer whose artifact type is
  the bundle's media type (config: the OCI empty descriptor).

The registry side (pushing, the referrers tag schema fallback) is ``ImageSeeder.sign``.
"""

from __future__ import annotations

__all__ = [
    "ANNOTATION_SIGNATURE",
    "ARTIFACT_SIGNATURE",
    "COSIGN_TYPE",
    "EMPTY_CONFIG",
    "MEDIA_BUNDLE",
    "MEDIA_SIMPLE_SIGNING",
    "PREDICATE_SIGN",
    "Curve",
    "bundle",
    "default_hash",
    "dsse_pae",
    "generate_key",
    "in_toto_statement",
    "public_pem",
    "sign_bytes",
    "signature_config",
    "simple_signing_payload",
]

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

MEDIA_SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION_SIGNATURE = "dev.cosignproject.cosign/signature"
ARTIFACT_SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
MEDIA_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
COSIGN_TYPE = "cosign container image signature"
PREDICATE_SIGN = "https://sigstore.dev/cosign/sign/v1"
IN_TOTO = "application/vnd.in-toto+json"
EMPTY_CONFIG = ("application/vnd.oci.empty.v1+json", b"{}")

Curve = Literal["P-256", "P-384", "P-521"]
_CURVES: Mapping[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
# sigstore's default hash per curve (cosign's signer since its algorithm registry)
_DEFAULT_HASH: Mapping[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


def _go_json(doc: object) -> bytes:
    """Compact JSON in the given key order, as Go's encoding/json writes a struct
    (including its escaping of <, > and &)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def generate_key(curve: Curve = "P-256") -> ec.EllipticCurvePrivateKey:
    """A fresh key, as ``cosign generate-key-pair`` makes (P-256 unless asked otherwise)."""
    return ec.generate_private_key(_CURVES[curve])


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The ``cosign.pub`` of ``key``: a PEM SubjectPublicKeyInfo."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign_bytes(
    key: ec.EllipticCurvePrivateKey,
    data: bytes,
    *,
    algorithm: type[hashes.HashAlgorithm] | None = None,
) -> bytes:
    """An ASN.1 DER ECDSA signature of ``data``; the hash defaults to SHA-256 (cosign 1/2
    for every curve); pass the curve's own (``hashes.SHA384``…) to sign as cosign 3 does."""
    chosen = algorithm or hashes.SHA256
    return key.sign(data, ec.ECDSA(chosen()))


def default_hash(key: ec.EllipticCurvePrivateKey) -> type[hashes.HashAlgorithm]:
    return _DEFAULT_HASH[key.curve.name]


def simple_signing_payload(
    reference: str,
    digest: str,
    *,
    optional: Mapping[str, object] | None = None,
    signature_type: str = COSIGN_TYPE,
) -> bytes:
    """cosign's payload for ``reference@digest`` (``reference`` without tag or digest)."""
    return _go_json(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": signature_type,
            },
            "optional": dict(optional) if optional is not None else None,
        }
    )


def in_toto_statement(digest: str, *, predicate_type: str = PREDICATE_SIGN) -> bytes:
    """The statement ``cosign sign`` (bundle format) signs: one subject, empty predicate."""
    algorithm, _, hexpart = digest.partition(":")
    return _go_json(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"digest": {algorithm: hexpart}}],
            "predicateType": predicate_type,
            "predicate": {},
        }
    )


def dsse_pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"".join(
        (
            b"DSSEv1 ",
            str(len(kind)).encode(),
            b" ",
            kind,
            b" ",
            str(len(payload)).encode(),
            b" ",
            payload,
        )
    )


def bundle(
    key: ec.EllipticCurvePrivateKey,
    statement: bytes,
    *,
    payload_type: str = IN_TOTO,
    signature: bytes | None = None,
    algorithm: type[hashes.HashAlgorithm] | None = None,
) -> bytes:
    """A v0.3 sigstore bundle around ``statement`` signed with ``key`` (the curve's own hash
    by default, as cosign 3 signs); ``signature`` replaces the real one (tests of tampering).
    Transparency-log entries are left out: key-based verification does not read them."""
    sig = signature
    if sig is None:
        sig = sign_bytes(
            key, dsse_pae(payload_type, statement), algorithm=algorithm or default_hash(key)
        )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hint = base64.b64encode(hashlib.sha256(der).digest()).decode()
    return _go_json(
        {
            "mediaType": MEDIA_BUNDLE,
            "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
            "dsseEnvelope": {
                "payload": base64.b64encode(statement).decode(),
                "payloadType": payload_type,
                "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}],
            },
        }
    )


def signature_config(layer_digests: list[str]) -> bytes:
    """The config cosign's signature images carry (go-containerregistry's empty image with
    the signature layers appended)."""
    zero = "0001-01-01T00:00:00Z"
    return _go_json(
        {
            "architecture": "",
            "created": zero,
            "history": [{"created": zero} for _ in layer_digests] or [{"created": zero}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": list(layer_digests)},
            "config": {},
        }
    )
