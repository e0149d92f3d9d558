"""Key-based cosign signature verification, without I/O: reading the public key, cosign's
payload and storage formats, and the verdict on one image digest.

The registry adapter (:mod:`imageupdater.registry.signatures`) finds the signatures of a
digest (the OCI referrers API, then cosign's ``sha256-<hex>.sig`` tag, then the referrers tag
schema) and hands them to :func:`check`; see ``docs/signatures.md``.
"""

from imageupdater.signatures.keys import InvalidVerificationKey, VerificationKey, load_public_key
from imageupdater.signatures.verdicts import (
    BadSignature,
    Defect,
    Signature,
    SignatureSource,
    Unsigned,
    Verdict,
    Verified,
    check,
    check_one,
)

__all__ = [
    "BadSignature",
    "Defect",
    "InvalidVerificationKey",
    "Signature",
    "SignatureSource",
    "Unsigned",
    "Verdict",
    "VerificationKey",
    "Verified",
    "check",
    "check_one",
    "load_public_key",
]
