"""The shard fence in a cycle: a replica processes only the Applications of the shards it
holds, and one whose shard is lost mid-cycle is not written, however far it had got."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.application import Application
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from reconciler.shards import FencedApplications
from tests.reconciler.conftest import application, stored

NAMES = ("a", "b", "c", "d")


def build(
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
    owns: Callable[[str], bool],
    fence: Callable[[str], bool] | None = None,
) -> Cycle:
    api = KubeApplications(cluster, metrics)
    return Cycle(
        api=api if fence is None else FencedApplications(api, fence),
        resolve=resolver.resolve,
        metrics=metrics,
        events=EventRecorder(cluster),
        settings=CycleSettings(),
        clock=lambda: dt.datetime.now(dt.UTC),
        owns=owns,
    )


async def load(
    kube_api: KubeAPI, cluster: kube.KubeClient, seeded: Callable[[list[str]], Awaitable[str]]
) -> tuple[str, list[Application]]:
    image = await seeded(["1.0.0", "1.2.0"])
    for name in NAMES:
        kube_api.store.put(application(name, {"image-list": image}, images=[f"{image}:1.0.0"]))
    apps, _ = await KubeApplications(cluster, ReconcilerMetrics(CollectorRegistry())).list_all()
    return image, apps


def patched(kube_api: KubeAPI) -> set[str]:
    return {
        r.name
        for r in kube_api.requests.records
        if r.verb == "patch" and r.resource == "applications" and r.status == 200
    }


async def test_a_cycle_processes_only_the_applications_of_the_shards_held(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
    seeded: Callable[[list[str]], Awaitable[str]],
) -> None:
    image, apps = await load(kube_api, cluster, seeded)
    mine = {"argocd/a", "argocd/c"}
    result = await build(cluster, resolver, metrics, mine.__contains__).run(apps)
    assert patched(kube_api) == {"a", "c"}
    assert result.patches == 2
    assert stored(kube_api, "b")["spec"]["source"]["kustomize"] == {}
    assert stored(kube_api, "a")["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.2.0"]


async def test_a_shard_lost_before_an_application_is_decided_writes_nothing(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
    seeded: Callable[[list[str]], Awaitable[str]],
) -> None:
    _, apps = await load(kube_api, cluster, seeded)
    asked: Counter[str] = Counter()

    def owns(key: str) -> bool:  # held when the cycle starts, lost right after
        asked[key] += 1
        return asked[key] == 1

    result = await build(cluster, resolver, metrics, owns).run(apps)
    assert patched(kube_api) == set()
    assert result.patches == 0
    skipped = metrics.applications_skipped.labels("not_leader")._value.get()
    assert skipped == len(NAMES)


async def test_a_shard_lost_between_the_decision_and_the_patch_is_refused_before_sending(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
    seeded: Callable[[list[str]], Awaitable[str]],
) -> None:
    _, apps = await load(kube_api, cluster, seeded)
    held = {"argocd/a", "argocd/b", "argocd/c", "argocd/d"}

    def fence(key: str) -> bool:  # the last check, right before the write: lost by then
        return key == "argocd/a"

    result = await build(cluster, resolver, metrics, held.__contains__, fence).run(apps)
    assert patched(kube_api) == {"a"}
    assert result.patches == 1
    assert result.failed_apps == {"argocd/b", "argocd/c", "argocd/d"}
