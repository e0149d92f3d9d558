"""Manifest and image-config documents: the media types we ask for, parsing the four kinds
of manifest we accept, reading config blobs, and checking content digests.

Accept-header rule (local-test-infrastructure §1.3): always ask for all four types, or a
registry silently converts Docker images to schema1 (another digest) and hides OCI ones.
"""

from __future__ import annotations

__all__ = [
    "ACCEPT_MANIFESTS",
    "MEDIA_DOCKER_LIST",
    "MEDIA_DOCKER_MANIFEST",
    "MEDIA_OCI_INDEX",
    "MEDIA_OCI_MANIFEST",
    "ImageConfig",
    "ImageManifest",
    "ListEntry",
    "Manifest",
    "ManifestList",
    "check_digest_form",
    "content_digest",
    "parse_config",
    "parse_manifest",
    "verify_digest",
]

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imageupdater.errors import RegistryProtocolError
from imageupdater.platforms import Platform

MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT_MANIFESTS = ", ".join(
    (MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_OCI_MANIFEST, MEDIA_OCI_INDEX)
)
_SINGLE = frozenset({MEDIA_DOCKER_MANIFEST, MEDIA_OCI_MANIFEST})
_LISTS = frozenset({MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX})
_HASHES = {"sha256": 64, "sha512": 128}


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """A single-platform image: we need only its config blob."""

    media_type: str
    config_digest: str


@dataclass(frozen=True, slots=True)
class ListEntry:
    digest: str
    platform: Platform | None  # None when the descriptor has no usable platform


@dataclass(frozen=True, slots=True)
class ManifestList:
    """A Docker manifest list or an OCI index."""

    media_type: str
    entries: tuple[ListEntry, ...]


Manifest = ImageManifest | ManifestList


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What the config blob says about an image."""

    platform: Platform | None
    created: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)


def content_digest(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def check_digest_form(digest: str, *, registry: str, what: str) -> None:
    """Refuse a digest that is not ``sha256:<64 hex>`` or ``sha512:<128 hex>`` before use."""
    algorithm, _, hexpart = digest.partition(":")
    expected = {"sha256": 64, "sha512": 128}.get(algorithm.lower())
    if expected != len(hexpart) or not all(c in "0123456789abcdefABCDEF" for c in hexpart):
        raise RegistryProtocolError(
            f"registry {registry}: {what} has an invalid digest {digest[:80]!r} "
            "(expected sha256:<64 hex>)",
            registry=registry,
        )


def verify_digest(body: bytes, expected: str, *, registry: str, what: str) -> None:
    """Refuse bytes whose digest is not ``expected`` (``sha256:…`` or ``sha512:…``)."""
    algorithm, _, hexpart = expected.partition(":")
    if _HASHES.get(algorithm) != len(hexpart):
        raise RegistryProtocolError(
            f"registry {registry}: {what} has an unsupported digest {expected!r} "
            "(expected sha256:<64 hex> or sha512:<128 hex>)",
            registry=registry,
        )
    actual = content_digest(body, algorithm)
    if actual != expected.lower():
        raise RegistryProtocolError(
            f"registry {registry}: {what} does not match its digest "
            f"(asked for {expected}, received {actual})",
            registry=registry,
        )


def _load_object(body: bytes, *, registry: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryProtocolError(
            f"registry {registry}: {what} is not valid JSON", registry=registry
        ) from exc
    if not isinstance(data, dict):
        raise RegistryProtocolError(
            f"registry {registry}: {what} is not a JSON object", registry=registry
        )
    return data


def _platform(raw: object) -> Platform | None:
    if not isinstance(raw, dict):
        return None
    os_name, arch, variant = raw.get("os"), raw.get("architecture"), raw.get("variant") or ""
    if not (isinstance(os_name, str) and os_name and isinstance(arch, str) and arch):
        return None
    return Platform(os=os_name, arch=arch, variant=variant if isinstance(variant, str) else "")


def parse_manifest(body: bytes, content_type: str | None, *, registry: str, what: str) -> Manifest:
    """Parse a manifest; the media type comes from the body, else from ``Content-Type``."""
    data = _load_object(body, registry=registry, what=what)
    declared = data.get("mediaType")
    media_type = declared if isinstance(declared, str) and declared else None
    if media_type is None and content_type:
        media_type = content_type.split(";")[0].strip().lower()
    if media_type not in _SINGLE | _LISTS:
        # OCI allows omitting mediaType; recognise the document by shape then.
        if "manifests" in data:
            media_type = MEDIA_OCI_INDEX
        elif "config" in data:
            media_type = MEDIA_OCI_MANIFEST
        else:
            raise RegistryProtocolError(
                f"registry {registry}: {what} has unsupported media type {media_type!r} "
                "(expected a Docker v2 schema 2 or OCI manifest, list or index)",
                registry=registry,
            )
    if media_type in _LISTS:
        raw_entries = data.get("manifests")
        if not isinstance(raw_entries, list):
            raise RegistryProtocolError(
                f"registry {registry}: {what} has no 'manifests' array", registry=registry
            )
        entries: list[ListEntry] = []
        for raw in raw_entries:
            digest = raw.get("digest") if isinstance(raw, dict) else None
            if not isinstance(digest, str) or ":" not in digest:
                raise RegistryProtocolError(
                    f"registry {registry}: {what} lists a manifest without a digest",
                    registry=registry,
                )
            entries.append(ListEntry(digest=digest, platform=_platform(raw.get("platform"))))
        return ManifestList(media_type=media_type, entries=tuple(entries))
    config = data.get("config")
    config_digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(config_digest, str) or ":" not in config_digest:
        raise RegistryProtocolError(
            f"registry {registry}: {what} has no config digest", registry=registry
        )
    return ImageManifest(media_type=media_type, config_digest=config_digest)


def _created(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_config(body: bytes, *, registry: str, what: str) -> ImageConfig:
    """Read ``created``, ``os``/``architecture``/``variant`` and ``config.Labels``.

    Served as ``application/octet-stream`` by registries, hence bytes in, not a response.
    """
    data = _load_object(body, registry=registry, what=what)
    inner = data.get("config")
    raw_labels = inner.get("Labels") if isinstance(inner, dict) else None
    labels = {str(k): str(v) for k, v in raw_labels.items()} if isinstance(raw_labels, dict) else {}
    return ImageConfig(
        platform=_platform(data), created=_created(data.get("created")), labels=labels
    )
