"""Manifest and config documents, media types and digests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from imageupdater.errors import RegistryProtocolError
from imageupdater.platforms import Platform
from imageupdater.registry.manifests import (
    ACCEPT_MANIFESTS,
    MEDIA_DOCKER_LIST,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    ImageManifest,
    ManifestList,
    content_digest,
    parse_config,
    parse_manifest,
    verify_digest,
)

CONFIG = "sha256:" + "c" * 64
CHILD = "sha256:" + "d" * 64


def test_the_accept_header_names_all_four_manifest_types() -> None:
    accepted = {part.strip() for part in ACCEPT_MANIFESTS.split(",")}
    assert accepted == {
        MEDIA_DOCKER_MANIFEST,
        MEDIA_DOCKER_LIST,
        MEDIA_OCI_MANIFEST,
        MEDIA_OCI_INDEX,
    }


@pytest.mark.parametrize("media", [MEDIA_DOCKER_MANIFEST, MEDIA_OCI_MANIFEST])
def test_a_single_image_manifest_gives_its_config_digest(media: str) -> None:
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": media, "config": {"digest": CONFIG}, "layers": []}
    ).encode()
    assert parse_manifest(body, None, registry="r", what="m") == ImageManifest(media, CONFIG)


@pytest.mark.parametrize("media", [MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX])
def test_a_list_gives_its_entries_with_platforms(media: str) -> None:
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media,
            "manifests": [
                {
                    "digest": CHILD,
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                },
                {"digest": CONFIG, "platform": {"os": "unknown"}},
            ],
        }
    ).encode()
    parsed = parse_manifest(body, None, registry="r", what="m")
    assert isinstance(parsed, ManifestList)
    assert [(e.digest, e.platform) for e in parsed.entries] == [
        (CHILD, Platform("linux", "arm64", "v8")),
        (CONFIG, None),
    ]


def test_an_oci_index_without_media_type_is_recognised_by_content_type() -> None:
    body = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    parsed = parse_manifest(body, MEDIA_OCI_INDEX + "; charset=utf-8", registry="r", what="m")
    assert parsed == ManifestList(MEDIA_OCI_INDEX, ())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"{", "is not valid JSON", id="truncated"),
        pytest.param(
            b'{"schemaVersion": 1, "fsLayers": []}', "unsupported media type", id="schema1"
        ),
        pytest.param(
            json.dumps({"mediaType": MEDIA_OCI_MANIFEST, "config": {}}).encode(),
            "no config digest",
            id="no-config-digest",
        ),
        pytest.param(
            json.dumps({"mediaType": MEDIA_OCI_INDEX, "manifests": [{}]}).encode(),
            "without a digest",
            id="entry-without-digest",
        ),
    ],
)
def test_a_bad_manifest_is_a_protocol_error(body: bytes, reason: str) -> None:
    with pytest.raises(RegistryProtocolError, match=reason):
        parse_manifest(body, None, registry="r", what="manifest app:1")


def test_a_config_gives_platform_creation_date_and_labels() -> None:
    body = json.dumps(
        {
            "created": "2024-06-01T10:00:00.123456789Z",
            "os": "linux",
            "architecture": "amd64",
            "config": {"Labels": {"team": "a"}},
        }
    ).encode()
    config = parse_config(body, registry="r", what="c")
    assert config.platform == Platform("linux", "amd64")
    assert config.created == datetime(2024, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert config.labels == {"team": "a"}


def test_a_config_without_dates_or_labels_is_still_read() -> None:
    config = parse_config(b'{"os": "linux"}', registry="r", what="c")
    assert (config.platform, config.created, dict(config.labels)) == (None, None, {})


def test_bytes_matching_their_digest_pass_and_others_are_refused() -> None:
    body = b'{"a": 1}'
    verify_digest(body, content_digest(body), registry="r", what="blob")
    with pytest.raises(RegistryProtocolError, match="does not match its digest"):
        verify_digest(body + b" ", content_digest(body), registry="r", what="blob")
    with pytest.raises(RegistryProtocolError, match="unsupported digest"):
        verify_digest(body, "md5:abc", registry="r", what="blob")
