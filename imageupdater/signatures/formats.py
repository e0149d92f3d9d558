"""cosign's signature formats, read without trusting them: the media types and annotation
that mark a signature, the tag names derived from a digest, the simple-signing payload, the
sigstore bundle's DSSE envelope with its in-toto statement, and DSSE's pre-authentication
encoding (the bytes actually signed).

Two generations of ``cosign sign --key`` are understood (upstream reads the same two):

* simple signing (cosign 1 and 2, ``SIGNATURE_SPEC.md``): a layer of media type
  :data:`MEDIA_SIMPLE_SIGNING` whose blob is the JSON payload and whose annotation
  :data:`ANNOTATION_SIGNATURE` is the base64 DER ECDSA signature of those exact bytes. Kept
  under the tag ``sha256-<hex>.sig``, or (``--registry-referrers-mode=oci-1-1``) in a
  referrer of artifact type :data:`ARTIFACT_COSIGN_SIGNATURE`.
* sigstore bundles (cosign 3's default): a layer of media type ``application/vnd.dev.
  sigstore.bundle…`` holding a bundle whose DSSE envelope carries an in-toto statement with
  predicate type :data:`PREDICATE_COSIGN_SIGN`; the signature covers
  :func:`pae` of the envelope. Kept in a referrer (artifact type = the bundle media type),
  or, on registries without the referrers API, listed in the index under the tag
  ``sha256-<hex>`` (the OCI referrers tag schema).

Parsers raise :class:`SignatureFormatError`, which never leaves the signature code: the
verdict turns it into a ``BadSignature`` reason. Reasons never quote payload strings (they
come from whoever pushed the artifact), only validated digests and fixed words.
"""

from __future__ import annotations

__all__ = [
    "ANNOTATION_SIGNATURE",
    "ARTIFACT_COSIGN_SIGNATURE",
    "BUNDLE_MEDIA_PREFIX",
    "COSIGN_SIGNATURE_TYPE",
    "MEDIA_BUNDLE_V03",
    "MEDIA_SIMPLE_SIGNING",
    "PAYLOAD_TYPE_IN_TOTO",
    "PREDICATE_COSIGN_SIGN",
    "DsseEnvelope",
    "SignatureFormatError",
    "SimpleSigningPayload",
    "decode_signature",
    "is_bundle_type",
    "is_cosign_artifact",
    "is_digest",
    "pae",
    "parse_bundle",
    "parse_simple_signing",
    "referrers_tag",
    "short_digest",
    "signature_tag",
    "statement_subjects",
]

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from imageupdater.errors import ImageUpdaterError

MEDIA_SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION_SIGNATURE = "dev.cosignproject.cosign/signature"
COSIGN_SIGNATURE_TYPE = "cosign container image signature"
# cosign's ociexperimental.ArtifactType("sig"): legacy signatures stored as referrers.
ARTIFACT_COSIGN_SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
MEDIA_BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
# Older bundles say "application/vnd.dev.sigstore.bundle+json;version=0.x"; cosign matches
# the prefix, and so do we.
BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
PAYLOAD_TYPE_IN_TOTO = "application/vnd.in-toto+json"
PREDICATE_COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"
_STATEMENT_PREFIX = "https://in-toto.io/Statement/"
_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_MAX_TAG = 128  # the distribution spec's tag length limit


class SignatureFormatError(ImageUpdaterError):
    """A signature artifact that does not have cosign's shape; the message is a reason
    fit for an Event (fixed words and validated digests only)."""


def is_digest(text: object) -> bool:
    """``sha256:<64 hex>`` or ``sha512:<128 hex>``, lower-case hex."""
    if not isinstance(text, str):
        return False
    algorithm, sep, hexpart = text.partition(":")
    return (
        bool(sep)
        and _HEX_LENGTHS.get(algorithm) == len(hexpart)
        and all(c in "0123456789abcdef" for c in hexpart)
    )


def short_digest(digest: str) -> str:
    """``sha256:0123456789ab…`` for messages (the digest is validated elsewhere)."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}…" if len(hexpart) > 12 else digest


def _tag_for(digest: str, suffix: str) -> str | None:
    if not is_digest(digest):
        raise ValueError(f"{digest[:80]!r} is not a digest (expected sha256:<64 hex>)")
    tag = digest.replace(":", "-", 1) + suffix
    return tag if len(tag) <= _MAX_TAG else None


def signature_tag(digest: str) -> str | None:
    """cosign's legacy signature tag, ``sha256-<hex>.sig``; None when the digest's tag would
    be longer than a tag may be (sha512 digests: only the referrers API can hold those)."""
    return _tag_for(digest, ".sig")


def referrers_tag(digest: str) -> str | None:
    """The OCI referrers tag schema's ``sha256-<hex>``; None for sha512 (see above)."""
    return _tag_for(digest, "")


def is_bundle_type(media_type: object) -> bool:
    return isinstance(media_type, str) and media_type.startswith(BUNDLE_MEDIA_PREFIX)


