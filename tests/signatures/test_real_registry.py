"""Signatures in Debian's docker-registry 2.8.2, which has no referrers API: the client
falls back to cosign's ``sha256-<hex>.sig`` tag and the referrers tag schema, and counts
every request it makes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from devcluster import cosign
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater.credential_sources import CredentialCache, CredentialSource
from imageupdater.credentials import CredentialRef
from imageupdater.errors import RegistryAuthError
from imageupdater.images import ImageRef
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import (
    RegistryClient,
    SignatureSettings,
    verify_candidate,
)
from imageupdater.signatures import (
    BadSignature,
    SignatureSource,
    Unsigned,
    VerificationKey,
    Verified,
)
from tests.conftest import AUTH_PASSWORD, AUTH_USER

from .conftest import FAST, ManualClock, endpoint_for, verification_key

pytestmark = pytest.mark.registry


def requests(client: RegistryClient) -> dict[str, int]:
    """Requests by kind, all registries and statuses together."""
    counted: dict[str, int] = {}
    for kinds in client.snapshot()["requests"].values():
        for kind, classes in kinds.items():
            counted[kind] = counted.get(kind, 0) + sum(classes.values())
    counted.pop("ping", None)
    return counted


def sig_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


async def test_the_registry_answers_the_referrers_route_with_a_plain_404(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    digest = await seeder.push(unique_repo, "1.0")

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{registry.url}/v2/{unique_repo}/referrers/{digest}") as resp,
    ):
        answer = (resp.status, resp.headers["Content-Type"], await resp.read())

    assert answer == (404, "text/plain; charset=utf-8", b"404 page not found\n")


async def test_a_cosign_signed_image_is_verified_through_its_sig_tag_in_three_requests(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await seeder.push(unique_repo, "1.0")
    await seeder.sign(unique_repo, digest, signing_key)
    endpoint = endpoint_for(registry.url)

    async with RegistryClient(settings=FAST) as client:
        verdict = await client.verify_signature(endpoint, unique_repo, digest, public_key)
        first = requests(client)
        again = await client.verify_signature(endpoint, unique_repo, digest, public_key)
        second = requests(client)
        cache = client.snapshot()["cache"]["signature"]

    by = SignatureSource("tag", sig_tag(digest), 0)
    assert verdict == again == Verified(digest, by, public_key.fingerprint)
    assert first == {"referrers": 1, "signature": 1, "blob": 1}
    assert second == first  # a verified digest is never asked about again
    assert cache == {"hit": 1, "miss": 1}


async def test_an_unsigned_image_is_unsigned_and_rechecked_after_the_ttl_not_before(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
    clock: ManualClock,
) -> None:
    digest = await seeder.push(unique_repo, "1.0")
    endpoint = endpoint_for(registry.url)
    settings = SignatureSettings(recheck_after=60.0)

    async with RegistryClient(settings=FAST, clock=clock, signature_settings=settings) as client:
        before = await client.verify_signature(endpoint, unique_repo, digest, public_key)
        cold = requests(client)
        await seeder.sign(unique_repo, digest, signing_key)  # CI signs a moment later
        clock.advance(59)
        kept = await client.verify_signature(endpoint, unique_repo, digest, public_key)
        within = requests(client)
        clock.advance(2)
        after = await client.verify_signature(endpoint, unique_repo, digest, public_key)
        rechecked = requests(client)

    assert isinstance(before, Unsigned) and kept == before
    assert sig_tag(digest) in before.reason and digest.replace(":", "-") in before.reason
    # the referrers route, the .sig tag, the referrers tag schema
    assert cold == {"referrers": 1, "signature": 2}
    assert within == cold
    assert isinstance(after, Verified)
    # the repository is remembered to have no referrers API: only the .sig tag and its payload
    assert rechecked == {"referrers": 1, "signature": 3, "blob": 1}


async def test_a_signature_by_another_key_is_a_bad_signature(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    other_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await seeder.push(unique_repo, "1.0")
    await seeder.sign(unique_repo, digest, other_key)

    async with RegistryClient(settings=FAST) as client:
        verdict = await client.verify_signature(
            endpoint_for(registry.url), unique_repo, digest, public_key
        )

    assert isinstance(verdict, BadSignature)
    assert verdict.reason == (
        f"its one signature does not verify: tag {sig_tag(digest)} layer 0: it is not signed "
        f"by the configured key ({public_key.short})"
    )


async def test_another_images_signature_copied_under_this_images_tag_is_refused(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    signed = await seeder.push(unique_repo, "1.0")
    target = await seeder.push(unique_repo, "2.0")
    artifact = await seeder.sign(unique_repo, signed, signing_key)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{registry.url}/v2/{unique_repo}/manifests/{artifact.tag}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        ) as resp,
    ):
        copied = await resp.read()
    async with aiohttp.ClientSession() as session:
        put = f"{registry.url}/v2/{unique_repo}/manifests/{sig_tag(target)}"
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        async with session.put(put, data=copied, headers=headers) as resp:
            assert resp.status == 201

    async with RegistryClient(settings=FAST) as client:
        verdict = await client.verify_signature(
            endpoint_for(registry.url), unique_repo, target, public_key
        )

    assert isinstance(verdict, BadSignature)
    assert "(a signature copied from another image)" in verdict.reason


async def test_a_payload_altered_after_signing_is_a_bad_signature(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await seeder.push(unique_repo, "1.0")
    honest = cosign.simple_signing_payload(f"reg/{unique_repo}", digest)
    altered = honest.replace(b'"optional":null', b'"optional":{"approved":"yes"}')
    await seeder.sign(
        unique_repo,
        digest,
        signing_key,
        payload=altered,
        signature=cosign.sign_bytes(signing_key, honest),
    )

    async with RegistryClient(settings=FAST) as client:
        verdict = await client.verify_signature(
            endpoint_for(registry.url), unique_repo, digest, public_key
        )

    assert (
        isinstance(verdict, BadSignature) and "not signed by the configured key" in verdict.reason
    )


async def test_of_several_appended_signatures_one_good_one_is_enough(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
    other_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await seeder.push(unique_repo, "1.0")
    await seeder.sign(unique_repo, digest, other_key)
    await seeder.sign(unique_repo, digest, signing_key)  # cosign appends a layer

    async with RegistryClient(settings=FAST) as client:
        verdict = await client.verify_signature(
            endpoint_for(registry.url), unique_repo, digest, public_key
        )
        counted = requests(client)

    assert verdict == Verified(
        digest, SignatureSource("tag", sig_tag(digest), 1), public_key.fingerprint
    )
    # both layers sign the same payload (one blob, by digest): it is fetched once
    assert counted == {"referrers": 1, "signature": 1, "blob": 1}


async def test_a_cosign_3_bundle_is_found_through_the_referrers_tag_schema(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await seeder.push(unique_repo, "1.0", media="oci")
    artifact = await seeder.sign(
        unique_repo, digest, signing_key, store="referrer", signature_format="bundle"
    )

    async with RegistryClient(settings=FAST) as client:
        verdict = await client.verify_signature(
            endpoint_for(registry.url), unique_repo, digest, public_key
        )
        counted = requests(client)

    assert (artifact.referrers_api, artifact.tag) == (False, digest.replace(":", "-"))
    assert verdict == Verified(
        digest, SignatureSource("referrer", artifact.manifest, 0), public_key.fingerprint
    )
    # referrers 404, .sig 404, the schema tag's index, its one referrer manifest, the bundle
    assert counted == {"referrers": 1, "signature": 2, "manifest_get": 1, "blob": 1}


@pytest.mark.parametrize("media", ["docker", "oci"])
async def test_a_multi_platform_image_is_verified_by_its_index_digest_from_its_tag(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
    media: str,
) -> None:
    digest = await seeder.push(
        unique_repo,
        "1.0",
        platforms=("linux/amd64", "linux/arm64/v8"),
        media=media,  # type: ignore[arg-type]
    )
    await seeder.sign(unique_repo, digest, signing_key, media=media)  # type: ignore[arg-type]
    host = registry.url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: local\n  prefix: {host}\n  api_url: {registry.url}\n",
        source="test",
    )
    image = ImageRef.parse(f"{host}/{unique_repo}")

    async with RegistryClient(settings=FAST) as client:
        verdict = await verify_candidate(client, conf, image, public_key, tag="1.0")
        counted = requests(client)

    assert isinstance(verdict, Verified) and verdict.digest == digest
    assert counted == {"manifest_head": 1, "referrers": 1, "signature": 1, "blob": 1}


async def test_concurrent_checks_of_one_digest_share_their_requests(
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await seeder.push(unique_repo, "1.0")
    await seeder.sign(unique_repo, digest, signing_key)
    endpoint = endpoint_for(registry.url)

    async with RegistryClient(settings=FAST) as client:
        verdicts = await asyncio.gather(
            *(client.verify_signature(endpoint, unique_repo, digest, public_key) for _ in range(5))
        )
        counted = requests(client)

    assert all(isinstance(v, Verified) for v in verdicts)
    assert counted == {"referrers": 1, "signature": 1, "blob": 1}


@pytest.fixture
async def auth_seeder(auth_registry: LocalRegistry) -> AsyncIterator[ImageSeeder]:
    async with aiohttp.ClientSession() as session:
        yield ImageSeeder(auth_registry.url, session, username=AUTH_USER, password=AUTH_PASSWORD)


async def test_a_private_images_signature_is_read_with_the_images_own_pull_secret(
    auth_registry: LocalRegistry,
    auth_seeder: ImageSeeder,
    unique_repo: str,
    signing_key: ec.EllipticCurvePrivateKey,
) -> None:
    digest = await auth_seeder.push(unique_repo, "1.0")
    await auth_seeder.sign(unique_repo, digest, signing_key)
    key = verification_key(signing_key)
    pull_secret = CredentialRef.parse("env:PULL_SECRET")
    source = CredentialSource(secrets=None, environ={"PULL_SECRET": f"{AUTH_USER}:{AUTH_PASSWORD}"})
    endpoint = endpoint_for(auth_registry.url)

    async with RegistryClient(settings=FAST, credentials=CredentialCache(source)) as client:
        verdict = await client.verify_signature(
            endpoint, unique_repo, digest, key, credentials=pull_secret
        )
        with pytest.raises(RegistryAuthError):
            # without the pull secret the tag is refused: an error, never "unsigned"
            await client.verify_signature(endpoint, unique_repo, digest, key)

    assert isinstance(verdict, Verified)
