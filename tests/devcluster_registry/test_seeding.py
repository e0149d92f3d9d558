"""Pushing synthetic images into the real registry, checked with skopeo as an independent client."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import aiohttp
import pytest

from devcluster.registry import LocalRegistry
from devcluster.seeder import ACCEPT_ALL, ImageSeeder, SeedingFailed
from tests.devcluster_registry.conftest import Skopeo

CREATED = dt.datetime(2024, 6, 1, 10, 0, 0, tzinfo=dt.UTC)

SHAPES = [
    pytest.param(
        {"media": "docker"},
        "application/vnd.docker.distribution.manifest.v2+json",
        id="docker-v2s2",
    ),
    pytest.param({"media": "oci"}, "application/vnd.oci.image.manifest.v1+json", id="oci-manifest"),
    pytest.param(
        {"media": "docker", "platforms": ("linux/amd64", "linux/arm64/v8")},
        "application/vnd.docker.distribution.manifest.list.v2+json",
        id="docker-manifest-list",
    ),
    pytest.param(
        {"media": "oci", "platforms": ("linux/amd64", "linux/arm64/v8")},
        "application/vnd.oci.image.index.v1+json",
        id="oci-index",
    ),
    pytest.param(
        {"media": "oci", "index": True},
        "application/vnd.oci.image.index.v1+json",
        id="oci-index-of-one",
    ),
]


@pytest.mark.parametrize(("options", "media_type"), SHAPES)
async def test_a_pushed_image_is_served_under_the_digest_push_returned(
    seeder: ImageSeeder,
    registry: LocalRegistry,
    unique_repo: str,
    skopeo: Skopeo,
    options: dict[str, Any],
    media_type: str,
) -> None:
    digest = await seeder.push(unique_repo, "1.0.0", **options)

    ref = f"docker://{registry.host}/{unique_repo}:1.0.0"
    raw = skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", ref).stdout)
    assert json.loads(raw)["mediaType"] == media_type
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    assert inspected["Digest"] == digest


async def test_created_and_labels_round_trip_through_the_config_blob(
    seeder: ImageSeeder, registry: LocalRegistry, unique_repo: str, skopeo: Skopeo
) -> None:
    labels = {"org.opencontainers.image.version": "1.2.3", "team": "platform"}
    await seeder.push(unique_repo, "1.2.3", created=CREATED, labels=labels)

    ref = f"docker://{registry.host}/{unique_repo}:1.2.3"
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", ref).stdout)
    assert inspected["Created"] == "2024-06-01T10:00:00Z"
    assert inspected["Labels"] == labels
    assert (inspected["Os"], inspected["Architecture"]) == ("linux", "amd64")


async def test_each_platform_of_a_list_carries_its_own_architecture_and_variant(
    seeder: ImageSeeder, registry: LocalRegistry, unique_repo: str, skopeo: Skopeo
) -> None:
    await seeder.push(unique_repo, "2.0", platforms=("linux/amd64", "linux/arm64/v8"))

    ref = f"docker://{registry.host}/{unique_repo}:2.0"
    listing = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout)
    platforms = [m["platform"] for m in listing["manifests"]]
    arm = json.loads(
        skopeo("inspect", "--override-arch", "arm64", "--tls-verify=false", ref).stdout
    )
    assert platforms == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    assert arm["Architecture"] == "arm64"


async def test_push_many_pushes_every_tag_with_distinct_digests(
    seeder: ImageSeeder, registry: LocalRegistry, unique_repo: str, skopeo: Skopeo
) -> None:
    tags = [f"1.{minor}.0" for minor in range(12)]

    digests = await seeder.push_many(unique_repo, tags, concurrency=4, created=CREATED)

    listed = json.loads(
        skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/{unique_repo}").stdout
    )
    assert sorted(listed["Tags"]) == sorted(tags)
    assert sorted(digests) == sorted(tags)
    assert len(set(digests.values())) == len(tags)


async def test_pushing_the_same_tag_again_with_a_new_date_moves_the_tag(
    seeder: ImageSeeder, unique_repo: str
) -> None:
    first = await seeder.push(unique_repo, "latest", created=CREATED)
    second = await seeder.push(unique_repo, "latest", created=CREATED + dt.timedelta(days=1))

    assert first != second
    assert await seeder.digest_of(unique_repo, "latest") == second


async def test_deleting_a_tag_removes_it_from_the_tag_list(
    seeder: ImageSeeder, registry: LocalRegistry, unique_repo: str, skopeo: Skopeo
) -> None:
    await seeder.push(unique_repo, "keep", created=CREATED)
    await seeder.push(unique_repo, "drop", created=CREATED + dt.timedelta(hours=1))

    await seeder.delete(unique_repo, "drop")

    listed = json.loads(
        skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/{unique_repo}").stdout
    )
    assert listed["Tags"] == ["keep"]


async def test_an_oci_image_is_invisible_without_the_oci_accept_type(
    seeder: ImageSeeder, registry: LocalRegistry, unique_repo: str
) -> None:
    """The 2.8.2 quirk the registry client must cope with (reference §1.3)."""
    await seeder.push(unique_repo, "oci", media="oci")
    url = f"{registry.url}/v2/{unique_repo}/manifests/oci"
    docker_only = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}

    async with aiohttp.ClientSession() as session:
        async with session.head(url, headers=docker_only) as narrow:
            narrow_status = narrow.status
        async with session.head(url, headers={"Accept": ACCEPT_ALL}) as wide:
            wide_status = wide.status

    assert (narrow_status, wide_status) == (404, 200)


async def test_deleting_an_unknown_tag_is_an_error_naming_the_request(
    seeder: ImageSeeder, unique_repo: str
) -> None:
    with pytest.raises(SeedingFailed, match=r"HEAD .*/manifests/nope answered 404"):
        await seeder.delete(unique_repo, "nope")
