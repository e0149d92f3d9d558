"""The fault registry as an OCI distribution 1.1 registry: it takes pushes checked as
distribution checks them, indexes manifests pushed with a ``subject``, and serves the
referrers API (filter, ``OCI-Filters-Applied``, ``OCI-Subject``), or, switched off, answers
that route exactly as Debian's docker-registry 2.8.2 does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest

from devcluster import cosign
from devcluster.faultregistry import FaultRegistry, Kind
from devcluster.registry import LocalRegistry
from devcluster.seeder import Blob, ImageSeeder, SeedingFailed

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


async def call(
    method: str, url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=data, headers=headers) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


@pytest.fixture
async def pusher(fault_registry: FaultRegistry) -> AsyncIterator[ImageSeeder]:
    async with aiohttp.ClientSession() as session:
        yield ImageSeeder(fault_registry.url, session)


async def referrer(
    pusher: ImageSeeder, subject: str, artifact_type: str | None, *, config_type: str = "x/y"
) -> Blob:
    """Push an artifact manifest referring to ``subject``."""
    config = await pusher.push_blob("team/app", config_type, b"{}")
    layer = await pusher.push_blob("team/app", "text/plain", b"content " + subject.encode())
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
        "subject": await pusher.descriptor_of("team/app", subject),
        "annotations": {"org.opencontainers.image.created": "2024-06-01T00:00:00Z"},
    }
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    manifest = Blob.of(MANIFEST, json.dumps(doc).encode())
    headers = await pusher.put_manifest("team/app", manifest.digest, manifest)
    assert headers["OCI-Subject"] == subject
    return manifest


async def test_pushed_images_are_served_back_byte_for_byte(
    fault_registry: FaultRegistry, pusher: ImageSeeder
) -> None:
    digest = await pusher.push("team/app", "1.0", platforms=("linux/amd64", "linux/arm64"))

    status, headers, _ = await call(
        "GET",
        f"{fault_registry.url}/v2/team/app/manifests/1.0",
        headers={"Accept": "application/vnd.docker.distribution.manifest.list.v2+json"},
    )

    assert (status, headers["Docker-Content-Digest"]) == (200, digest)
    assert fault_registry.count(Kind.MANIFEST_PUT) == 3
    assert fault_registry.count(Kind.BLOB_UPLOAD) == 8  # POST + PUT per layer and config


async def test_a_manifest_naming_a_missing_blob_is_refused_as_distribution_refuses_it(
    fault_registry: FaultRegistry, pusher: ImageSeeder
) -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "x", "digest": "sha256:" + "0" * 64, "size": 2},
        "layers": [],
    }

    status, _, body = await call(
        "PUT",
        f"{fault_registry.url}/v2/team/app/manifests/1.0",
        data=json.dumps(doc).encode(),
        headers={"Content-Type": MANIFEST},
    )

    assert status == 400 and json.loads(body)["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"


async def test_an_upload_whose_digest_is_wrong_is_refused(
    fault_registry: FaultRegistry,
) -> None:
    base = f"{fault_registry.url}/v2/team/app/blobs/uploads/"
    status, headers, _ = await call("POST", base)
    location = fault_registry.url + headers["Location"]

    put = await call("PUT", f"{location}?digest=sha256:{'1' * 64}", data=b"bytes")

    assert status == 202
    assert put[0] == 400 and b"DIGEST_INVALID" in put[2]


async def test_referrers_list_each_subject_manifests_with_artifact_type_and_annotations(
    fault_registry: FaultRegistry, pusher: ImageSeeder
) -> None:
    subject = await pusher.push("team/app", "1.0", media="oci")
    other = await pusher.push("team/app", "2.0", media="oci")
    typed = await referrer(pusher, subject, cosign.ARTIFACT_SIGNATURE)
    untyped = await referrer(pusher, subject, None, config_type="application/spdx+json")
    await referrer(pusher, other, cosign.MEDIA_BUNDLE)

    status, headers, body = await call(
        "GET", f"{fault_registry.url}/v2/team/app/referrers/{subject}"
    )

    index = json.loads(body)
    assert (status, headers["Content-Type"]) == (200, INDEX)
    assert "OCI-Filters-Applied" not in headers
    assert (index["schemaVersion"], index["mediaType"]) == (2, INDEX)
    assert index["manifests"] == [
        {
            "mediaType": MANIFEST,
            "digest": typed.digest,
            "size": len(typed.data),
            "artifactType": cosign.ARTIFACT_SIGNATURE,
            "annotations": {"org.opencontainers.image.created": "2024-06-01T00:00:00Z"},
        },
        {
            "mediaType": MANIFEST,
            "digest": untyped.digest,
            "size": len(untyped.data),
            "artifactType": "application/spdx+json",  # the config's media type
            "annotations": {"org.opencontainers.image.created": "2024-06-01T00:00:00Z"},
        },
    ]


@pytest.mark.parametrize("filtering", [True, False], ids=["filters", "ignores-filter"])
async def test_the_artifact_type_filter_is_applied_and_said_to_be(
    pusher: ImageSeeder, fault_registry: FaultRegistry, filtering: bool
) -> None:
    fault_registry.filter_referrers = filtering
    subject = await pusher.push("team/app", "1.0", media="oci")
    await referrer(pusher, subject, cosign.ARTIFACT_SIGNATURE)
    await referrer(pusher, subject, "application/spdx+json")

    _, headers, body = await call(
        "GET",
        f"{fault_registry.url}/v2/team/app/referrers/{subject}"
        f"?artifactType={quote(cosign.ARTIFACT_SIGNATURE, safe='')}",
    )

    types = [m["artifactType"] for m in json.loads(body)["manifests"]]
    if filtering:
        assert headers["OCI-Filters-Applied"] == "artifactType"
        assert types == [cosign.ARTIFACT_SIGNATURE]
    else:
        assert "OCI-Filters-Applied" not in headers
        assert types == [cosign.ARTIFACT_SIGNATURE, "application/spdx+json"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        pytest.param("team/app/referrers/sha256:" + "9" * 64, 200, None, id="no-referrers"),
        pytest.param("team/app/referrers/sha256:xyz", 400, "DIGEST_INVALID", id="bad-digest"),
        pytest.param("nobody/here/referrers/sha256:" + "9" * 64, 404, "NAME_UNKNOWN", id="repo"),
    ],
)
async def test_referrers_answers_follow_the_distribution_spec(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    path: str,
    status: int,
    code: str | None,
) -> None:
    await pusher.push("team/app", "1.0")

    answer = await call("GET", f"{fault_registry.url}/v2/{path}")

    assert answer[0] == status
    body = json.loads(answer[2])
    if code is None:
        assert body["manifests"] == []
    else:
        assert body["errors"][0]["code"] == code


async def test_referrer_pages_are_linked(pusher: ImageSeeder) -> None:
    paged = FaultRegistry(referrers_page_size=1)
    await paged.serve()
    try:
        async with aiohttp.ClientSession() as session:
            seeder = ImageSeeder(paged.url, session)
            subject = await seeder.push("team/app", "1.0", media="oci")
            first = await referrer(seeder, subject, cosign.ARTIFACT_SIGNATURE)
            second = await referrer(seeder, subject, cosign.MEDIA_BUNDLE)
        url = f"{paged.url}/v2/team/app/referrers/{subject}"
        _, headers, body = await call("GET", url)
        link = headers["Link"]
        target = link[link.index("<") + 1 : link.index(">")]
        _, last_headers, last = await call("GET", paged.url + target)
    finally:
        await paged.close()

    assert link.endswith('; rel="next"') and "Link" not in last_headers
    pages = [json.loads(body)["manifests"], json.loads(last)["manifests"]]
    assert [[m["digest"] for m in page] for page in pages] == [[first.digest], [second.digest]]


@pytest.mark.registry
async def test_switched_off_it_answers_the_referrers_route_as_distribution_2_8_does(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    digest = await seeder.push(unique_repo, "1.0", media="oci")
    real = await call("GET", f"{registry.url}/v2/{unique_repo}/referrers/{digest}")
    old = FaultRegistry(referrers=False)
    await old.serve()
    try:
        old.add_image(unique_repo, "1.0", media="oci")
        fake = await call("GET", f"{old.url}/v2/{unique_repo}/referrers/{digest}")
    finally:
        await old.close()

    assert (fake[0], fake[1]["Content-Type"], fake[2]) == (
        real[0],
        real[1]["Content-Type"],
        real[2],
    )


@pytest.mark.registry
@pytest.mark.parametrize("where", ["real", "fault"])
async def test_a_subject_push_without_the_api_gets_no_oci_subject_and_an_index_tag(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str, where: str
) -> None:
    key = cosign.generate_key()
    old = FaultRegistry(referrers=False)
    await old.serve()
    try:
        async with aiohttp.ClientSession() as session:
            target = seeder if where == "real" else ImageSeeder(old.url, session)
            digest = await target.push(unique_repo, "1.0", media="oci")
            first = await target.sign(unique_repo, digest, key, store="referrer")
            second = await target.sign(
                unique_repo, digest, key, store="referrer", signature_format="bundle"
            )
            status, _, body = await call(
                "GET",
                f"{target.base_url}/v2/{unique_repo}/manifests/{first.tag}",
                headers={"Accept": INDEX},
            )
    finally:
        await old.close()

    assert not first.referrers_api and first.tag == second.tag == digest.replace(":", "-")
    assert status == 200
    listed = json.loads(body)["manifests"]
    assert [(m["digest"], m["artifactType"]) for m in listed] == [
        (first.manifest, cosign.ARTIFACT_SIGNATURE),
        (second.manifest, cosign.MEDIA_BUNDLE),
    ]


async def test_a_manifest_put_under_a_mismatched_digest_is_refused(pusher: ImageSeeder) -> None:
    blob = await pusher.push_blob("team/app", "x/y", b"{}")
    doc = {"schemaVersion": 2, "mediaType": MANIFEST, "config": blob.descriptor(), "layers": []}
    manifest = Blob.of(MANIFEST, json.dumps(doc).encode())

    with pytest.raises(SeedingFailed, match="400"):
        await pusher.put_manifest("team/app", "sha256:" + "e" * 64, manifest)
