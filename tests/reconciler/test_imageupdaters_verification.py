"""`imagesVerification` in ImageUpdater resources: the version a resource would write is
written only when its cosign signature verifies with the key in the named Secret; an
unsigned or wrongly signed choice leaves the image as it runs, with the reason in the
Application's ImageUpdateFailed Event, and a missing Secret says which one. Real registry
(cosign's ``.sig`` tag scheme), real signatures made here with `cryptography`."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from devcluster import cosign
from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater import kube
from imageupdater.service import ResolverService
from reconciler.metrics import ReconcilerMetrics
from tests.imageupdaters.builders import image, ref, resource
from tests.reconciler.conftest import application, seed_tags
from tests.reconciler.imageupdater_rig import events_of, images_of, running


def key_secret(key: ec.EllipticCurvePrivateKey, name: str = "cosign") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "argocd"},
        "data": {"cosign.pub": base64.b64encode(cosign.public_pem(key)).decode()},
    }


def verified_resource(name: str, holder: str = "cosign") -> dict[str, Any]:
    return resource(
        ref("web", image("web", f"{name}:1.x")),
        imagesVerification={
            "enabled": True,
            "cosignKey": {"secretName": holder, "key": "cosign.pub"},
        },
    )


async def start(
    kube_api: KubeAPI,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    repo: str,
    signed: dict[str, ec.EllipticCurvePrivateKey],
    holder: str = "cosign",
) -> str:
    digests = await seed_tags(seeder, repo, ["1.0.0", "1.1.0", "1.2.0"])
    for tag, key in signed.items():
        await seeder.sign(repo, digests[tag], key)
    name = f"{registry.host}/{repo}"
    kube_api.store.put(application("web", {}, images=[f"{name}:1.0.0"]))
    kube_api.store.put(verified_resource(name, holder))
    return name


async def test_a_signed_best_candidate_is_written(
    kube_api: KubeAPI,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    key = cosign.generate_key()
    kube_api.store.put(key_secret(key))
    name = await start(kube_api, registry, seeder, unique_repo, {"1.2.0": key})
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    assert images_of(kube_api, "web") == [f"{name}:1.2.0"]
    assert events_of(kube_api, "Application", "web", "ImageUpdateFailed") == []


async def test_an_unsigned_or_wrongly_signed_best_candidate_is_not_written_and_says_why(
    kube_api: KubeAPI,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    key, stranger = cosign.generate_key(), cosign.generate_key()
    kube_api.store.put(key_secret(key))
    # 1.1.0 is signed with the right key, but the strategy's choice is 1.2.0, signed by
    # someone else: nothing is written (no walking back to an older signed version).
    await start(kube_api, registry, seeder, unique_repo, {"1.1.0": key, "1.2.0": stranger})
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
        first = rig.controller.cycles[0]
    assert images_of(kube_api, "web") == []
    assert first.errors == 1 and first.images_updated == 0
    [event] = events_of(kube_api, "Application", "web", "ImageUpdateFailed")
    assert "1.2.0" in event["message"] and "argocd/cosign" in event["message"]
    assert event["type"] == "Warning"


async def test_a_missing_key_secret_fails_the_image_naming_the_secret(
    kube_api: KubeAPI,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    key = cosign.generate_key()
    await start(kube_api, registry, seeder, unique_repo, {"1.2.0": key}, holder="absent")
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    assert images_of(kube_api, "web") == []
    [event] = events_of(kube_api, "Application", "web", "ImageUpdateFailed")
    assert "argocd/absent" in event["message"]