def is_cosign_artifact(artifact_type: object) -> bool:
    """A referrer that may hold a cosign signature (an SBOM or attestation type does not)."""
    return artifact_type == ARTIFACT_COSIGN_SIGNATURE or is_bundle_type(artifact_type)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureFormatError(f"its {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise SignatureFormatError(f"its {what} is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class SimpleSigningPayload:
    """The claims of a simple-signing payload (``critical``; ``optional`` is not read)."""

    docker_reference: str = field(repr=False)  # as the signer wrote it; never in messages
    manifest_digest: str
    type: str


def parse_simple_signing(data: bytes) -> SimpleSigningPayload:
    """Read ``critical.identity.docker-reference``, ``critical.image.docker-manifest-digest``
    and ``critical.type``; each must be present, the digest well formed and the type
    cosign's (as cosign's own payload reader insists)."""
    doc = _json_object(data, "simple-signing payload")
    critical = doc.get("critical")
    if not isinstance(critical, dict):
        raise SignatureFormatError("its payload has no 'critical' object")
    image = critical.get("image")
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not is_digest(digest):
        raise SignatureFormatError(
            "its payload has no well-formed critical.image.docker-manifest-digest"
        )
    identity = critical.get("identity")
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    if not isinstance(reference, str) or not reference:
        raise SignatureFormatError("its payload has no critical.identity.docker-reference")
    kind = critical.get("type")
    if kind != COSIGN_SIGNATURE_TYPE:
        raise SignatureFormatError(f"its payload's critical.type is not {COSIGN_SIGNATURE_TYPE!r}")
    assert isinstance(digest, str)
    return SimpleSigningPayload(reference, digest, kind)


@dataclass(frozen=True, slots=True)
class DsseEnvelope:
    """A bundle's DSSE envelope, decoded."""

    payload_type: str
    payload: bytes = field(repr=False)
    signatures: tuple[bytes, ...] = field(repr=False)


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise SignatureFormatError(f"its {what} is missing")
    compact = "".join(text.split())
    # protojson writes standard base64 and reads URL-safe too; so do we.
    altchars = b"-_" if ("-" in compact or "_" in compact) else None
    try:
        padded = (compact + "=" * (-len(compact) % 4)).encode("ascii")
        return base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise SignatureFormatError(f"its {what} is not base64") from exc


def decode_signature(text: object) -> bytes:
    """A base64 signature (annotation or DSSE ``sig``) as DER bytes."""
    return _b64(text, "signature")


def parse_bundle(data: bytes) -> DsseEnvelope:
    """The DSSE envelope of a sigstore bundle (protobuf JSON: ``dsseEnvelope.payload``,
    ``payloadType``, ``signatures[].sig``). A bundle holding a message signature instead
    (``cosign sign-blob``) is not an image signature."""
    doc = _json_object(data, "sigstore bundle")
    envelope = doc.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        if "messageSignature" in doc:
            raise SignatureFormatError(
                "its bundle holds a message signature (a blob's), not a DSSE envelope"
            )
        raise SignatureFormatError("its bundle has no dsseEnvelope")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise SignatureFormatError("its DSSE envelope has no payloadType")
    payload = _b64(envelope.get("payload"), "DSSE payload")
    raw = envelope.get("signatures")
    if not isinstance(raw, list) or not raw:
        raise SignatureFormatError("its DSSE envelope has no signatures")
    sigs = tuple(decode_signature(s.get("sig") if isinstance(s, dict) else None) for s in raw[:16])
    return DsseEnvelope(payload_type, payload, sigs)


def statement_subjects(envelope: DsseEnvelope) -> tuple[str, ...]:
    """The digests an in-toto statement of ``cosign sign`` is about (``alg:hex`` each).

    The envelope must carry an in-toto statement whose predicate type is cosign's signing
    predicate: an attestation (provenance, SBOM, scan) signed with the same key says
    something about the image, but is not its signature.
    """
    if envelope.payload_type != PAYLOAD_TYPE_IN_TOTO:
        raise SignatureFormatError(f"its DSSE payload type is not {PAYLOAD_TYPE_IN_TOTO!r}")
    doc = _json_object(envelope.payload, "in-toto statement")
    kind = doc.get("_type")
    if not isinstance(kind, str) or not kind.startswith(_STATEMENT_PREFIX):
        raise SignatureFormatError("its DSSE payload is not an in-toto statement")
    if doc.get("predicateType") != PREDICATE_COSIGN_SIGN:
        raise SignatureFormatError(
            f"its statement's predicate type is not {PREDICATE_COSIGN_SIGN!r} "
            "(an attestation, not a signature)"
        )
    subjects = doc.get("subject")
    found: list[str] = []
    for subject in subjects if isinstance(subjects, list) else ():
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digests, dict):
            continue
        for algorithm, hexpart in digests.items():
            candidate = f"{algorithm}:{hexpart}" if isinstance(hexpart, str) else ""
            if is_digest(candidate):
                found.append(candidate)
    if not found:
        raise SignatureFormatError("its statement names no subject digest")
    return tuple(found)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a DSSE signature signs.

    ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, lengths in bytes, in decimal.
    """
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)
