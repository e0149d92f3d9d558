"""The OCI side of signatures: a signature manifest's layers (media type, digest, size,
annotations), its ``subject``, and indexes of referrer descriptors (the referrers API's
answer, or the index under a referrers-schema tag).

Signature manifests are OCI image manifests, or Docker v2 schema 2 ones when cosign runs
with ``COSIGN_DOCKER_MEDIA_TYPES=1``; both are read. Descriptors without a well-formed
digest or size are dropped (they could not be fetched safely); what is left is judged by
the caller. Raises :class:`~imageupdater.signatures.formats.SignatureFormatError`.
"""

from __future__ import annotations

__all__ = [
    "MEDIA_DOCKER_MANIFEST",
    "MEDIA_OCI_INDEX",
    "MEDIA_OCI_MANIFEST",
    "ArtifactIndex",
    "Descriptor",
    "SignatureManifest",
    "parse_artifact",
    "parse_referrers",
]

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from imageupdater.signatures.formats import SignatureFormatError, is_digest

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_MANIFESTS = frozenset({MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST})
_INDEXES = frozenset({MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST})
_NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: _NO_ANNOTATIONS, repr=False)


@dataclass(frozen=True, slots=True)
class SignatureManifest:
    """An image manifest that may carry signatures in its layers."""

    media_type: str
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None  # the manifest's, else its config's media type
    subject: str | None = None  # the digest it declares itself attached to


@dataclass(frozen=True, slots=True)
class ArtifactIndex:
    """An index of manifests: referrers, or a referrers-schema tag's index."""

    media_type: str
    manifests: tuple[Descriptor, ...]


def _load(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureFormatError(f"its {what} is not JSON") from exc
    if not isinstance(doc, dict):
        raise SignatureFormatError(f"its {what} is not a JSON object")
    return doc


def _descriptor(raw: object) -> Descriptor | None:
    if not isinstance(raw, dict):
        return None
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not (is_digest(digest) and isinstance(size, int) and not isinstance(size, bool)):
        return None
    if size < 0 or not isinstance(media_type, str):
        return None
    artifact_type = raw.get("artifactType")
    annotations = raw.get("annotations")
    kept = (
        MappingProxyType({k: v for k, v in annotations.items() if isinstance(v, str)})
        if isinstance(annotations, dict)
        else _NO_ANNOTATIONS
    )
    assert isinstance(digest, str)
    return Descriptor(
        media_type,
        digest,
        size,
        artifact_type if isinstance(artifact_type, str) else None,
        kept,
    )


def _descriptors(raw: object) -> tuple[Descriptor, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(d for d in map(_descriptor, raw) if d is not None)


def _media_type(doc: Mapping[str, Any], content_type: str | None) -> str | None:
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if content_type:
        return content_type.split(";")[0].strip().lower()
    return None


def parse_artifact(body: bytes, content_type: str | None) -> SignatureManifest | ArtifactIndex:
    """A manifest found under a signature tag or named by a referrer descriptor."""
    doc = _load(body, "manifest")
    media_type = _media_type(doc, content_type)
    if media_type not in _MANIFESTS | _INDEXES:
        # OCI lets mediaType be left out; recognise the document by its shape then.
        if isinstance(doc.get("manifests"), list):
            media_type = MEDIA_OCI_INDEX
        elif isinstance(doc.get("layers"), list):
            media_type = MEDIA_OCI_MANIFEST
        else:
            raise SignatureFormatError("its manifest is neither an image manifest nor an index")
    if media_type in _INDEXES:
        if not isinstance(doc.get("manifests"), list):
            raise SignatureFormatError("its index has no 'manifests' list")
        return ArtifactIndex(media_type, _descriptors(doc["manifests"]))
    if not isinstance(doc.get("layers"), list):
        raise SignatureFormatError("its manifest has no 'layers' list")
    config = _descriptor(doc.get("config"))
    artifact_type = doc.get("artifactType")
    if not isinstance(artifact_type, str):
        artifact_type = config.media_type if config is not None else None
    subject = _descriptor(doc.get("subject"))
    return SignatureManifest(
        media_type,
        _descriptors(doc["layers"]),
        artifact_type,
        subject.digest if subject is not None else None,
    )


def parse_referrers(body: bytes, content_type: str | None) -> ArtifactIndex:
    """The answer of ``GET /v2/<name>/referrers/<digest>``: an OCI image index.

    Anything else (a ``404 page not found`` served with 200 by a proxy, an HTML login page,
    a manifest) raises: the caller then treats the registry as having no referrers API.
    """
    doc = _load(body, "referrers answer")
    media_type = _media_type(doc, content_type)
    if media_type not in (MEDIA_OCI_INDEX, "application/json", None):
        raise SignatureFormatError(
            f"its referrers answer is not an OCI index ({media_type[:80]!r})"
        )
    if not isinstance(doc.get("manifests"), list):
        raise SignatureFormatError("its referrers answer has no 'manifests' list")
    return ArtifactIndex(MEDIA_OCI_INDEX, _descriptors(doc["manifests"]))
