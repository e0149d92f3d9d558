"""Upstream v1's per-resource series: ``image_updater_cr_name`` / ``_namespace`` on the
watched, updated and error counts, beside v0's ``application`` label, so dashboards of
either keep working; a deleted resource's series go with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.service import ResolverService
from reconciler.imageupdaters import IMAGE_UPDATERS
from reconciler.metrics import ReconcilerMetrics
from tests.imageupdaters.builders import image, ref, resource
from tests.reconciler.conftest import application
from tests.reconciler.imageupdater_rig import running
from tests.waiting import async_wait_until

WATCHED = "argocd_image_updater_applications_watched_total"
UPDATED = "argocd_image_updater_images_updated_total"
IMAGES = "argocd_image_updater_images_watched_total"


def cr(name: str) -> dict[str, str]:
    return {"image_updater_cr_name": name, "image_updater_cr_namespace": "argocd"}


async def test_each_resource_counts_its_applications_and_images_under_its_own_labels(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0"])
    for app in ("team-a", "team-b"):
        kube_api.store.put(application(app, {}, images=[f"{name}:1.0.0"]))
    kube_api.store.put(
        application("annotated", {"image-list": f"web={name}:1.x"}, images=[f"{name}:1.0.0"])
    )
    kube_api.store.put(resource(ref("team-*", image("web", f"{name}:1.x")), name="teams"))
    kube_api.store.put(resource(ref("nobody-*", image("web", f"{name}:1.x")), name="idle"))
    sample = metrics.registry.get_sample_value
    async with running(cluster, resolver, metrics, annotation_namespaces=("argocd",)) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
        assert sample(WATCHED, cr("teams")) == 2.0
        assert sample(WATCHED, cr("idle")) == 0.0
        assert sample(WATCHED, cr("")) is None
        annotation_mode = {"image_updater_cr_name": "", "image_updater_cr_namespace": ""}
        assert sample(WATCHED, annotation_mode) == 1.0
        assert sample(UPDATED, {"application": "argocd/team-a", **cr("teams")}) == 1.0
        assert sample(IMAGES, {"application": "argocd/team-b", **cr("teams")}) == 1.0
        assert sample(UPDATED, {"application": "argocd/annotated", **annotation_mode}) == 1.0
        kube_api.store.delete(IMAGE_UPDATERS.group, None, "imageupdaters", "argocd", "idle")
        await async_wait_until(
            lambda: sample(WATCHED, cr("idle")) is None,
            within=5,
            what="the deleted resource's series to go",
        )
        assert sample(WATCHED, cr("teams")) == 2.0
