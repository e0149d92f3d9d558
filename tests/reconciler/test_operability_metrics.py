"""The reconciler's operator metrics, in-process: when a cycle last completed, and watches
started over by reason."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.application import Application
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle, CycleResult, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from tests.kube_activity import KubeActivity
from tests.reconciler.conftest import application

COMPLETED = "image_updater_last_successful_cycle_timestamp_seconds"
RESTARTS = "image_updater_watch_restarts_total"


async def test_a_completed_cycle_records_its_time_even_when_an_application_failed(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("fine", {"image-list": image}, images=[f"{image}:1.0.0"]))
    kube_api.store.put(application("typo", {"image-list": image, "update-stratgy": "semver"}))
    api = KubeApplications(cluster, metrics)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=0),
        wall_clock=lambda: 1_800_000_000.5,
    )
    assert metrics.registry.get_sample_value(COMPLETED) == 0.0  # before the first cycle
    await asyncio.wait_for(controller.run(), 10)
    (result,) = controller.cycles
    assert result.errors == 1 and result.images_updated == 1
    assert metrics.registry.get_sample_value(COMPLETED) == 1_800_000_000.5


class HangingCycle(Cycle):
    """A cycle that never completes (a registry that hangs past every deadline)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.started = asyncio.Event()

    async def run(self, apps: Sequence[Application], *, trigger: str = "resync") -> CycleResult:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_cycle_that_does_not_complete_leaves_the_time_alone(
    cluster: kube.KubeClient, resolver: ResolverService, metrics: ReconcilerMetrics
) -> None:
    api = KubeApplications(cluster, metrics)
    cycle = HangingCycle(
        api=api,
        resolve=resolver.resolve,
        metrics=metrics,
        events=EventRecorder(None),
        settings=CycleSettings(),
    )
    controller = Controller(
        api=api, cycle=cycle, metrics=metrics, settings=ControllerSettings(interval=0)
    )
    task = asyncio.create_task(controller.run_once())
    await cycle.started.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert metrics.registry.get_sample_value(COMPLETED) == 0.0


async def test_an_expired_watch_and_a_failed_one_are_counted_by_reason(
    kube_api: KubeAPI,
    kube_activity: KubeActivity,
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    # The first watch expires (410, relisted); the one after that fails; the third holds.
    kube_api.faults.inject(verb="watch", resource="applications", status=410)
    kube_api.faults.inject(verb="watch", resource="applications", status=500)
    api = KubeApplications(cluster, metrics)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600),
    )

    def restarts(reason: str) -> float | None:
        return metrics.registry.get_sample_value(RESTARTS, {"reason": reason})

    assert (restarts("expired"), restarts("error")) == (0.0, 0.0)
    task = asyncio.create_task(controller.run())
    try:
        await kube_activity.until(
            lambda: kube_api.faults.pending == 0 and kube_api.store.watchers >= 1,
            "both faults spent and a watch open again",
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert (restarts("expired"), restarts("error")) == (1.0, 1.0)
    # One list at the start, one after each restart.
    assert kube_api.requests.count(verb="list", resource="applications") == 3
