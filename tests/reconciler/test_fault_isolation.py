"""A registry that hangs holds back only its own images, and only until the cycle's deadline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from devcluster.faultregistry import FaultRegistry
from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater import kube
from imageupdater.application import Application
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings
from imageupdater.resolver import Resolution
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.backoff import RepositoryBackoff
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import PREFIX, application, seed_tags, stored


class ObservedApplications(KubeApplications):
    """The real Kubernetes adapter, noting when each Application's patch was answered."""

    def __init__(self, client: kube.KubeClient, metrics: ReconcilerMetrics) -> None:
        super().__init__(client, metrics)
        self.patched: dict[str, asyncio.Event] = {}
        self.at: dict[str, float] = {}

    def written(self, name: str) -> asyncio.Event:
        return self.patched.setdefault(name, asyncio.Event())

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Application:
        answer = await super().patch(namespace, name, patch)
        self.at[name] = asyncio.get_running_loop().time()
        self.written(name).set()
        return answer


def both(registry: LocalRegistry, fault_registry: FaultRegistry) -> RegistriesConf:
    fault_host = fault_registry.url.removeprefix("http://")
    return RegistriesConf.parse(
        "registries:\n"
        f"- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
        f"- name: hanging\n  prefix: {fault_host}\n  api_url: {fault_registry.url}\n",
        source="test",
    )


# The client would wait 20 s; the cycle gives the registry 2 s.
PATIENT = ClientSettings(request_timeout=20, max_retries=0)


