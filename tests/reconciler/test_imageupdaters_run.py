"""`run` acts on ImageUpdater resources: selection, prompt reaction, namespaces, side by side
with annotations, and the rule for an Application selected both ways."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.service import ResolverService
from reconciler.imageupdaters import CONFLICT_REASON, IMAGE_UPDATERS
from reconciler.metrics import ReconcilerMetrics
from tests.imageupdaters.builders import image, ref, resource
from tests.reconciler.conftest import application
from tests.reconciler.imageupdater_rig import events_of, images_of, running


def kustomized(name: str, live: str, *, namespace: str = "argocd", **more: object) -> dict:
    return application(name, {}, images=[live], namespace=namespace, **more)  # type: ignore[arg-type]


async def test_a_resource_selecting_two_applications_updates_both_in_one_cycle_with_one_tag_list(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    kube_api.store.put(kustomized("team-a", f"{name}:1.0.0"))
    kube_api.store.put(kustomized("team-b", f"{name}:1.0.0"))
    kube_api.store.put(kustomized("other", f"{name}:1.0.0"))
    kube_api.store.put(resource(ref("team-*", image("web", f"{name}:1.x")), name="teams"))
    before = resolver.client.counters.requests(kind="tags")
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    assert images_of(kube_api, "team-a") == [f"{name}:1.1.0"]
    assert images_of(kube_api, "team-b") == [f"{name}:1.1.0"]
    assert images_of(kube_api, "other") == []  # not selected, no annotations
    first = rig.controller.cycles[0]
    assert first.images_updated == 2
    assert resolver.client.counters.requests(kind="tags") - before == 1


async def test_a_changed_resource_is_acted_on_without_waiting_for_the_interval(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    kube_api.store.put(kustomized("web", f"{name}:1.0.0"))
    async with running(cluster, resolver, metrics, interval=3600) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
        assert images_of(kube_api, "web") == []
        await cluster.create(
            IMAGE_UPDATERS, "argocd", resource(ref("web", image("web", f"{name}:1.x")))
        )
        await rig.controller.after_a_cycle(
            lambda: images_of(kube_api, "web") == [f"{name}:1.1.0"], "the new resource's update"
        )
        await cluster.patch(
            IMAGE_UPDATERS,
            "argocd",
            "updater",
            {"spec": {"applicationRefs": [ref("web", image("web", f"{name}:2.x"))]}},
        )
        await rig.controller.after_a_cycle(
            lambda: images_of(kube_api, "web") == [f"{name}:2.0.0"], "the edited resource's update"
        )
    assert [c for c in rig.controller.cycles if c.images_updated] != []


@pytest.mark.parametrize(
    ("watch", "acted_on"),
    [
        pytest.param(("argocd",), {"argocd"}, id="own-namespace"),
        pytest.param(("team-a", "team-b"), {"team-a", "team-b"}, id="a-list"),
        pytest.param(None, {"argocd", "team-a", "team-b", "team-c"}, id="every-namespace"),
    ],
)
async def test_watch_namespaces_decides_whose_resources_are_acted_on(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
    watch: tuple[str, ...] | None,
    acted_on: set[str],
) -> None:
    name = await seeded(["1.0.0", "1.1.0"])
    namespaces = ["argocd", "team-a", "team-b", "team-c"]
    for namespace in namespaces:
        kube_api.store.put(kustomized("web", f"{name}:1.0.0", namespace=namespace))
        kube_api.store.put(resource(ref("web", image("web", f"{name}:1.x")), namespace=namespace))
    async with running(
        cluster, resolver, metrics, watch_namespaces=watch, annotation_namespaces=("argocd",)
    ) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    updated = {
        namespace
        for namespace in namespaces
        if images_of(kube_api, "web", namespace) == [f"{name}:1.1.0"]
    }
    assert updated == acted_on


async def test_annotated_applications_and_resources_work_side_by_side(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(
        application("annotated", {"image-list": f"{name}:1.x"}, images=[f"{name}:1.0.0"])
    )
    kube_api.store.put(kustomized("managed", f"{name}:1.0.0"))
    kube_api.store.put(resource(ref("managed", image("web", f"{name}:1.x"))))
    before = resolver.client.counters.requests(kind="tags")
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    assert images_of(kube_api, "annotated") == [f"{name}:1.1.0"]
    assert images_of(kube_api, "managed") == [f"{name}:1.1.0"]
    assert resolver.client.counters.requests(kind="tags") - before == 1  # one cycle, one list


async def test_an_application_selected_both_ways_follows_the_resource_with_a_warning_event(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    # The annotations would allow 2.0.0; the resource allows 1.x.
    kube_api.store.put(application("both", {"image-list": f"{name}:2.x"}, images=[f"{name}:1.0.0"]))
    kube_api.store.put(resource(ref("both", image("web", f"{name}:1.x")), name="owner"))
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    assert images_of(kube_api, "both") == [f"{name}:1.1.0"]
    (event,) = events_of(kube_api, "Application", "both", CONFLICT_REASON)
    assert event["type"] == "Warning"
    assert "ImageUpdater 'owner' (spec.applicationRefs[0]" in event["message"]
    assert "annotations are ignored" in event["message"]
    assert "useAnnotations: true" in event["message"]


async def test_use_annotations_reads_the_annotations_without_a_conflict(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    kube_api.store.put(
        application("annotated", {"image-list": f"{name}:2.x"}, images=[f"{name}:1.0.0"])
    )
    kube_api.store.put(resource(ref("annotated", useAnnotations=True)))
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    assert images_of(kube_api, "annotated") == [f"{name}:2.0.0"]
    assert events_of(kube_api, "Application", "annotated", CONFLICT_REASON) == []
