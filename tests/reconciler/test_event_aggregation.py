"""A condition that repeats every cycle is one Event whose count grows, as client-go does it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from devcluster.faultregistry import FaultRegistry, Kind
from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.backoff import RepositoryBackoff
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import application, stored

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Clock:
    """Wall clock for the recorder and monotonic seconds for the back-off, moved together."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def monotonic(self) -> float:
        return (self.now - T0).total_seconds()

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def events(api: KubeAPI, kind: str | None = None) -> list[dict[str, Any]]:
    found = api.store.list("", None, "events", "argocd")
    return [dict(e) for e in found if kind is None or e["type"] == kind]


def event_writes(api: KubeAPI) -> tuple[int, int]:
    return (
        api.requests.count(verb="create", resource="events"),
        api.requests.count(verb="patch", resource="events"),
    )


async def test_fifty_cycles_of_the_same_registry_failure_are_one_event_with_an_exact_count(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    fault_registry: FaultRegistry,
    metrics: ReconcilerMetrics,
) -> None:
    host = fault_registry.url.removeprefix("http://")
    fault_registry.add_tags("broken/app", ["1.0.0", "1.1.0"])
    fault_registry.fail(10_000, status=503, repository="broken/app", kinds=[Kind.TAGS])
    conf = RegistriesConf.parse(
        f"registries:\n- name: faulty\n  prefix: {host}\n  api_url: {fault_registry.url}\n",
        source="test",
    )
    image = f"{host}/broken/app"
    kube_api.store.put(application("broken", {"image-list": image}, images=[f"{image}:1.0.0"]))
    clock = Clock()
    # Asked again every other cycle or so: both the real failure and the back-off's
    # replay of it must read the same.
    backoff = RepositoryBackoff(base=45, jitter=0, ceiling=90, clock=clock.monotonic)
    recorder = EventRecorder(cluster, clock=clock)
    settings = ClientSettings(max_retries=0, tag_list_ttl=0)
    async with ResolverService(conf, settings=settings) as resolver:
        cycle = Cycle(
            api=KubeApplications(cluster, metrics),
            resolve=resolver.resolve,
            metrics=metrics,
            events=recorder,
            settings=CycleSettings(),
            clock=clock,
            backoff=backoff,
        )
        for _ in range(50):
            result = await cycle.run([stored(kube_api, "broken")])
            assert result.errors == 1
            clock.advance(30)
        # 50 occurrences 30 s apart: the count was written every 5 minutes, not per cycle.
        [event] = events(kube_api, "Warning")
        assert event["reason"] == "ImageUpdateFailed"
        assert event["count"] == 41
        assert event["lastTimestamp"] == "2026-03-02T09:20:00Z"
        assert event["firstTimestamp"] == "2026-03-02T09:00:00Z"
        assert event_writes(kube_api) == (1, 4)
        for countdown in ("in a row", "next attempt", "skipped"):
            assert countdown not in event["message"]
        assert event["message"].startswith(f"{image}: registry {host}")

        # The registry recovers: the condition clears and the last occurrences are written.
        fault_registry.clear()
        clock.advance(600)
        healed = await cycle.run([stored(kube_api, "broken")])
    assert (healed.errors, healed.patches) == (0, 1)
    [event] = events(kube_api, "Warning")
    assert event["count"] == 50
    assert event["lastTimestamp"] == "2026-03-02T09:24:30Z"
    assert [e["reason"] for e in events(kube_api, "Normal")] == ["ImagesUpdated"]


async def test_invalid_annotations_repeated_every_cycle_are_one_event(
    kube_api: KubeAPI, cluster: kube.KubeClient, metrics: ReconcilerMetrics
) -> None:
    kube_api.store.put(application("typo", {"image-list": "web=nginx", "web.update-strategy": "x"}))
    clock = Clock()
    recorder = EventRecorder(cluster, clock=clock, aggregation_interval=dt.timedelta(minutes=5))
    cycle = Cycle(
        api=KubeApplications(cluster, metrics),
        resolve=_never_called,
        metrics=metrics,
        events=recorder,
        settings=CycleSettings(),
        clock=clock,
    )
    for _ in range(50):
        await cycle.run([stored(kube_api, "typo")])
        clock.advance(60)
    [event] = events(kube_api)
    assert event["reason"] == "InvalidConfiguration"
    # Written at creation and at minutes 5, 10, …, 45.
    assert event["count"] == 46
    assert event_writes(kube_api) == (1, 9)