async def test_an_application_on_a_fast_registry_is_patched_while_another_waits_on_a_hanging_one(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    fault_registry: FaultRegistry,
    metrics: ReconcilerMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fast = f"{registry.host}/{unique_repo}"
    await seed_tags(seeder, unique_repo, ["1.0.0", "1.1.0"])
    hanging_host = fault_registry.url.removeprefix("http://")
    hanging = f"{hanging_host}/hang/app"
    fault_registry.add_tags("hang/app", ["2.0.0", "2.1.0"])
    fault_registry.slow(30.0, repository="hang/app")
    kube_api.store.put(application("a", {"image-list": hanging}, images=[f"{hanging}:2.0.0"]))
    kube_api.store.put(application("b", {"image-list": fast}, images=[f"{fast}:1.0.0"]))
    api = ObservedApplications(cluster, metrics)
    backoff = RepositoryBackoff()
    async with ResolverService(both(registry, fault_registry), settings=PATIENT) as resolver:
        cycle = Cycle(
            api=api,
            resolve=resolver.resolve,
            scope=resolver.cycle,
            metrics=metrics,
            events=EventRecorder(cluster),
            settings=CycleSettings(resolve_deadline=2.0),
            backoff=backoff,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        with caplog.at_level(logging.WARNING, logger="image_updater.reconciler"):
            running = asyncio.create_task(cycle.run([stored(kube_api, "a"), stored(kube_api, "b")]))
            await asyncio.wait_for(api.written("b").wait(), timeout=1.5)
            # B is in, A is still waiting on its registry.
            assert not running.done()
            assert kube_api.requests.count(verb="patch", resource="applications", name="a") == 0
            result = await asyncio.wait_for(running, timeout=5.0)
        finished = loop.time()
    assert api.at["b"] - started < 1.5
    assert finished - started >= 2.0
    assert (result.applications, result.patches, result.images_updated, result.errors) == (
        2,
        1,
        1,
        1,
    )
    assert stored(kube_api, "b")["spec"]["source"]["kustomize"]["images"] == [f"{fast}:1.1.0"]
    assert "images" not in stored(kube_api, "a")["spec"]["source"]["kustomize"]
    [warning] = [
        e for e in kube_api.store.list("", None, "events", "argocd") if e["type"] == "Warning"
    ]
    assert warning["involvedObject"]["name"] == "a"
    # The Event is for the Application's author: unreachable, not how (hanging, closed, TLS).
    assert warning["message"] == f"{hanging}: registry {hanging_host} unreachable"
    # The failure is in the log too, with the detail, under the Application; it counts for
    # back-off.
    [logged] = [r for r in caplog.records if getattr(r, "application", None) == "argocd/a"]
    assert hanging in logged.getMessage()
    assert "did not answer within 2s" in logged.getMessage()
    assert backoff.failures(("127.0.0.1:" + hanging_host.split(":")[1], "hang/app")) == 1


async def test_lookups_queued_behind_a_silent_registry_fail_at_once(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    fault_registry: FaultRegistry,
    metrics: ReconcilerMetrics,
) -> None:
    host = fault_registry.url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: hanging\n  prefix: {host}\n  api_url: {fault_registry.url}\n",
        source="test",
    )
    names = [f"app{i}" for i in range(7)]
    for name in names:
        fault_registry.add_tags(f"hang/{name}", ["1.0.0", "1.1.0"])
        image = f"{host}/hang/{name}"
        kube_api.store.put(application(name, {"image-list": image}, images=[f"{image}:1.0.0"]))
    fault_registry.slow(30.0)
    backoff = RepositoryBackoff()
    async with ResolverService(conf, settings=PATIENT) as resolver:
        cycle = Cycle(
            api=KubeApplications(cluster, metrics),
            resolve=resolver.resolve,
            metrics=metrics,
            events=EventRecorder(cluster),
            # One write slot means five lookup slots per registry: two lookups queue.
            settings=CycleSettings(max_concurrency=1, resolve_deadline=1.5),
            backoff=backoff,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await asyncio.wait_for(
            cycle.run([stored(kube_api, n) for n in names]), timeout=5.0
        )
        elapsed = loop.time() - started
    # Five lookups waited out one deadline together; the two queued behind them did not
    # wait out a second one.
    assert 1.5 <= elapsed < 2.5
    assert (result.errors, result.patches) == (7, 0)
    port = host.split(":")[1]
    assert all(backoff.failures((f"127.0.0.1:{port}", f"hang/{n}")) == 1 for n in names)


async def test_a_registry_slow_for_some_repositories_but_answering_others_is_not_silent(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    fault_registry: FaultRegistry,
    metrics: ReconcilerMetrics,
) -> None:
    host = fault_registry.url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: mixed\n  prefix: {host}\n  api_url: {fault_registry.url}\n",
        source="test",
    )
    hanging = [f"hang{i}" for i in range(4)]
    steady = [f"steady{i}" for i in range(5)]
    for name in hanging + steady:
        fault_registry.add_tags(f"r/{name}", ["1.0.0", "1.1.0"])
        image = f"{host}/r/{name}"
        kube_api.store.put(application(name, {"image-list": image}, images=[f"{image}:1.0.0"]))
    for name in hanging:
        fault_registry.slow(30.0, repository=f"r/{name}")
    for name in steady:
        fault_registry.slow(0.4, repository=f"r/{name}")
    async with ResolverService(conf, settings=PATIENT) as resolver:
        cycle = Cycle(
            api=KubeApplications(cluster, metrics),
            resolve=resolver.resolve,
            metrics=metrics,
            events=EventRecorder(cluster),
            # Five lookup slots: four hang, the steady ones take turns in the fifth and are
            # still queued when the hanging ones give up.
            settings=CycleSettings(max_concurrency=1, resolve_deadline=1.0),
        )
        result = await asyncio.wait_for(
            cycle.run([stored(kube_api, n) for n in hanging + steady]), timeout=10.0
        )
    assert (result.errors, result.patches) == (4, 5)


async def test_a_conflicting_edit_that_adds_an_image_has_it_resolved_inside_the_cycle(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    metrics: ReconcilerMetrics,
) -> None:
    web, api_repo = f"{unique_repo}-web", f"{unique_repo}-api"
    await seed_tags(seeder, web, ["1.0.0", "1.1.0"])
    await seed_tags(seeder, api_repo, ["3.0.0", "3.2.0"])
    web_image, api_image = f"{registry.host}/{web}", f"{registry.host}/{api_repo}"
    live = [f"{web_image}:1.0.0", f"{api_image}:3.0.0"]
    kube_api.store.put(application("grown", {"image-list": f"web={web_image}"}, images=live))
    seen_by_cycle = stored(kube_api, "grown")
    edited = stored(kube_api, "grown")
    edited["metadata"]["annotations"][PREFIX + "image-list"] = f"web={web_image},api={api_image}"
    kube_api.store.put(edited)  # lands after the cycle listed the Application
    conf = RegistriesConf.parse(
        f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n",
        source="test",
    )
    async with ResolverService(conf) as resolver:
        inside = [False]
        outside_calls: list[str] = []

        @contextlib.contextmanager
        def scope() -> Iterator[None]:
            with resolver.cycle():
                inside[0] = True
                try:
                    yield
                finally:
                    inside[0] = False

        async def resolve(policy: ImagePolicy, current: str | None) -> Resolution:
            if not inside[0]:
                outside_calls.append(policy.image.full_name)
            return await resolver.resolve(policy, current)

        cycle = Cycle(
            api=KubeApplications(cluster, metrics),
            resolve=resolve,
            scope=scope,
            metrics=metrics,
            events=EventRecorder(cluster),
            settings=CycleSettings(),
        )
        result = await cycle.run([seen_by_cycle])
    assert outside_calls == []
    assert (result.conflicts, result.patches, result.images_updated) == (1, 1, 2)
    assert stored(kube_api, "grown")["spec"]["source"]["kustomize"]["images"] == [
        f"{web_image}:1.1.0",
        f"{api_image}:3.2.0",
    ]


def test_a_long_retry_after_pauses_no_longer_than_the_ceiling() -> None:
    backoff = RepositoryBackoff(base=30, ceiling=1800, jitter=0.5, clock=lambda: 0.0)
    assert backoff.failed("limited", retry_after=3600) == 1800
    assert backoff.remaining("limited") == 1800


def test_jitter_never_stretches_a_pause_past_the_ceiling() -> None:
    backoff = RepositoryBackoff(base=30, ceiling=60, jitter=0.5, clock=lambda: 0.0, rng=lambda: 1)
    assert [backoff.failed("repo") for _ in range(4)] == [37.5, 60, 60, 60]
