"""Sync windows defer and release updates; a failing registry only affects its own images."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from devcluster.faultregistry import FaultRegistry, Kind
from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater import kube
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.backoff import RepositoryBackoff
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import application, seed_tags, stored


def project(windows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "default", "namespace": "argocd"},
        "spec": {"syncWindows": windows},
    }


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def test_a_deny_window_defers_the_update_until_it_closes(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(
        project(
            [{"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", "applications": ["*"]}]
        )
    )
    kube_api.store.put(application("windowed", {"image-list": image}, images=[f"{image}:1.0.0"]))
    clock = Clock(dt.datetime(2026, 3, 2, 22, 30, tzinfo=dt.UTC))
    cycle = make_cycle(clock=clock)

    held = await cycle.run([stored(kube_api, "windowed")])

    assert (held.deferred, held.patches) == (1, 0)
    assert held.retry_at == dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC)
    events = kube_api.store.list("", None, "events", "argocd")
    assert [e["reason"] for e in events] == ["UpdateDeferred"]
    assert "deny" in events[0]["message"]

    clock.now = dt.datetime(2026, 3, 2, 23, 0, 1, tzinfo=dt.UTC)
    released = await cycle.run([stored(kube_api, "windowed")])
    assert (released.deferred, released.patches) == (0, 1)
    assert stored(kube_api, "windowed")["spec"]["source"]["kustomize"]["images"] == [
        f"{image}:1.1.0"
    ]


async def test_a_rate_limited_or_hanging_registry_only_holds_back_its_own_images(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    fault_registry: FaultRegistry,
    metrics: ReconcilerMetrics,
) -> None:
    good = f"{registry.host}/{unique_repo}"
    await seed_tags(seeder, unique_repo, ["1.0.0", "1.1.0"])
    fault_host = fault_registry.url.removeprefix("http://")
    fault_registry.add_tags("slow/app", ["2.0.0", "2.1.0"])
    fault_registry.add_tags("limited/app", ["3.0.0", "3.1.0"])
    fault_registry.slow(5.0, repository="slow/app")
    fault_registry.rate_limit(100, retry_after=120, repository="limited/app")
    conf = RegistriesConf.parse(
        "registries:\n"
        f"- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
        f"- name: faulty\n  prefix: {fault_host}\n  api_url: {fault_registry.url}\n",
        source="test",
    )
    kube_api.store.put(application("good", {"image-list": good}, images=[f"{good}:1.0.0"]))
    kube_api.store.put(
        application(
            "slow",
            {"image-list": f"{fault_host}/slow/app"},
            images=[f"{fault_host}/slow/app:2.0.0"],
        )
    )
    kube_api.store.put(
        application(
            "limited",
            {"image-list": f"{fault_host}/limited/app"},
            images=[f"{fault_host}/limited/app:3.0.0"],
        )
    )
    settings = ClientSettings(request_timeout=0.5, max_retry_after=1.0, max_retries=1, backoff=0.05)
    async with ResolverService(conf, settings=settings) as resolver:
        cycle = Cycle(
            api=KubeApplications(cluster, metrics),
            resolve=resolver.resolve,
            metrics=metrics,
            events=EventRecorder(cluster),
            settings=CycleSettings(),
        )
        started = dt.datetime.now(dt.UTC)
        result = await cycle.run([stored(kube_api, n) for n in ("good", "slow", "limited")])
        elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds()
    assert elapsed < 4.0
    assert (result.patches, result.images_updated, result.errors) == (1, 1, 2)
    assert stored(kube_api, "good")["spec"]["source"]["kustomize"]["images"] == [f"{good}:1.1.0"]
    warnings = {
        e["involvedObject"]["name"]: e["message"]
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["type"] == "Warning"
    }
    assert set(warnings) == {"slow", "limited"}
    assert (
        metrics.registry.get_sample_value(
            "argocd_image_updater_images_errors_total",
            {
                "application": "argocd/limited",
                "image_updater_cr_name": "",
                "image_updater_cr_namespace": "",
            },
        )
        == 1.0
    )


async def test_unreadable_sync_windows_hold_updates_back_and_say_why(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    bad_window = {"kind": "deny", "schedule": "0 25 * * *", "duration": "1h", "applications": ["*"]}
    kube_api.store.put(project([bad_window]))
    kube_api.store.put(application("frozen", {"image-list": image}, images=[f"{image}:1.0.0"]))
    result = await make_cycle().run([stored(kube_api, "frozen")])
    assert (result.patches, result.errors) == (0, 1)
    events = kube_api.store.list("", None, "events", "argocd")
    assert [e["reason"] for e in events] == ["ImageUpdateFailed"]
    assert "hour field '25'" in events[0]["message"]


async def test_a_repository_that_keeps_failing_is_not_asked_again_until_its_pause_ends(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    fault_registry: FaultRegistry,
    metrics: ReconcilerMetrics,
) -> None:
    host = fault_registry.url.removeprefix("http://")
    fault_registry.add_tags("broken/app", ["1.0.0", "1.1.0"])
    fault_registry.fail(1000, status=503, repository="broken/app", kinds=["tags"])
    conf = RegistriesConf.parse(
        f"registries:\n- name: faulty\n  prefix: {host}\n  api_url: {fault_registry.url}\n",
        source="test",
    )
    image = f"{host}/broken/app"
    kube_api.store.put(application("broken", {"image-list": image}, images=[f"{image}:1.0.0"]))
    now = [0.0]
    backoff = RepositoryBackoff(base=60, jitter=0, clock=lambda: now[0])
    settings = ClientSettings(max_retries=0, tag_list_ttl=0)
    async with ResolverService(conf, settings=settings) as resolver:
        cycle = Cycle(
            api=KubeApplications(cluster, metrics),
            resolve=resolver.resolve,
            metrics=metrics,
            events=EventRecorder(cluster),
            settings=CycleSettings(),
            backoff=backoff,
        )
        first = await cycle.run([stored(kube_api, "broken")])
        asked = fault_registry.count(Kind.TAGS, repository="broken/app")
        now[0] = 30.0
        second = await cycle.run([stored(kube_api, "broken")])
        assert fault_registry.count(Kind.TAGS, repository="broken/app") == asked
        now[0] = 61.0
        await cycle.run([stored(kube_api, "broken")])
        assert fault_registry.count(Kind.TAGS, repository="broken/app") > asked
    assert first.errors == second.errors == 1
    assert backoff.failures(("127.0.0.1:" + host.split(":")[1], "broken/app")) == 2
