"""The control loop: prompt reaction to changes, relists, once mode, and leader hand-over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from imageupdater import kube
from reconciler.apps_api import KubeApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle
from reconciler.leader import LeaderElector
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import PREFIX, application, stored


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def images_of(api: KubeAPI, name: str) -> list[str]:
    return list(stored(api, name)["spec"]["source"].get("kustomize", {}).get("images", []))


async def test_a_changed_annotation_is_processed_promptly_not_an_interval_later(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    registry: LocalRegistry,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    kube_api.store.put(
        application("watched", {"image-list": f"{image}:~1.0"}, images=[f"{image}:1.0.0"])
    )
    api = KubeApplications(cluster, metrics)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, debounce=0.05),
    )
    task = asyncio.create_task(controller.run())
    try:
        await eventually(lambda: len(controller.cycles) == 1)
        assert images_of(kube_api, "watched") == []  # ~1.0 allows only 1.0.0, which runs
        await cluster.patch(
            kube.APPLICATIONS,
            "argocd",
            "watched",
            {"metadata": {"annotations": {PREFIX + "image-list": f"{image}:1.x"}}},
        )
        await eventually(lambda: images_of(kube_api, "watched") == [f"{image}:1.1.0"])
        assert controller.cycles[-1].images_updated == 1
        assert (
            metrics.registry.get_sample_value("argocd_image_updater_applications_watched_total")
            == 1.0
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_interval_zero_runs_one_cycle_and_returns(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("once", {"image-list": image}, images=[f"{image}:1.0.0"]))
    kube_api.store.put(application("ignored", {"image-list": image}, images=[f"{image}:1.0.0"]))
    api = KubeApplications(cluster, metrics)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=0, name_patterns=["on*"]),
    )
    await asyncio.wait_for(controller.run(), 10)
    assert images_of(kube_api, "once") == [f"{image}:1.1.0"]
    assert images_of(kube_api, "ignored") == []


async def test_only_the_leader_writes_and_a_follower_takes_over(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    def elector(identity: str) -> LeaderElector:
        return LeaderElector(
            cluster,
            namespace="argocd",
            name="image-updater-leader",
            identity=identity,
            lease_duration=1.0,
            renew_deadline=0.6,
            retry_period=0.1,
        )

    first, second = elector("replica-a"), elector("replica-b")
    run_first = asyncio.create_task(first.run())
    await eventually(first.is_leader)
    run_second = asyncio.create_task(second.run())
    await asyncio.sleep(0.5)
    assert first.is_leader() and not second.is_leader()
    run_first.cancel()  # the leader goes away (and releases the lease)
    with contextlib.suppress(asyncio.CancelledError):
        await run_first
    assert not first.is_leader()
    await eventually(second.is_leader, within=3)
    lease: dict[str, Any] = await cluster.get(kube.LEASES, "argocd", "image-updater-leader")
    assert lease["spec"]["holderIdentity"] == "replica-b"
    run_second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run_second


async def test_a_leader_that_cannot_renew_stops_writing_before_the_lease_expires(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    clock = [100.0]
    leader = LeaderElector(
        cluster,
        namespace="argocd",
        name="lease",
        identity="a",
        lease_duration=15,
        renew_deadline=10,
        retry_period=2,
        monotonic=lambda: clock[0],
    )
    assert await leader.try_acquire_or_renew()
    assert leader.is_leader()
    kube_api.faults.inject(verb="get", resource="leases", status=500, times=10)
    clock[0] += 5
    await leader.try_acquire_or_renew()
    assert leader.is_leader()  # within the renew deadline
    clock[0] += 6
    assert not leader.is_leader()  # 11 s since the last renewal: fenced, no more writes


async def test_an_expired_watch_relists_and_keeps_reacting(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(
        application("relisted", {"image-list": f"{image}:1.0.0"}, images=[f"{image}:1.0.0"])
    )
    kube_api.faults.inject(verb="watch", resource="applications", status=410, times=1)
    api = KubeApplications(cluster, metrics)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, debounce=0.05),
    )
    task = asyncio.create_task(controller.run())
    try:
        await eventually(lambda: kube_api.requests.count(verb="list", resource="applications") >= 2)
        await eventually(lambda: len(controller.cycles) >= 1)
        await cluster.patch(
            kube.APPLICATIONS,
            "argocd",
            "relisted",
            {"metadata": {"annotations": {PREFIX + "image-list": image}}},
        )
        await eventually(lambda: images_of(kube_api, "relisted") == [f"{image}:1.1.0"])
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
