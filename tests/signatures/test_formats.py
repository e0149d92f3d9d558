"""cosign's formats, read by the verifier: tag names, the simple-signing payload, sigstore
bundles with their in-toto statement, DSSE's pre-authentication encoding, and signature
manifests and referrer indexes."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devcluster import cosign
from imageupdater.signatures.artifacts import (
    ArtifactIndex,
    SignatureManifest,
    parse_artifact,
    parse_referrers,
)
from imageupdater.signatures.formats import (
    DsseEnvelope,
    SignatureFormatError,
    is_cosign_artifact,
    pae,
    parse_bundle,
    parse_simple_signing,
    referrers_tag,
    signature_tag,
    statement_subjects,
)

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
HEXES = st.text("0123456789abcdef", min_size=64, max_size=64)


def test_signature_tags_are_named_after_the_digest_as_cosign_names_them() -> None:
    assert signature_tag(DIGEST) == "sha256-" + "ab" * 32 + ".sig"
    assert referrers_tag(DIGEST) == "sha256-" + "ab" * 32


def test_a_sha512_digest_has_no_tag_because_it_would_be_too_long() -> None:
    digest = "sha512:" + "0" * 128

    assert signature_tag(digest) is None and referrers_tag(digest) is None


def test_a_malformed_digest_has_no_tag_name() -> None:
    with pytest.raises(ValueError, match="is not a digest"):
        signature_tag("sha256:xyz")


@given(hexpart=HEXES)
def test_a_signature_tag_is_a_valid_tag_that_names_its_digest(hexpart: str) -> None:
    tag = signature_tag(f"sha256:{hexpart}")

    assert tag is not None and len(tag) <= 128
    assert tag.removesuffix(".sig").replace("-", ":", 1) == f"sha256:{hexpart}"


def test_cosigns_payload_reads_back_its_claims() -> None:
    payload = cosign.simple_signing_payload("registry.example/team/app", DIGEST)

    claims = parse_simple_signing(payload)

    assert (claims.manifest_digest, claims.type) == (DIGEST, "cosign container image signature")
    assert claims.docker_reference == "registry.example/team/app"
    assert "registry.example" not in repr(claims)


def _payload(**critical: object) -> bytes:
    base: dict[str, object] = {
        "identity": {"docker-reference": "r/app"},
        "image": {"docker-manifest-digest": DIGEST},
        "type": "cosign container image signature",
    }
    base.update(critical)
    return json.dumps({"critical": {k: v for k, v in base.items() if v is not None}}).encode()


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param(b"not json", "not JSON", id="not-json"),
        pytest.param(b"[]", "not a JSON object", id="array"),
        pytest.param(b'{"optional": {}}', "no 'critical'", id="no-critical"),
        pytest.param(_payload(image=None), "docker-manifest-digest", id="no-image"),
        pytest.param(
            _payload(image={"docker-manifest-digest": "sha256:ABC"}),
            "docker-manifest-digest",
            id="bad-digest",
        ),
        pytest.param(_payload(identity=None), "docker-reference", id="no-identity"),
        pytest.param(_payload(type="atomic container signature"), "critical.type", id="other-type"),
    ],
)
def test_a_payload_without_cosigns_claims_is_refused(payload: bytes, words: str) -> None:
    with pytest.raises(SignatureFormatError, match=words):
        parse_simple_signing(payload)


def test_pae_matches_the_dsse_specifications_example() -> None:
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@given(kind=st.text(max_size=40), body=st.binary(max_size=200))
def test_pae_agrees_with_an_independent_encoder(kind: str, body: bytes) -> None:
    assert pae(kind, body) == cosign.dsse_pae(kind, body)


def test_a_bundle_yields_its_envelope_and_the_statement_its_subject() -> None:
    key = cosign.generate_key()
    statement = cosign.in_toto_statement(DIGEST)

    envelope = parse_bundle(cosign.bundle(key, statement))

    assert envelope.payload == statement
    assert envelope.payload_type == "application/vnd.in-toto+json"
    assert len(envelope.signatures) == 1
    assert statement_subjects(envelope) == (DIGEST,)


def test_an_attestation_is_not_a_signature() -> None:
    statement = cosign.in_toto_statement(DIGEST, predicate_type="https://slsa.dev/provenance/v1")
    envelope = DsseEnvelope("application/vnd.in-toto+json", statement, (b"x",))

    with pytest.raises(SignatureFormatError, match="an attestation, not a signature"):
        statement_subjects(envelope)


@pytest.mark.parametrize(
    ("bundle", "words"),
    [
        pytest.param({"messageSignature": {}}, "message signature", id="blob-signature"),
        pytest.param({}, "no dsseEnvelope", id="no-envelope"),
        pytest.param(
            {"dsseEnvelope": {"payload": "e30=", "payloadType": "x", "signatures": []}},
            "no signatures",
            id="unsigned-envelope",
        ),
        pytest.param(
            {"dsseEnvelope": {"payload": "%%%", "payloadType": "x", "signatures": [{}]}},
            "DSSE payload is not base64",
            id="bad-payload",
        ),
        pytest.param(
            {"dsseEnvelope": {"payload": "e30=", "payloadType": "x", "signatures": [{}]}},
            "signature is missing",
            id="no-sig",
        ),
    ],
)
def test_a_bundle_without_a_signed_envelope_is_refused(
    bundle: dict[str, object], words: str
) -> None:
    with pytest.raises(SignatureFormatError, match=words):
        parse_bundle(json.dumps(bundle).encode())


def test_a_url_safe_unpadded_signature_is_read_as_protojson_reads_it() -> None:
    raw = bytes(range(250, 256)) * 3
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    doc = {"dsseEnvelope": {"payload": "e30", "payloadType": "t", "signatures": [{"sig": text}]}}

    assert parse_bundle(json.dumps(doc).encode()).signatures == (raw,)


def test_a_signature_manifest_keeps_its_layers_annotations_and_subject() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": cosign.ARTIFACT_SIGNATURE,
        "config": {"mediaType": "x", "digest": OTHER, "size": 2},
        "layers": [
            {
                "mediaType": cosign.MEDIA_SIMPLE_SIGNING,
                "digest": DIGEST,
                "size": 10,
                "annotations": {cosign.ANNOTATION_SIGNATURE: "c2ln", "n": 1},
            },
            {"mediaType": "broken", "digest": "sha256:short", "size": 1},
        ],
        "subject": {"mediaType": "m", "digest": OTHER, "size": 5},
    }

    manifest = parse_artifact(json.dumps(doc).encode(), None)

    assert isinstance(manifest, SignatureManifest)
    assert manifest.subject == OTHER and manifest.artifact_type == cosign.ARTIFACT_SIGNATURE
    assert [layer.digest for layer in manifest.layers] == [DIGEST]  # the broken one dropped
    assert dict(manifest.layers[0].annotations) == {cosign.ANNOTATION_SIGNATURE: "c2ln"}


def test_a_manifest_without_artifact_type_takes_its_configs_media_type() -> None:
    doc = {
        "config": {"mediaType": cosign.ARTIFACT_SIGNATURE, "digest": OTHER, "size": 2},
        "layers": [],
    }

    manifest = parse_artifact(
        json.dumps(doc).encode(), "application/vnd.oci.image.manifest.v1+json"
    )

    assert isinstance(manifest, SignatureManifest)
    assert manifest.artifact_type == cosign.ARTIFACT_SIGNATURE


def test_a_referrers_answer_lists_its_descriptors_with_artifact_types() -> None:
    body = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "m", "digest": DIGEST, "size": 3, "artifactType": cosign.MEDIA_BUNDLE},
            {"mediaType": "m", "digest": OTHER, "size": 3, "artifactType": "text/spdx"},
        ],
    }

    index = parse_referrers(json.dumps(body).encode(), "application/vnd.oci.image.index.v1+json")

    assert isinstance(index, ArtifactIndex)
    assert [is_cosign_artifact(d.artifact_type) for d in index.manifests] == [True, False]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"404 page not found\n", "text/plain", id="distribution-2.8"),
        pytest.param(b"<html>login</html>", "text/html", id="html"),
        pytest.param(b'{"errors": []}', "application/json", id="no-manifests"),
        pytest.param(
            b'{"layers": [], "manifests": []}',
            "application/vnd.oci.image.manifest.v1+json",
            id="a-manifest",
        ),
    ],
)
def test_an_answer_that_is_not_an_index_is_no_referrers_list(
    body: bytes, content_type: str
) -> None:
    with pytest.raises(SignatureFormatError):
        parse_referrers(body, content_type)


@pytest.mark.parametrize(
    ("artifact_type", "cosign_signature"),
    [
        pytest.param(cosign.ARTIFACT_SIGNATURE, True, id="cosign-2-referrer"),
        pytest.param("application/vnd.dev.sigstore.bundle.v0.3+json", True, id="bundle-v0.3"),
        pytest.param("application/vnd.dev.sigstore.bundle+json;version=0.2", True, id="old"),
        pytest.param("application/vnd.dev.cosign.artifact.sbom.v1+json", False, id="sbom"),
        pytest.param("application/spdx+json", False, id="spdx"),
        pytest.param(None, False, id="none"),
    ],
)
def test_only_cosigns_artifact_types_are_read_as_signatures(
    artifact_type: str | None, cosign_signature: bool
) -> None:
    assert is_cosign_artifact(artifact_type) is cosign_signature
