"""Judging the signatures found for one image digest against one key: the verdict values
and the rule that produces them.

A signature counts only when both hold:

* the bytes it covers (the simple-signing payload, or DSSE's pre-authentication encoding of
  the envelope) verify with the configured key, and
* its claims name this image: the payload's ``critical.image.docker-manifest-digest`` (or
  the in-toto statement's subject digest) equals the candidate's digest, the payload type
  is cosign's, and an artifact that declares a ``subject`` declares this digest. This is what
  stops a genuine signature of image A, copied next to image B, from passing for B.

``critical.identity.docker-reference`` is not compared with the image's name, as cosign and
upstream do not by default: mirrored images keep their signatures.

One good signature is enough (:class:`Verified`). Nothing cosign-shaped found is
:class:`Unsigned`; something found, none good, is :class:`BadSignature`, whose reason names
each failure (source and why, never signature bytes or payload text).
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "Defect",
    "Signature",
    "SignatureSource",
    "Unsigned",
    "Verdict",
    "Verified",
    "check",
    "check_one",
]

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from imageupdater.signatures.formats import (
    DsseEnvelope,
    SignatureFormatError,
    pae,
    parse_simple_signing,
    short_digest,
    statement_subjects,
)
from imageupdater.signatures.keys import VerificationKey

_MAX_REASONS = 3


@dataclass(frozen=True, slots=True)
class SignatureSource:
    """Where a signature was found: a referrer manifest (by digest) or a tag, and the layer."""

    kind: Literal["referrer", "tag"]
    reference: str  # the referrer's manifest digest, or the tag name
    layer: int | None = None

    def __str__(self) -> str:
        where = (
            f"referrer {short_digest(self.reference)}"
            if self.kind == "referrer"
            else f"tag {self.reference}"
        )
        return where if self.layer is None else f"{where} layer {self.layer}"


@dataclass(frozen=True, slots=True)
class Signature:
    """One signed statement as found, not yet trusted."""

    source: SignatureSource
    format: Literal["simple-signing", "bundle"]
    payload: bytes = field(repr=False)
    signatures: tuple[bytes, ...] = field(repr=False)  # DER; a DSSE envelope may hold several
    payload_type: str = ""  # bundles: the DSSE payload type
    subject: str | None = None  # the digest the artifact declares itself attached to


@dataclass(frozen=True, slots=True)
class Defect:
    """Something in a signature's place that cannot be checked, and why."""

    source: SignatureSource
    reason: str


@dataclass(frozen=True, slots=True)
class Verified:
    digest: str
    by: SignatureSource
    key: str  # the key's fingerprint

    @property
    def message(self) -> str:
        return f"{self.digest} is signed by key {self.key[:23]} ({self.by})"


@dataclass(frozen=True, slots=True)
class Unsigned:
    digest: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.digest} has no cosign signature: {self.reason}"


@dataclass(frozen=True, slots=True)
class BadSignature:
    digest: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.digest} is not validly signed: {self.reason}"


Verdict = Verified | Unsigned | BadSignature


def _claimed(signature: Signature) -> tuple[str, ...]:
    if signature.format == "simple-signing":
        return (parse_simple_signing(signature.payload).manifest_digest,)
    envelope = DsseEnvelope(signature.payload_type, signature.payload, signature.signatures)
    return statement_subjects(envelope)


def check_one(signature: Signature, digest: str, key: VerificationKey) -> str | None:
    """None when ``signature`` is ``key``'s valid signature of ``digest``, else why not."""
    if signature.subject is not None and signature.subject != digest:
        return f"it is attached to {short_digest(signature.subject)}, not to this image"
    if signature.format == "simple-signing":
        message = signature.payload
    else:
        message = pae(signature.payload_type, signature.payload)
    if not any(key.verifies(s, message) for s in signature.signatures):
        return f"it is not signed by the configured key ({key.short})"
    try:
        claimed = _claimed(signature)
    except SignatureFormatError as exc:
        return f"it is signed by the configured key, but {exc}"
    if digest not in claimed:
        return (
            f"it is signed by the configured key for {short_digest(claimed[0])}, not for this "
            "image (a signature copied from another image)"
        )
    return None


def check(
    found: Sequence[Signature | Defect],
    digest: str,
    key: VerificationKey,
    *,
    looked: Sequence[str] = (),
) -> Verdict:
    """The verdict on ``digest`` given everything found where signatures are kept
    (``looked`` says where that was, for the :class:`Unsigned` reason)."""
    failures: list[str] = []
    for item in found:
        if isinstance(item, Defect):
            failures.append(f"{item.source}: {item.reason}")
            continue
        reason = check_one(item, digest, key)
        if reason is None:
            return Verified(digest, item.source, key.fingerprint)
        failures.append(f"{item.source}: {reason}")
    if not failures:
        where = ", ".join(looked) if looked else "the places cosign keeps signatures"
        return Unsigned(digest, f"none found in {where}")
    shown = "; ".join(failures[:_MAX_REASONS])
    more = len(failures) - _MAX_REASONS
    suffix = f"; and {more} more" if more > 0 else ""
    if len(failures) == 1:
        return BadSignature(digest, f"its one signature does not verify: {shown}")
    return BadSignature(digest, f"none of its {len(failures)} signatures verifies: {shown}{suffix}")
