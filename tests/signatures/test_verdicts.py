"""The verdict on one digest: a signature counts only if the configured key made it and it
names this image; Unsigned when nothing was found, BadSignature when nothing found holds."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from devcluster import cosign
from imageupdater.signatures import (
    BadSignature,
    Defect,
    Signature,
    SignatureSource,
    Unsigned,
    VerificationKey,
    Verified,
    check,
)

from .conftest import verification_key

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
TAG = SignatureSource("tag", "sha256-" + "ab" * 32 + ".sig", 0)


def simple(
    key: ec.EllipticCurvePrivateKey,
    digest: str = DIGEST,
    *,
    payload: bytes | None = None,
    signed: bytes | None = None,
    source: SignatureSource = TAG,
    subject: str | None = None,
) -> Signature:
    """A simple-signing signature: ``payload`` is what is stored, ``signed`` what was signed."""
    stored = payload or cosign.simple_signing_payload("reg.example/app", digest)
    signature = cosign.sign_bytes(key, signed if signed is not None else stored)
    return Signature(source, "simple-signing", stored, (signature,), subject=subject)


def bundled(key: ec.EllipticCurvePrivateKey, digest: str = DIGEST, **kw: str) -> Signature:
    statement = cosign.in_toto_statement(digest, **kw)
    signature = cosign.sign_bytes(
        key,
        cosign.dsse_pae("application/vnd.in-toto+json", statement),
        algorithm=cosign.default_hash(key),
    )
    source = SignatureSource("referrer", OTHER, 0)
    return Signature(source, "bundle", statement, (signature,), "application/vnd.in-toto+json")


def test_a_signature_by_the_key_for_this_digest_is_verified(
    signing_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    verdict = check([simple(signing_key)], DIGEST, public_key)

    assert verdict == Verified(DIGEST, TAG, public_key.fingerprint)
    assert "layer 0" in verdict.message and public_key.fingerprint[:23] in verdict.message


@pytest.mark.parametrize("curve", ["P-256", "P-384", "P-521"])
def test_a_bundle_signed_with_the_curves_own_hash_is_verified(curve: cosign.Curve) -> None:
    key = cosign.generate_key(curve)

    verdict = check([bundled(key)], DIGEST, verification_key(key))

    assert isinstance(verdict, Verified)


def test_nothing_found_is_unsigned_and_says_where_it_looked(public_key: VerificationKey) -> None:
    verdict = check([], DIGEST, public_key, looked=["the referrers API", "tag sha256-x.sig"])

    assert verdict == Unsigned(DIGEST, "none found in the referrers API, tag sha256-x.sig")


def test_a_signature_by_another_key_is_a_bad_signature_naming_the_expected_key(
    other_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    verdict = check([simple(other_key)], DIGEST, public_key)

    assert isinstance(verdict, BadSignature)
    assert f"not signed by the configured key ({public_key.short})" in verdict.reason


def test_a_genuine_signature_of_another_image_copied_here_is_refused(
    signing_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    copied = simple(signing_key, OTHER)

    verdict = check([copied], DIGEST, public_key)

    assert isinstance(verdict, BadSignature)
    assert "for sha256:cdcdcdcdcdcd…, not for this image" in verdict.reason


def test_a_payload_changed_after_signing_does_not_verify(
    signing_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    original = cosign.simple_signing_payload("reg.example/app", OTHER)
    tampered = cosign.simple_signing_payload("reg.example/app", DIGEST)

    verdict = check([simple(signing_key, payload=tampered, signed=original)], DIGEST, public_key)

    assert isinstance(verdict, BadSignature)
    assert "not signed by the configured key" in verdict.reason


def test_a_signature_attached_to_another_subject_is_refused(
    signing_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    verdict = check([simple(signing_key, subject=OTHER)], DIGEST, public_key)

    assert isinstance(verdict, BadSignature)
    assert "attached to sha256:cdcdcdcdcdcd…" in verdict.reason


def test_a_signed_payload_of_another_type_is_refused(
    signing_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    payload = cosign.simple_signing_payload(
        "reg.example/app", DIGEST, signature_type="atomic container signature"
    )

    verdict = check([simple(signing_key, payload=payload)], DIGEST, public_key)

    assert isinstance(verdict, BadSignature)
    assert "signed by the configured key, but its payload's critical.type" in verdict.reason


def test_a_signed_attestation_is_not_a_signature(
    signing_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    attestation = bundled(signing_key, predicate_type="https://slsa.dev/provenance/v1")

    verdict = check([attestation], DIGEST, public_key)

    assert isinstance(verdict, BadSignature) and "an attestation" in verdict.reason


def test_one_good_signature_among_bad_ones_is_enough(
    signing_key: ec.EllipticCurvePrivateKey,
    other_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    good_source = SignatureSource("tag", TAG.reference, 2)
    found: list[Signature | Defect] = [
        Defect(SignatureSource("tag", TAG.reference, 0), "it has no annotation"),
        simple(other_key),
        simple(signing_key, source=good_source),
    ]

    assert check(found, DIGEST, public_key) == Verified(DIGEST, good_source, public_key.fingerprint)


def test_a_bad_signature_names_each_failure_up_to_three(
    other_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    found = [simple(other_key, source=SignatureSource("tag", "t", n)) for n in range(5)]

    verdict = check(found, DIGEST, public_key)

    assert isinstance(verdict, BadSignature)
    assert verdict.reason.startswith("none of its 5 signatures verifies: tag t layer 0: ")
    assert verdict.reason.endswith("; and 2 more")


def test_no_verdict_quotes_signature_bytes_or_payload_text(
    other_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    signature = simple(other_key, payload=cosign.simple_signing_payload("secret.example/x", DIGEST))

    verdict = check([signature], DIGEST, public_key)

    text = verdict.message
    assert base64.b64encode(signature.signatures[0]).decode()[:12] not in text
    assert "secret.example" not in text and "secret.example" not in repr(verdict)


def test_a_p256_signature_made_with_sha384_is_not_cosigns(
    signing_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    payload = cosign.simple_signing_payload("r/app", DIGEST)
    signature = cosign.sign_bytes(signing_key, payload, algorithm=hashes.SHA384)

    verdict = check([Signature(TAG, "simple-signing", payload, (signature,))], DIGEST, public_key)

    assert isinstance(verdict, BadSignature)