async def test_a_deferred_update_keeps_one_event_across_midnight(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": "argocd"},
            "spec": {
                "syncWindows": [
                    {
                        "kind": "deny",
                        "schedule": "0 22 * * *",
                        "duration": "10h",
                        "applications": ["*"],
                    }
                ]
            },
        }
    )
    kube_api.store.put(application("night", {"image-list": image}, images=[f"{image}:1.0.0"]))
    clock = Clock()
    clock.now = dt.datetime(2026, 3, 2, 22, 30, tzinfo=dt.UTC)
    cycle = make_cycle(clock=clock)
    for _ in range(4):  # 22:30, 23:30, 00:30 and 01:30: the date of "08:00" is now today
        result = await cycle.run([stored(kube_api, "night")])
        assert result.deferred == 1
        clock.advance(3600)
    [event] = events(kube_api)
    assert event["reason"] == "UpdateDeferred"
    assert event["message"] == (
        "image update waits: deny window '0 22 * * *' (10h, UTC) is active; "
        "next allowed at 2026-03-03T08:00:00Z"
    )


async def test_a_changed_message_is_a_new_event_and_the_old_one_gets_its_final_count(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    clock = Clock()
    recorder = EventRecorder(cluster, clock=clock)
    app: Any = application("flaky", {})
    for _ in range(3):
        await recorder.record(app, "Warning", "ImageUpdateFailed", "registry a unreachable")
        clock.advance(10)
    assert event_writes(kube_api) == (1, 0)
    await recorder.record(app, "Warning", "ImageUpdateFailed", "registry b unreachable")
    by_message = {e["message"]: e for e in events(kube_api)}
    assert by_message["registry a unreachable"]["count"] == 3
    assert by_message["registry a unreachable"]["lastTimestamp"] == "2026-03-02T09:00:20Z"
    assert by_message["registry b unreachable"]["count"] == 1
    assert event_writes(kube_api) == (2, 1)


async def test_a_condition_that_cleared_and_came_back_is_a_new_event(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    recorder = EventRecorder(cluster, clock=Clock())
    app: Any = application("flaky", {})
    await recorder.record(app, "Warning", "ImageUpdateFailed", "registry a unreachable")
    await recorder.forget("argocd/flaky", "ImageUpdateFailed")
    await recorder.record(app, "Warning", "ImageUpdateFailed", "registry a unreachable")
    assert [e["count"] for e in events(kube_api)] == [1, 1]
    # Nothing was pending when it cleared, so clearing wrote nothing.
    assert event_writes(kube_api) == (2, 0)


async def test_an_event_the_cluster_expired_is_created_again_with_its_whole_count(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    clock = Clock()
    recorder = EventRecorder(cluster, clock=clock)
    app: Any = application("long", {})
    await recorder.record(app, "Warning", "ImageUpdateFailed", "registry a unreachable")
    [first] = events(kube_api)
    kube_api.store.delete("", "v1", "events", "argocd", first["metadata"]["name"])
    for _ in range(6):
        clock.advance(60)
        await recorder.record(app, "Warning", "ImageUpdateFailed", "registry a unreachable")
    [again] = events(kube_api)
    assert again["metadata"]["name"] == first["metadata"]["name"]
    assert (again["count"], again["firstTimestamp"]) == (6, first["firstTimestamp"])


async def test_each_image_update_is_an_event_of_its_own(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    recorder = EventRecorder(cluster, clock=Clock())
    app: Any = application("moving", {})
    for _ in range(2):
        await recorder.record(app, "Normal", "ImagesUpdated", "same", aggregate=False)
    assert [e["count"] for e in events(kube_api)] == [1, 1]


async def _never_called(*_args: Any) -> Any:
    raise AssertionError("an invalid Application must not be resolved")
