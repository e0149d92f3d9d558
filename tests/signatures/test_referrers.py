"""Signatures found through the OCI 1.1 referrers API, against the fault registry serving it
as the distribution spec 1.1 does; its failures are errors, never "unsigned"."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import CollectorRegistry

from devcluster import cosign
from devcluster.faultregistry import FaultRegistry, Kind
from devcluster.seeder import Blob, ImageSeeder
from imageupdater.errors import RegistryUnavailable
from imageupdater.images import ImageRef
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import RegistryClient, SignatureSettings, verify_candidate
from imageupdater.registry_metrics import RegistryCounterCollector
from imageupdater.signatures import (
    BadSignature,
    SignatureSource,
    Unsigned,
    VerificationKey,
    Verified,
)

from .conftest import FAST, ManualClock, endpoint_for

REPO = "team/app"


@pytest.fixture
async def pusher(fault_registry: FaultRegistry) -> AsyncIterator[ImageSeeder]:
    async with aiohttp.ClientSession() as session:
        yield ImageSeeder(fault_registry.url, session)


def counts(fault: FaultRegistry) -> dict[str, int]:
    """What the registry saw, by kind (pings and pushes left out)."""
    skipped = {Kind.PING, Kind.MANIFEST_PUT, Kind.BLOB_UPLOAD}
    return {kind.value: n for kind, n in fault.counts().items() if kind not in skipped}


async def verify(
    fault: FaultRegistry, digest: str, key: VerificationKey, **client: object
) -> tuple[object, dict[str, int]]:
    fault.reset_log()
    async with RegistryClient(settings=FAST, **client) as reader:  # type: ignore[arg-type]
        verdict = await reader.verify_signature(endpoint_for(fault.url), REPO, digest, key)
    return verdict, counts(fault)


@pytest.mark.parametrize("signature_format", ["simple-signing", "bundle"])
async def test_a_referrer_signature_is_verified_in_three_requests(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
    signature_format: str,
) -> None:
    digest = await pusher.push(REPO, "1.0", media="oci")
    artifact = await pusher.sign(
        REPO,
        digest,
        signing_key,
        store="referrer",
        signature_format=signature_format,  # type: ignore[arg-type]
    )

    verdict, seen = await verify(fault_registry, digest, public_key)

    assert artifact.referrers_api and artifact.tag is None
    assert verdict == Verified(
        digest, SignatureSource("referrer", artifact.manifest, 0), public_key.fingerprint
    )
    # the referrers list, the signature manifest, its payload: no signature tag is read
    assert seen == {"referrers": 1, "manifest_get": 1, "blob": 1}


async def test_a_legacy_sig_tag_counts_on_a_registry_with_the_referrers_api(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await pusher.push(REPO, "1.0")
    await pusher.sign(REPO, digest, signing_key)  # cosign 2's default: the .sig tag

    verdict, seen = await verify(fault_registry, digest, public_key)

    assert isinstance(verdict, Verified) and verdict.by.kind == "tag"
    # the referrers tag schema is not looked at where the API exists
    assert seen == {"referrers": 1, "manifest_get": 1, "blob": 1}
    assert fault_registry.log[-2].path.endswith(".sig")


async def test_an_unsigned_image_costs_the_referrers_list_and_the_sig_tag(
    fault_registry: FaultRegistry, pusher: ImageSeeder, public_key: VerificationKey
) -> None:
    digest = await pusher.push(REPO, "1.0")

    verdict, seen = await verify(fault_registry, digest, public_key)

    assert isinstance(verdict, Unsigned)
    assert verdict.reason.startswith("none found in the referrers API, tag sha256-")
    assert seen == {"referrers": 1, "manifest_get": 1}


async def test_other_referrers_such_as_an_sbom_are_never_fetched(
    fault_registry: FaultRegistry, pusher: ImageSeeder, public_key: VerificationKey
) -> None:
    digest = await pusher.push(REPO, "1.0", media="oci")
    subject = await pusher.descriptor_of(REPO, digest)
    sbom = await pusher.push_blob(REPO, "application/spdx+json", b'{"spdxVersion": "2.3"}')
    empty = await pusher.push_blob(REPO, *cosign.EMPTY_CONFIG)
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": empty.descriptor(),
        "layers": [sbom.descriptor()],
        "subject": subject,
    }
    body = json.dumps(doc).encode()
    manifest = Blob.of("application/vnd.oci.image.manifest.v1+json", body)
    await pusher.put_manifest(REPO, manifest.digest, manifest)

    verdict, seen = await verify(fault_registry, digest, public_key)

    assert isinstance(verdict, Unsigned)
    assert seen == {"referrers": 1, "manifest_get": 1}  # the .sig tag, not the SBOM


async def test_a_failing_referrers_api_is_an_error_not_unsigned_and_is_not_remembered(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await pusher.push(REPO, "1.0", media="oci")
    await pusher.sign(REPO, digest, signing_key, store="referrer")
    endpoint = endpoint_for(fault_registry.url)
    fault_registry.fail(4, kinds=[Kind.REFERRERS])  # every attempt the client makes

    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(RegistryUnavailable, match="referrers"):
            await client.verify_signature(endpoint, REPO, digest, public_key)
        verdict = await client.verify_signature(endpoint, REPO, digest, public_key)

    assert isinstance(verdict, Verified)


async def test_without_the_api_the_client_falls_back_and_remembers_it_per_repository(
    pusher: ImageSeeder, signing_key: ec.EllipticCurvePrivateKey, public_key: VerificationKey
) -> None:
    old = FaultRegistry(referrers=False)
    await old.serve()
    try:
        async with aiohttp.ClientSession() as session:
            seeder = ImageSeeder(old.url, session)
            first = await seeder.push(REPO, "1.0", media="oci")
            second = await seeder.push(REPO, "2.0", media="oci")
            artifact = await seeder.sign(REPO, first, signing_key, store="referrer")
            await seeder.sign(REPO, second, signing_key)
        old.reset_log()
        async with RegistryClient(settings=FAST) as client:
            endpoint = endpoint_for(old.url)
            one = await client.verify_signature(endpoint, REPO, first, public_key)
            two = await client.verify_signature(endpoint, REPO, second, public_key)
        seen = counts(old)
    finally:
        await old.close()

    assert artifact.tag == first.replace(":", "-") and not artifact.referrers_api
    assert isinstance(one, Verified) and one.by.kind == "referrer"
    assert isinstance(two, Verified) and two.by.kind == "tag"
    # first: referrers 404, .sig 404, schema index, its manifest, payload; second: .sig, payload
    assert seen == {"referrers": 1, "manifest_get": 4, "blob": 2}


async def test_a_paginated_referrers_list_is_read_to_its_end(
    signing_key: ec.EllipticCurvePrivateKey,
    other_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    paged = FaultRegistry(referrers_page_size=1)
    await paged.serve()
    try:
        async with aiohttp.ClientSession() as session:
            seeder = ImageSeeder(paged.url, session)
            digest = await seeder.push(REPO, "1.0", media="oci")
            await seeder.sign(REPO, digest, other_key, store="referrer")
            await seeder.sign(
                REPO, digest, signing_key, store="referrer", signature_format="bundle"
            )
        verdict, seen = await verify(paged, digest, public_key)
    finally:
        await paged.close()

    assert isinstance(verdict, Verified) and verdict.by.kind == "referrer"
    assert seen["referrers"] == 2


async def test_a_corrupted_payload_is_a_bad_signature_rechecked_later(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
    clock: ManualClock,
) -> None:
    digest = await pusher.push(REPO, "1.0", media="oci")
    await pusher.sign(REPO, digest, signing_key, store="referrer")
    endpoint = endpoint_for(fault_registry.url)
    settings = SignatureSettings(recheck_after=30)
    fault_registry.malformed(times=1, kinds=[Kind.BLOB])

    async with RegistryClient(settings=FAST, clock=clock, signature_settings=settings) as client:
        bad = await client.verify_signature(endpoint, REPO, digest, public_key)
        clock.advance(31)
        good = await client.verify_signature(endpoint, REPO, digest, public_key)

    assert isinstance(bad, BadSignature) and "does not match its digest" in bad.reason
    assert isinstance(good, Verified)


async def test_an_oversized_payload_is_refused_without_being_downloaded(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await pusher.push(REPO, "1.0", media="oci")
    padded = cosign.simple_signing_payload("r/app", digest) + b" " * 300_000
    await pusher.sign(REPO, digest, signing_key, store="referrer", payload=padded)

    verdict, seen = await verify(fault_registry, digest, public_key)

    assert isinstance(verdict, BadSignature)
    assert "more than the 262144 a signature may take" in verdict.reason
    assert "blob" not in seen


async def test_within_a_cycle_an_unsigned_verdict_is_kept_past_its_ttl(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
    clock: ManualClock,
) -> None:
    digest = await pusher.push(REPO, "1.0")
    endpoint = endpoint_for(fault_registry.url)

    async with RegistryClient(settings=FAST, clock=clock) as client:
        with client.cycle():
            first = await client.verify_signature(endpoint, REPO, digest, public_key)
            await pusher.sign(REPO, digest, signing_key)
            clock.advance(3600)
            same = await client.verify_signature(endpoint, REPO, digest, public_key)
        after = await client.verify_signature(endpoint, REPO, digest, public_key)

    assert isinstance(first, Unsigned) and same == first
    assert isinstance(after, Verified)


async def test_expected_404s_of_signature_lookups_are_not_counted_as_failed_requests(
    public_key: VerificationKey,
) -> None:
    old = FaultRegistry(referrers=False)
    await old.serve()
    try:
        async with aiohttp.ClientSession() as session:
            digest = await ImageSeeder(old.url, session).push(REPO, "1.0")
        async with RegistryClient(settings=FAST) as client:
            await client.verify_signature(endpoint_for(old.url), REPO, digest, public_key)
            snapshot = client.snapshot()
    finally:
        await old.close()
    metrics = CollectorRegistry()
    metrics.register(RegistryCounterCollector(lambda: snapshot))
    host = old.url.removeprefix("http://")

    def value(name: str, **labels: str) -> float | None:
        return metrics.get_sample_value(name, {"registry": host, **labels})

    assert value("image_updater_registry_requests_total", kind="referrers", status="4xx") == 1
    assert value("image_updater_registry_requests_total", kind="signature", status="4xx") == 2
    assert value("argocd_image_updater_registry_requests_total") == 4  # with the ping
    assert value("argocd_image_updater_registry_requests_failed_total") == 0


async def test_a_verified_digest_is_never_asked_about_again_even_past_the_recheck_time(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
    clock: ManualClock,
) -> None:
    digest = await pusher.push(REPO, "1.0", media="oci")
    await pusher.sign(REPO, digest, signing_key, store="referrer")
    endpoint = endpoint_for(fault_registry.url)

    async with RegistryClient(settings=FAST, clock=clock) as client:
        first = await client.verify_signature(endpoint, REPO, digest, public_key)
        fault_registry.reset_log()
        clock.advance(7 * 24 * 3600)
        again = await client.verify_signature(endpoint, REPO, digest, public_key)

    assert isinstance(first, Verified) and again == first
    assert fault_registry.log == ()


async def test_listing_signatures_reads_every_place_and_judges_nothing_until_asked(
    fault_registry: FaultRegistry,
    pusher: ImageSeeder,
    signing_key: ec.EllipticCurvePrivateKey,
    other_key: ec.EllipticCurvePrivateKey,
    public_key: VerificationKey,
) -> None:
    digest = await pusher.push(REPO, "1.0", media="oci")
    referrer = await pusher.sign(REPO, digest, signing_key, store="referrer")
    await pusher.sign(REPO, digest, other_key)

    async with RegistryClient(settings=FAST) as client:
        found = await client.signatures(endpoint_for(fault_registry.url), REPO, digest)

    sources = [str(item.source) for item in found.signatures]
    assert sources == [
        f"referrer {referrer.manifest[:19]}… layer 0",
        f"tag {digest.replace(':', '-')}.sig layer 0",
    ]
    assert found.looked == ("the referrers API", f"tag {digest.replace(':', '-')}.sig")
    assert isinstance(found.verdict(public_key), Verified)


async def test_a_candidate_needs_a_digest_or_a_tag(public_key: VerificationKey) -> None:
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(ValueError, match="digest or tag"):
            await verify_candidate(
                client,
                RegistriesConf.parse("registries: []\n", source="t"),
                ImageRef.parse("reg.example/app"),
                public_key,
            )
