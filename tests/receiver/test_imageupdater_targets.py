"""A push finds the Applications an ImageUpdater resource configures, by that resource's
images, as it finds annotated ones by their annotations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.images import ImageRef
from imageupdater.pushevents import image_key
from imageupdater.service import ResolverService
from reconciler.metrics import ReconcilerMetrics
from reconciler.pushes import TargetIndex
from tests.imageupdaters.builders import image, ref, resource
from tests.reconciler.conftest import application
from tests.reconciler.imageupdater_rig import running


async def test_an_application_an_imageupdater_configures_is_a_target_of_its_images_pushes(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("web", {}, images=[f"{name}:1.0.0"]))
    kube_api.store.put(resource(ref("web", image("web", f"{name}:1.x"))))
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
        repository = image_key(ImageRef.parse(name), {})
        rules = rig.cycle.settings.credentials
        through_resources = TargetIndex(
            lambda: rig.controller.index, rig.cycle.reviews, rules, configs=rig.cycle.configs
        )
        assert list(await through_resources.targets(repository)) == ["argocd/web"]
        # Read from its annotations alone, the same Application uses no repository at all.
        annotations_only = TargetIndex(lambda: rig.controller.index, rig.cycle.reviews, rules)
        assert await annotations_only.targets(repository) == {}
